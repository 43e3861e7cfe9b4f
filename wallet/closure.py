"""Closed wallets (身后): after a death a person's wallet takes no new writes, from any domain."""

from __future__ import annotations

from uuid import UUID

from api.kernel.db import Conn
from wallet.errors import WalletClosed


async def closed_among(conn: Conn, person_ids: list[UUID]) -> set[UUID]:
    """Which of these persons' wallets are closed."""
    rows = await conn.fetch("SELECT person_id FROM wallet_closure WHERE person_id = ANY($1::uuid[])", person_ids)
    return {r["person_id"] for r in rows}


async def ensure_open(conn: Conn, person_id: UUID) -> None:
    """409 ``wallet_closed`` when the person's wallet was closed at their death."""
    if await closed_among(conn, [person_id]):
        raise WalletClosed("the holder's wallet was closed at their death")
