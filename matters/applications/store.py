"""Applications, their department tasks and timeline: SQL next to its only caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from matters.applications.errors import ApplicationNotFound, TaskNotFound

_enc = msgspec.json.Encoder()


def seal_form(keyring: Keyring, form: dict[str, Any]) -> bytes:
    return keyring.encrypt(_enc.encode(form), context="application.form")


def open_form(keyring: Keyring, blob: bytes) -> dict[str, Any]:
    return msgspec.json.decode(keyring.decrypt(blob, context="application.form"))


INSERT_APPLICATION = """
INSERT INTO application (id, bundle_code, matter_code, applicant_account_id, applicant_person_id, for_person_id,
    status, form, materials, deferred_materials, fingerprint, submitted_at, due_at, supplement_due_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, 'submitted', $7, $8, $9, $10, $11, $12, $13, $11)
ON CONFLICT ON CONSTRAINT application_pkey DO NOTHING
RETURNING id
"""


# An application id is unique across everyone, kept where it is looked up by id alone (on the coordinator of a
# cluster): the key says whose the application is, so what follows runs on that person's rows.
CLAIM_KEY = "INSERT INTO application_key (id, for_person_id) VALUES ($1, $2)"
WHOSE = "SELECT for_person_id FROM application_key WHERE id = $1"
LOCK_ID = "SELECT pg_advisory_xact_lock(hashtextextended('application:' || $1::uuid::text, 0))"


async def lock_id(conn: Conn, application_id: UUID) -> None:
    """Hold the id for this transaction: two submits of one id (a phone retrying, another person) take turns."""
    await conn.execute(LOCK_ID, application_id)


async def whose(conn: Conn, application_id: UUID) -> UUID | None:
    """The person an application is for, by its id alone (None: no such application)."""
    return await conn.fetchval(WHOSE, application_id)


async def insert_application(conn: Conn, **row: Any) -> bool:
    """Insert a new application and claim its id; False when the id exists (a phone retrying)."""
    await conn.execute(CLAIM_KEY, row["id"], row["for_person_id"])
    return (
        await conn.fetchval(
            INSERT_APPLICATION,
            row["id"],
            row["bundle_code"],
            row["matter_code"],
            row["applicant_account_id"],
            row["applicant_person_id"],
            row["for_person_id"],
            row["form"],
            row["materials"],
            row["deferred_materials"],
            row["fingerprint"],
            row["submitted_at"],
            row["due_at"],
            row["supplement_due_at"],
        )
        is not None
    )


# An application is found with the person it is for (its key, and where it lives on a cluster).
GET_APPLICATION = "SELECT * FROM application WHERE for_person_id = $1 AND id = $2"


async def get_application(
    conn: Conn, person: UUID, application_id: UUID, *, for_update: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(GET_APPLICATION + (" FOR UPDATE" if for_update else ""), person, application_id)
    if row is None:
        raise ApplicationNotFound()
    return row


async def find_application(conn: Conn, family: list[UUID], application_id: UUID) -> asyncpg.Record | None:
    """An application a citizen names by its id: one for them or for someone they are (or were) guardian of
    (``family``); None for anyone else's. Its person from the key, then the row on that person's shard."""
    person = await whose(conn, application_id)
    if person is None or person not in family:
        return None
    return await conn.fetchrow(GET_APPLICATION, person, application_id)


# Whom a person has applied for is always themselves or someone they were guardian of then (``family``: the
# person and everyone they were ever guardian of); of those, what is for the person or a current dependent
# (``mine``), or what the person applied for. (The test of ``mine`` is an array containment: an OR naming the
# distribution column keeps Citus from pruning to the family's shards.)
LIST_APPLICATIONS = """
SELECT * FROM application
WHERE for_person_id = ANY($2::uuid[]) AND (applicant_person_id = $1 OR $3::uuid[] @> ARRAY[for_person_id])
  AND ($4::text IS NULL OR status = $4)
  AND ($5::uuid IS NULL OR id < $5)
ORDER BY id DESC
LIMIT $6
"""


async def list_applications(
    conn: Conn,
    *,
    person_id: UUID,
    family: list[UUID],
    dependents: list[UUID],
    status: str | None,
    before: UUID | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The caller's own applications, those for their dependents and those they made for others, newest first."""
    mine = [person_id, *dependents]
    return await conn.fetch(
        LIST_APPLICATIONS, person_id, list(dict.fromkeys([*mine, *family])), mine, status, before, limit
    )


async def set_application(conn: Conn, person: UUID, application_id: UUID, **changes: Any) -> None:
    # Column names come from this module's callers, never from requests.
    cols = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=3))
    await conn.execute(
        f"UPDATE application SET {cols} WHERE for_person_id = $1 AND id = $2", person, application_id, *changes.values()
    )


# The state and title of applications named with their persons (a window's pick-up queue): on a cluster, the
# shards of those persons only.
STATES = """
SELECT a.id, a.status, a.bundle_code, a.matter_code, coalesce(b.name, m.name) AS title
FROM application a
LEFT JOIN catalog_bundle b ON b.code = a.bundle_code LEFT JOIN catalog_matter m ON m.code = a.matter_code
WHERE a.for_person_id = ANY($1::uuid[]) AND (a.for_person_id, a.id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
"""


async def states(conn: Conn, refs: list[tuple[UUID, UUID]]) -> dict[UUID, asyncpg.Record]:
    """By application id, for (person, application id) pairs."""
    if not refs:
        return {}
    rows = await conn.fetch(STATES, [p for p, _ in refs], [a for _, a in refs])
    return {r["id"]: r for r in rows}


