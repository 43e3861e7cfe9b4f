"""SQL of 代办 authorisations and their uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from api.kernel.db import Conn

INSERT_DELEGATION = """
INSERT INTO delegation (id, principal_kind, principal_id, agent_person_id, matters, actions, note, created_by,
                        created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


async def insert_delegation(conn: Conn, **row: Any) -> None:
    await conn.execute(
        INSERT_DELEGATION,
        row["id"],
        row["principal_kind"],
        row["principal_id"],
        row["agent_person_id"],
        row["matters"],
        row["actions"],
        row["note"],
        row["created_by"],
        row["created_at"],
        row["expires_at"],
    )


SELECT = """
SELECT d.*, (SELECT count(*) FROM delegation_use u WHERE u.delegation_id = d.id AND u.outcome = 'served') AS uses
FROM delegation d
"""


async def get_delegation(conn: Conn, delegation_id: UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    if for_update:
        await conn.execute("SELECT 1 FROM delegation WHERE id = $1 FOR UPDATE", delegation_id)
    return await conn.fetchrow(SELECT + " WHERE d.id = $1", delegation_id)


# A principal id is a person's or an entity's holder id (one id space: both are rows of ``person``).
LIST_FOR_PERSON = (
    SELECT
    + """
WHERE (d.principal_id = $1 OR d.agent_person_id = $1)
  AND ($2::uuid IS NULL OR d.id < $2)
ORDER BY d.id DESC LIMIT $3
"""
)


async def list_for_person(conn: Conn, person_id: UUID, *, before: UUID | None, limit: int) -> list[asyncpg.Record]:
    """Authorisations the person gave or received, newest first."""
    return await conn.fetch(LIST_FOR_PERSON, person_id, before, limit)


async def revoke_delegation(conn: Conn, delegation_id: UUID, *, now: datetime) -> None:
    await conn.execute("UPDATE delegation SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", delegation_id, now)


LATEST_FOR_AGENT = (
    SELECT
    + """
WHERE d.principal_kind = $1 AND d.principal_id = $2 AND d.agent_person_id = $3
ORDER BY (d.revoked_at IS NULL AND d.expires_at > $4) DESC, d.id DESC LIMIT 1
"""
)


async def latest_for_agent(
    conn: Conn, principal_kind: str, principal_id: UUID, agent_person_id: UUID, *, now: datetime
) -> asyncpg.Record | None:
    """The agent's authorisation from this principal: an active one first, else the newest."""
    return await conn.fetchrow(LATEST_FOR_AGENT, principal_kind, principal_id, agent_person_id, now)


INSERT_USE = """
INSERT INTO delegation_use (delegation_id, action, outcome, reason, matter_code, application_id, department_id, actor, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""


async def log_use(
    conn: Conn,
    delegation_id: UUID,
    *,
    action: str,
    outcome: str,
    reason: str | None,
    matter_code: str | None,
    application_id: UUID | None,
    department_id: UUID | None,
    actor: str,
    now: datetime,
) -> None:
    await conn.execute(
        INSERT_USE, delegation_id, action, outcome, reason, matter_code, application_id, department_id, actor, now
    )


LIST_USES = """
SELECT id, at, action, outcome, reason, matter_code, application_id, department_id, actor
FROM delegation_use WHERE delegation_id = $1 AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3
"""


async def list_uses(conn: Conn, delegation_id: UUID, *, before: int | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_USES, delegation_id, before, limit)
