"""Guardianship as the wallet sees it, closed wallets and their family readers: SQL next to its caller.

A guardianship is active from ``since`` until ``until``, and — unless a department kept it past
majority — only while the dependent is under 18 by ``born_on`` (dates in China). The coming-of-age
sweep also writes ``until`` on the 18th birthday, so ``auth.persons.is_guardian`` (which reads
``until`` only) agrees once it has run; the queries here do not wait for it.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from api.kernel.db import Conn, one
from wallet.service import CHINA

ACTIVE = """
g.since <= $2 AND (g.until IS NULL OR g.until > $2)
AND (g.beyond_majority OR p.born_on IS NULL OR (p.born_on + interval '18 years')::date > $3)
"""

DEPENDENTS = f"""
SELECT g.dependent_person_id, g.source, g.since, g.until
FROM guardianship g JOIN person p ON p.id = g.dependent_person_id
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
    SELECT 1 FROM guardianship g JOIN person p ON p.id = g.dependent_person_id
    WHERE g.guardian_person_id = $1 AND g.dependent_person_id = $4 AND {ACTIVE}
)
"""


async def is_guardian(conn: Conn, guardian: UUID, dependent: UUID, *, now: datetime) -> bool:
    return await conn.fetchval(IS_GUARDIAN, guardian, now, _today(now), dependent)


GUARDIANS = f"""
SELECT g.guardian_person_id FROM guardianship g JOIN person p ON p.id = g.dependent_person_id
WHERE g.dependent_person_id = $1 AND {ACTIVE}
ORDER BY g.guardian_person_id
"""


async def guardians(conn: Conn, dependent: UUID, *, now: datetime) -> list[UUID]:
    return [r[0] for r in await conn.fetch(GUARDIANS, dependent, now, _today(now))]


UPSERT_GUARDIANSHIP = """
INSERT INTO guardianship AS g (guardian_person_id, dependent_person_id, source, since, until, beyond_majority,
                               department_id, basis)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT ON CONSTRAINT guardianship_pkey DO UPDATE SET
    source = EXCLUDED.source, since = EXCLUDED.since, until = EXCLUDED.until,
    beyond_majority = EXCLUDED.beyond_majority, department_id = EXCLUDED.department_id, basis = EXCLUDED.basis
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
) -> asyncpg.Record:
    """Create or replace the guardianship of the pair; ``created`` says which."""
    return one(
        await conn.fetchrow(
            UPSERT_GUARDIANSHIP, guardian, dependent, source, since, until, beyond_majority, department_id, basis
        ),
        "upserted guardianship",
    )


async def get_born_on(conn: Conn, person_id: UUID) -> date | None:
    return await conn.fetchval("SELECT born_on FROM person WHERE id = $1", person_id)


async def fill_born_on(conn: Conn, person_id: UUID, born_on: date) -> None:
    """Record a birth date read from the ID number where the person has none yet."""
    await conn.execute("UPDATE person SET born_on = $2 WHERE id = $1 AND born_on IS NULL", person_id, born_on)


# The 18th birthday starts at midnight in China; 29 February birthdays count from 28 February, as
# adding an interval does here and ``service.comes_of_age`` does in Python.
END_AT_MAJORITY = """
UPDATE guardianship g
SET until = ((p.born_on + interval '18 years')::date)::timestamp AT TIME ZONE 'Asia/Shanghai'
FROM person p
WHERE p.id = g.dependent_person_id AND g.until IS NULL AND NOT g.beyond_majority AND p.born_on IS NOT NULL
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


FAMILY_WALLETS = """
SELECT r.person_id, r.since, c.closed_at FROM wallet_family_reader r
JOIN wallet_closure c ON c.person_id = r.person_id
WHERE r.reader_person_id = $1 ORDER BY r.since, r.person_id
"""


async def family_wallets(conn: Conn, reader: UUID) -> list[asyncpg.Record]:
    """The closed wallets ``reader`` may read: person_id, since, closed_at."""
    return await conn.fetch(FAMILY_WALLETS, reader)