INSERT_TASK = """
INSERT INTO application_task (id, for_person_id, application_id, matter_code, department_id, required, after_matters,
    status, started_at, due_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""


# A task's id is found by a department without the person: the key says whose rows hold it.
INSERT_TASK_KEY = "INSERT INTO application_task_key (id, for_person_id) VALUES ($1, $2)"
TASK_WHOSE = "SELECT for_person_id FROM application_task_key WHERE id = $1"


async def insert_task(conn: Conn, **t: Any) -> UUID:
    task_id = uuid7()
    await conn.execute(INSERT_TASK_KEY, task_id, t["for_person_id"])
    await conn.execute(
        INSERT_TASK,
        task_id,
        t["for_person_id"],
        t["application_id"],
        t["matter_code"],
        t["department_id"],
        t["required"],
        list(t["after"]),
        t["status"],
        t["started_at"],
        t["due_at"],
        t["now"],
    )
    return task_id


TASK_COLUMNS = """
t.*, m.name AS matter_name, d.name AS department_name
FROM application_task t
JOIN catalog_matter m ON m.code = t.matter_code
JOIN department d ON d.id = t.department_id
"""


TASK_LIST = f"SELECT {TASK_COLUMNS} WHERE t.for_person_id = $1 AND t.application_id = $2 ORDER BY t.id"


async def list_tasks(
    conn: Conn, person: UUID, application_id: UUID, *, for_update: bool = False
) -> list[asyncpg.Record]:
    lock = " FOR UPDATE OF t" if for_update else ""
    return await conn.fetch(TASK_LIST + lock, person, application_id)


GET_TASK = f"SELECT {TASK_COLUMNS} WHERE t.for_person_id = $2 AND t.id = $1"


async def get_task(
    conn: Conn, task_id: UUID, *, department_id: UUID | None, person: UUID | None = None
) -> asyncpg.Record:
    """A task, visible only to its own department (others get 404: they may not know it exists).

    A department knows a task by its id: without its ``person`` the task's key names the person (a primary-key
    read on the coordinator of a cluster), then the task is read on that person's shard."""
    if person is None:
        person = await conn.fetchval(TASK_WHOSE, task_id)
    row = None if person is None else await conn.fetchrow(GET_TASK, task_id, person)
    if row is None or (department_id is not None and row["department_id"] != department_id):
        raise TaskNotFound()
    return row


async def set_task(conn: Conn, person: UUID, task_id: UUID, **changes: Any) -> None:
    cols = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=3))
    await conn.execute(
        f"UPDATE application_task SET {cols} WHERE for_person_id = $1 AND id = $2", person, task_id, *changes.values()
    )


LIST_DEPT_TASKS = f"""
SELECT {TASK_COLUMNS}
WHERE t.department_id = $1
  AND ($2::text IS NULL OR t.status = $2)
  AND ($3::boolean IS NULL OR ($3 = (t.due_at IS NOT NULL AND t.due_at < $4 AND t.status IN ('pending', 'claimed'))))
  AND ($5::uuid IS NULL OR t.id > $5)
ORDER BY t.id
LIMIT $6
"""


async def list_department_tasks(
    conn: Conn,
    department_id: UUID,
    *,
    status: str | None,
    overdue: bool | None,
    now: datetime,
    after: UUID | None,
    limit: int,
) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_DEPT_TASKS, department_id, status, overdue, now, after, limit)


INSERT_EVENT = """
INSERT INTO application_event (for_person_id, application_id, at, event, actor, detail) VALUES ($1, $2, $3, $4, $5, $6)
"""


async def add_event(
    conn: Conn, person: UUID, application_id: UUID, *, at: datetime, event: str, actor: str, detail: dict[str, Any]
) -> None:
    await conn.execute(INSERT_EVENT, person, application_id, at, event, actor, detail)


LIST_EVENTS = (
    "SELECT at, event, detail FROM application_event WHERE for_person_id = $1 AND application_id = $2 ORDER BY id"
)


async def list_events(conn: Conn, person: UUID, application_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_EVENTS, person, application_id)


async def has_event(conn: Conn, person: UUID, application_id: UUID, event: str, detail: dict[str, Any]) -> bool:
    """Whether the timeline holds this event with (at least) this detail."""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM application_event WHERE for_person_id = $1 AND application_id = $2"
        " AND event = $3 AND detail @> $4)",
        person,
        application_id,
        event,
        detail,
    )


# Every open task past its due time: a background sweep over every shard of a cluster.
FLAG_OVERDUE = """
UPDATE application_task t SET overdue_flagged_at = $1
WHERE t.status IN ('pending', 'claimed') AND t.due_at < $1 AND t.overdue_flagged_at IS NULL
RETURNING t.id, t.for_person_id, t.application_id, t.matter_code, t.department_id, t.due_at
"""


async def flag_overdue(conn: Conn, *, now: datetime) -> list[asyncpg.Record]:
    """Mark open tasks past their due time, once each; return what was newly flagged."""
    return await conn.fetch(FLAG_OVERDUE, now)


# Whose each application is, from the ids' keys (on the coordinator of a cluster); then the applications on those
# persons' shards.
APPLICATION_PERSONS = "SELECT for_person_id, id FROM application_key WHERE id = ANY($1::uuid[])"
NAMED_BY = """
SELECT EXISTS (
    SELECT 1 FROM application
    WHERE for_person_id = ANY($1::uuid[]) AND (for_person_id, id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
      AND materials @> jsonb_build_array(jsonb_build_object('blob_sha256', $3::text))
)
"""


async def names_blob(conn: Conn, digest: bytes, application_ids: list[UUID]) -> bool:
    """Whether one of these applications names the blob (its SHA-256) among its materials."""
    keys = await conn.fetch(APPLICATION_PERSONS, application_ids) if application_ids else []
    return bool(keys) and await conn.fetchval(NAMED_BY, [k[0] for k in keys], [k[1] for k in keys], digest.hex())
