"""The persons whose wallets a caller keeps or may read: dependents, and deceased family members."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from api import persons
from api.crypto import Keyring
from api.wallet import people_store
from api.wallet.models import Dependent


async def list_dependents(conn: asyncpg.Connection, keyring: Keyring, me: UUID, *, now: datetime) -> list[Dependent]:
    """Active dependents of ``me`` first, then the closed wallets ``me`` may read as family."""
    out = []
    for r in await people_store.dependents(conn, me, now=now):
        view = await persons.get_person_view(conn, keyring, r["dependent_person_id"])
        assert view is not None
        out.append(Dependent(
            person_id=view.id, name_masked=view.name_masked, id_number_masked=view.id_number_masked,
            relation="guardian", source=r["source"], since=r["since"], until=r["until"],
            wallet_closed=await people_store.closed_at(conn, view.id) is not None,
        ))
    for r in await people_store.family_wallets(conn, me):
        view = await persons.get_person_view(conn, keyring, r["person_id"])
        assert view is not None
        out.append(Dependent(
            person_id=view.id, name_masked=view.name_masked, id_number_masked=view.id_number_masked,
            relation="family_of_deceased", source="after_death_bundle", since=r["since"], until=None,
            wallet_closed=True,
        ))
    return out
