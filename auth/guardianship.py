"""Guardianships with their end at majority, and the birth dates they carry: SQL next to its caller.

A guardianship is active from ``since`` until ``until``, and — unless a department kept it past
majority — only while the dependent is under 18 by ``born_on`` (dates in China). The coming-of-age
sweep (``end_guardianships_at_majority``) also writes ``until`` on the 18th birthday, so
``auth.persons.is_guardian`` (which reads ``until`` only) agrees once it has run; the ``active_*``
queries here do not wait for it.

A guardianship carries its dependent's birth date (``dependent_born_on``, written with it and when the date is
learnt): on a Citus cluster guardianships sit on the guardian's shard and the dependent's person row on
theirs, so a guardian's dependents are read on one shard, without joining the person.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import UUID

import asyncpg

from api.kernel.db import Conn, one

CHINA = timezone(timedelta(hours=8))

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


async def active_dependents(conn: Conn, guardian: UUID, *, now: datetime) -> list[asyncpg.Record]:
    """Active guardianships of ``guardian``: dependent_person_id, source, since, until."""
    return await conn.fetch(DEPENDENTS, guardian, now, _today(now))


IS_GUARDIAN = f"""
SELECT EXISTS (
    SELECT 1 FROM guardianship g
    WHERE g.guardian_person_id = $1 AND g.dependent_person_id = $4 AND {ACTIVE}
)
"""


async def is_active_guardian(conn: Conn, guardian: UUID, dependent: UUID, *, now: datetime) -> bool:
    return await conn.fetchval(IS_GUARDIAN, guardian, now, _today(now), dependent)


GUARDIANS = f"""
SELECT g.guardian_person_id FROM guardianship g
WHERE g.dependent_person_id = $1 AND {ACTIVE}
ORDER BY g.guardian_person_id
"""


async def active_guardians(conn: Conn, dependent: UUID, *, now: datetime) -> list[UUID]:
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


async def fill_birth(conn: Conn, person_id: UUID, *, born_on: date | None, sex: str | None) -> None:
    """Record a birth date and sex read from the ID number where the person has none yet; the date also in
    their guardianships as a dependent (on a cluster, a statement on every shard: only when the person's date
    was unknown)."""
    if sex is not None:
        await conn.execute("UPDATE person SET sex = $2 WHERE id = $1 AND sex IS NULL", person_id, sex)
    if born_on is None:
        return
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


async def end_guardianships_at_majority(conn: Conn) -> list[asyncpg.Record]:
    """Give every open guardianship of a person with a known birth date its end at majority."""
    return await conn.fetch(END_AT_MAJORITY)
