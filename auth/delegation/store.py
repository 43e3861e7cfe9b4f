"""SQL of 代办 authorisations and their uses.

An authorisation and its uses are placed with the principal (``principal_id``: a person, or an entity's own
person row): the checks of a use, which know the principal, run on one shard. One named by its id alone (an
agent's view) is first found on every shard.
"""

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


# With its count of uses: a join on the principal, so that a statement naming the principal is one shard's (a
# correlated subquery in the select list would send it to every shard).
SELECT = """
SELECT d.*, count(u.id) FILTER (WHERE u.outcome = 'served') AS uses
FROM delegation d
LEFT JOIN delegation_use u ON u.principal_id = d.principal_id AND u.delegation_id = d.id
"""
GROUPED = "GROUP BY d.principal_id, d.id"
GET_DELEGATION = f"{SELECT} WHERE d.principal_id = $2 AND d.id = $1 {GROUPED}"


async def principal_of(conn: Conn, delegation_id: UUID) -> UUID | None:
    return await conn.fetchval("SELECT principal_id FROM delegation WHERE id = $1", delegation_id)


async def get_delegation(
    conn: Conn, delegation_id: UUID, *, principal_id: UUID | None = None, for_update: bool = False
) -> asyncpg.Record | None:
    """The authorisation, of ``principal_id`` when the caller knows it (else found by id first)."""
    principal = principal_id if principal_id is not None else await principal_of(conn, delegation_id)
    if principal is None:
        return None
    if for_update:
        await conn.execute(
            "SELECT 1 FROM delegation WHERE principal_id = $2 AND id = $1 FOR UPDATE", delegation_id, principal
        )
    return await conn.fetchrow(GET_DELEGATION, delegation_id, principal)


# A principal id is a person's or an entity's holder id (one id space: both are rows of ``person``).
LIST_FOR_PERSON = f"""{SELECT}
WHERE (d.principal_id = $1 OR d.agent_person_id = $1)
  AND ($2::uuid IS NULL OR d.id < $2)
{GROUPED}
ORDER BY d.id DESC LIMIT $3
"""


async def list_for_person(conn: Conn, person_id: UUID, *, before: UUID | None, limit: int) -> list[asyncpg.Record]:
    """Authorisations the person gave or received, newest first."""
    return await conn.fetch(LIST_FOR_PERSON, person_id, before, limit)


async def revoke_delegation(conn: Conn, delegation_id: UUID, principal_id: UUID, *, now: datetime) -> None:
    await conn.execute(
        "UPDATE delegation SET revoked_at = $3 WHERE principal_id = $2 AND id = $1 AND revoked_at IS NULL",
        delegation_id,
        principal_id,
        now,
    )


LATEST_FOR_AGENT = f"""{SELECT}
WHERE d.principal_kind = $1 AND d.principal_id = $2 AND d.agent_person_id = $3
{GROUPED}
ORDER BY (d.revoked_at IS NULL AND d.expires_at > $4) DESC, d.id DESC LIMIT 1
"""


async def latest_for_agent(
    conn: Conn, principal_kind: str, principal_id: UUID, agent_person_id: UUID, *, now: datetime
) -> asyncpg.Record | None:
    """The agent's authorisation from this principal: an active one first, else the newest."""
    return await conn.fetchrow(LATEST_FOR_AGENT, principal_kind, principal_id, agent_person_id, now)


INSERT_USE = """
INSERT INTO delegation_use (delegation_id, action, outcome, reason, matter_code, application_id, department_id, actor, at,
                            principal_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


async def log_use(
    conn: Conn,
    delegation_id: UUID,
    principal_id: UUID,
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
        INSERT_USE,
        delegation_id,
        action,
        outcome,
        reason,
        matter_code,
        application_id,
        department_id,
        actor,
        now,
        principal_id,
    )


LIST_USES = """
SELECT id, at, action, outcome, reason, matter_code, application_id, department_id, actor
FROM delegation_use WHERE principal_id = $4 AND delegation_id = $1 AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3
"""


async def list_uses(
    conn: Conn, delegation_id: UUID, principal_id: UUID, *, before: int | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_USES, delegation_id, before, limit, principal_id)
