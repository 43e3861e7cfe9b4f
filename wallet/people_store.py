"""Closed wallets and their family readers: SQL next to its caller."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from api.kernel.db import Conn

# --- closed wallets ------------------------------------------------------------------------------------


async def closed_at(conn: Conn, person_id: UUID) -> datetime | None:
    return await conn.fetchval("SELECT closed_at FROM wallet_closure WHERE person_id = $1", person_id)


CLOSE = """
INSERT INTO wallet_closure (person_id, closed_at, source) VALUES ($1, $2, $3)
ON CONFLICT ON CONSTRAINT wallet_closure_pkey DO NOTHING
RETURNING closed_at
"""


async def close_wallet(conn: Conn, person_id: UUID, *, source: str, now: datetime) -> bool:
    """Close a deceased person's wallet; False when it was closed already."""
    return await conn.fetchval(CLOSE, person_id, now, source) is not None


ADD_READER = """
INSERT INTO wallet_family_reader (person_id, reader_person_id, application_id, since) VALUES ($1, $2, $3, $4)
ON CONFLICT ON CONSTRAINT wallet_family_reader_pkey DO NOTHING
"""


async def add_family_reader(conn: Conn, person_id: UUID, reader: UUID, *, application_id: UUID, now: datetime) -> None:
    await conn.execute(ADD_READER, person_id, reader, application_id, now)


async def is_family_reader(conn: Conn, person_id: UUID, reader: UUID) -> bool:
    query = "SELECT EXISTS (SELECT 1 FROM wallet_family_reader WHERE person_id = $1 AND reader_person_id = $2)"
    return await conn.fetchval(query, person_id, reader)


# A family reader is placed with the reader (their list is one shard's); the closures with the closed wallets.
FAMILY_WALLETS = """
SELECT person_id, since FROM wallet_family_reader WHERE reader_person_id = $1 ORDER BY since, person_id
"""
CLOSURES = "SELECT person_id, closed_at FROM wallet_closure WHERE person_id = ANY($1::uuid[])"


async def family_wallets(conn: Conn, reader: UUID) -> list[tuple[UUID, datetime, datetime]]:
    """The closed wallets ``reader`` may read: ``(person_id, since, closed_at)``."""
    readable = await conn.fetch(FAMILY_WALLETS, reader)
    if not readable:
        return []
    closed = {r["person_id"]: r["closed_at"] for r in await conn.fetch(CLOSURES, [r["person_id"] for r in readable])}
    return [(r["person_id"], r["since"], closed[r["person_id"]]) for r in readable if r["person_id"] in closed]
