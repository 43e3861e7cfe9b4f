"""Guardianship as the wallet sees it, closed wallets and their family readers: SQL next to its caller.

A guardianship is active from ``since`` until ``until``, and — unless a department kept it past
majority — only while the dependent is under 18 by ``born_on`` (dates in China). The coming-of-age
sweep also writes ``until`` on the 18th birthday, so ``auth.persons.is_guardian`` (which reads
``until`` only) agrees once it has run; the queries here do not wait for it.

A guardianship carries its dependent's birth date (``dependent_born_on``, written with it and when the date is
learnt): on a Citus cluster guardianships sit on the guardian's shard and the dependent's person row on
theirs, so a guardian's dependents are read on one shard, without joining the person.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from api.kernel.db import Conn, one
from wallet.service import CHINA

ACTIVE = """
g.since <= $2 AND (g.until IS NULL OR g.until > $2)
AND (g.beyond_majority OR g.dependent_born_on IS NULL OR (g.dependent_born_on + interval '18 years')::date > $3)
"""

DEPENDENTS = f"""
SELECT g.dependent_person_id, g.source, g.since, g.until
FROM guardianship g
WHERE g.guardian_person_id = $1 AND {ACTIVE}
ORDER BY g.since, g.dependent_person_id
"""


def _today(now: datetime) -> date:
    return now.astimezone(CHINA).date()


async def dependents(conn: Conn, guardian: UUID, *, now: datetime) -> list[asyncpg.Record]:
    """Active guardianships of ``guardian``: dependent_person_id, source, since, until."""
    return await conn.fetch(DEPENDENTS, guardian, now, _today(now))


IS_GUARDIAN = f"""
SELECT EXISTS (
    SELECT 1 FROM guardianship g
    WHERE g.guardian_person_id = $1 AND g.dependent_person_id = $4 AND {ACTIVE}
)
"""


async def is_guardian(conn: Conn, guardian: UUID, dependent: UUID, *, now: datetime) -> bool:
    return await conn.fetchval(IS_GUARDIAN, guardian, now, _today(now), dependent)


GUARDIANS = f"""
SELECT g.guardian_person_id FROM guardianship g
WHERE g.dependent_person_id = $1 AND {ACTIVE}
ORDER BY g.guardian_person_id
"""


async def guardians(conn: Conn, dependent: UUID, *, now: datetime) -> list[UUID]:
    return [r[0] for r in await conn.fetch(GUARDIANS, dependent, now, _today(now))]


UPSERT_GUARDIANSHIP = """
INSERT INTO guardianship AS g (guardian_person_id, dependent_person_id, source, since, until, beyond_majority,
                               department_id, basis, dependent_born_on)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT ON CONSTRAINT guardianship_pkey DO UPDATE SET
    source = EXCLUDED.source, since = EXCLUDED.since, until = EXCLUDED.until,
    beyond_majority = EXCLUDED.beyond_majority, department_id = EXCLUDED.department_id, basis = EXCLUDED.basis,
    dependent_born_on = EXCLUDED.dependent_born_on
RETURNING guardian_person_id, dependent_person_id, source, basis, since, until, beyond_majority, (xmax = 0) AS created
"""


async def set_guardianship(
    conn: Conn,
    guardian: UUID,
    dependent: UUID,
    *,
    source: str,
    since: datetime,
    until: datetime | None,
    beyond_majority: bool,
    department_id: UUID,
    basis: str,
    dependent_born_on: date | None,
) -> asyncpg.Record:
    """Create or replace the guardianship of the pair; ``created`` says which."""
    return one(
        await conn.fetchrow(
            UPSERT_GUARDIANSHIP,
            guardian,
            dependent,
            source,
            since,
            until,
            beyond_majority,
            department_id,
            basis,
            dependent_born_on,
        ),
        "upserted guardianship",
    )


async def get_born_on(conn: Conn, person_id: UUID) -> date | None:
    return await conn.fetchval("SELECT born_on FROM person WHERE id = $1", person_id)


async def fill_born_on(conn: Conn, person_id: UUID, born_on: date) -> None:
    """Record a birth date read from the ID number where the person has none yet, and in their guardianships
    as a dependent (on a cluster, a statement on every shard: only when the person's date was unknown)."""
    filled = await conn.fetchval(
        "UPDATE person SET born_on = $2 WHERE id = $1 AND born_on IS NULL RETURNING true", person_id, born_on
    )
    if filled:
        await conn.execute(
            "UPDATE guardianship SET dependent_born_on = $2 WHERE dependent_person_id = $1 AND dependent_born_on IS NULL",
            person_id,
            born_on,
        )


# The 18th birthday starts at midnight in China; 29 February birthdays count from 28 February, as
# adding an interval does here and ``service.comes_of_age`` does in Python.
END_AT_MAJORITY = """
UPDATE guardianship g
SET until = ((g.dependent_born_on + interval '18 years')::date)::timestamp AT TIME ZONE 'Asia/Shanghai'
WHERE g.until IS NULL AND NOT g.beyond_majority AND g.dependent_born_on IS NOT NULL
RETURNING g.guardian_person_id, g.dependent_person_id, g.until
"""


async def end_at_majority(conn: Conn) -> list[asyncpg.Record]:
    """Give every open guardianship of a person with a known birth date its end at majority."""
    return await conn.fetch(END_AT_MAJORITY)


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
