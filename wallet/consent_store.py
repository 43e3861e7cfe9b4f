"""Consents and the access log: SQL next to the one function that runs it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from api.kernel.db import Conn

CONSENT = """
SELECT c.id, c.person_id, c.grantee_department_id, d.name AS grantee_name, c.item_ids, c.purpose, c.matter_code,
       c.expires_at, c.max_uses, c.uses, c.granted_by, c.created_at, c.revoked_at, c.fields
FROM wallet_consent c JOIN department d ON d.id = c.grantee_department_id
"""

INSERT_CONSENT = """
INSERT INTO wallet_consent (id, person_id, grantee_department_id, item_ids, purpose, matter_code, expires_at, max_uses,
                            granted_by, created_at, updated_at, fields)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)
"""


async def insert_consent(
    conn: Conn,
    *,
    id: UUID,
    person_id: UUID,
    department_id: UUID,
    item_ids: list[UUID],
    purpose: str,
    matter_code: str | None,
    expires_at: datetime,
    max_uses: int | None,
    granted_by: str,
    now: datetime,
    fields: dict[str, list[str]],
) -> None:
    await conn.execute(
        INSERT_CONSENT,
        id,
        person_id,
        department_id,
        item_ids,
        purpose,
        matter_code,
        expires_at,
        max_uses,
        granted_by,
        now,
        fields,
    )


CERTIFICATE_FIELD_KEYS = """
SELECT c.id, array(SELECT f->>'key' FROM jsonb_array_elements(t.fields) f) AS keys
FROM esign_certificate c JOIN certificate_type t ON t.code = c.type_code
WHERE c.person_id = ANY($2::uuid[]) AND c.id = ANY($1::uuid[])
"""


async def certificate_field_keys(conn: Conn, certificate_ids: list[UUID], holders: list[UUID]) -> dict[UUID, list[str]]:
    """The field keys of these certificates' types (sensitive ones included), by certificate id; ``holders``,
    whose they are (a consent's items are of one wallet: one shard)."""
    rows = await conn.fetch(CERTIFICATE_FIELD_KEYS, certificate_ids, list(set(holders)))
    return {r["id"]: list(r["keys"]) for r in rows}


async def get_consent(
    conn: Conn, consent_id: UUID, *, person_id: UUID | None = None, for_update: bool = False
) -> asyncpg.Record | None:
    """A consent by id; with its holder's ``person_id`` a read of one shard on a cluster, without it of every
    shard (a grantee knows only the id)."""
    lock = " FOR UPDATE OF c" if for_update else ""
    if person_id is None:
        return await conn.fetchrow(f"{CONSENT} WHERE c.id = $1{lock}", consent_id)
    return await conn.fetchrow(f"{CONSENT} WHERE c.person_id = $2 AND c.id = $1{lock}", consent_id, person_id)


LIST_FOR_PERSON = f"""
{CONSENT} WHERE c.person_id = $1 AND ($2::timestamptz IS NULL OR (c.created_at, c.id) < ($2, $3::uuid))
ORDER BY c.created_at DESC, c.id DESC LIMIT $4
"""


async def list_consents(
    conn: Conn, person_id: UUID, *, before: tuple[datetime, UUID] | None, limit: int | None
) -> list[asyncpg.Record]:
    """A holder's consents, newest first."""
    at, last = before if before else (None, None)
    return await conn.fetch(LIST_FOR_PERSON, person_id, at, last, limit)


LIST_FOR_DEPARTMENT = f"""
{CONSENT} WHERE c.grantee_department_id = $1 AND ($2::timestamptz IS NULL OR (c.created_at, c.id) < ($2, $3::uuid))
ORDER BY c.created_at DESC, c.id DESC LIMIT $4
"""


async def list_department_consents(
    conn: Conn, department_id: UUID, *, before: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Consents granted to a department, newest first."""
    at, last = before if before else (None, None)
    return await conn.fetch(LIST_FOR_DEPARTMENT, department_id, at, last, limit)


async def revoke_consent(conn: Conn, consent_id: UUID, *, person_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE wallet_consent SET revoked_at = $2, updated_at = $2 WHERE person_id = $3 AND id = $1 AND revoked_at IS NULL",
        consent_id,
        now,
        person_id,
    )


# One statement decides and spends: two reads racing for the last use cannot both win.
TAKE_USE = """
UPDATE wallet_consent SET uses = uses + 1, updated_at = $2
WHERE person_id = $3 AND id = $1 AND revoked_at IS NULL AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)
RETURNING uses
"""


async def take_use(conn: Conn, consent_id: UUID, *, person_id: UUID, now: datetime) -> int | None:
    """Spend one use of an active consent; the uses so far, or None when it is not active."""
    return await conn.fetchval(TAKE_USE, consent_id, now, person_id)


INSERT_ACCESS = """
INSERT INTO wallet_access_log (person_id, consent_id, department_id, actor, purpose, item_ids, outcome, reason, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id
"""


async def log_access(
    conn: Conn,
    *,
    person_id: UUID,
    consent_id: UUID,
    department_id: UUID,
    actor: str,
    purpose: str,
    item_ids: list[UUID],
    outcome: str,
    reason: str | None,
    now: datetime,
) -> int:
    return await conn.fetchval(
        INSERT_ACCESS, person_id, consent_id, department_id, actor, purpose, item_ids, outcome, reason, now
    )


INSERT_TASK_ACCESS = """
INSERT INTO wallet_access_log (person_id, task_id, material, department_id, actor, purpose, item_ids, outcome, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'served', $8)
RETURNING id
"""


async def log_task_access(
    conn: Conn,
    *,
    person_id: UUID,
    task_id: UUID,
    material: str,
    department_id: UUID,
    actor: str,
    purpose: str,
    item_ids: list[UUID],
    now: datetime,
) -> int:
    """A department's read of a material while handling a task, shown to the holder like a consent's read."""
    return await conn.fetchval(
        INSERT_TASK_ACCESS, person_id, task_id, material, department_id, actor, purpose, item_ids, now
    )


INSERT_AGENT_ACCESS = """
INSERT INTO wallet_access_log (person_id, delegation_id, department_id, actor, purpose, item_ids, outcome, reason, at)
VALUES ($1, $2, $3, $4, $5, '{}', $6, $7, $8)
RETURNING id
"""


async def log_agent_access(
    conn: Conn,
    *,
    person_id: UUID,
    delegation_id: UUID,
    department_id: UUID | None,
    actor: str,
    purpose: str,
    outcome: str,
    reason: str | None,
    now: datetime,
) -> int:
    return await conn.fetchval(
        INSERT_AGENT_ACCESS, person_id, delegation_id, department_id, actor, purpose, outcome, reason, now
    )


ACCESS = """
SELECT l.id, l.at, l.consent_id, l.task_id, l.material, l.delegation_id, l.department_id, d.name AS department_name,
       l.actor, l.purpose, l.item_ids, l.outcome, l.reason
FROM wallet_access_log l LEFT JOIN department d ON d.id = l.department_id
WHERE l.person_id = $1 AND ($2::bigint IS NULL OR l.id < $2)
ORDER BY l.id DESC LIMIT $3
"""


async def list_access(conn: Conn, person_id: UUID, *, before: int | None, limit: int | None) -> list[asyncpg.Record]:
    """Reads of a holder's items, newest first."""
    return await conn.fetch(ACCESS, person_id, before, limit)
