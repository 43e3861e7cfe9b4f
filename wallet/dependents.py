"""The persons whose wallets a caller keeps or may read: dependents, and deceased family members."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import auth
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from wallet import people_store
from wallet.models import Dependent


async def _dependent(conn: Conn, keyring: Keyring, person_id: UUID, **relation: Any) -> Dependent:
    view = await auth.get_person_view(conn, keyring, person_id)
    assert view is not None
    return Dependent(
        person_id=view.id, name_masked=view.name_masked, id_number_masked=view.id_number_masked, **relation
    )


async def list_dependents(conn: Conn, keyring: Keyring, me: UUID, *, now: datetime) -> list[Dependent]:
    """Active dependents of ``me`` first, then the closed wallets ``me`` may read as family."""
    out = [
        await _dependent(
            conn,
            keyring,
            r["dependent_person_id"],
            relation="guardian",
            source=r["source"],
            since=r["since"],
            until=r["until"],
            wallet_closed=await people_store.closed_at(conn, r["dependent_person_id"]) is not None,
        )
        for r in await auth.active_dependents(conn, me, now=now)
    ]
    for person_id, since, _closed_at in await people_store.family_wallets(conn, me):
        out.append(
            await _dependent(
                conn,
                keyring,
                person_id,
                relation="family_of_deceased",
                source="after_death_bundle",
                since=since,
                until=None,
                wallet_closed=True,
            )
        )
    return out
