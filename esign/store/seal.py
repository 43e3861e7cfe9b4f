"""Seals and the departments that own them: SQL next to the one function that runs it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.db import Conn
from esign.errors import SealNotFound
from esign.service import Department


class SealRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    department_id: UUID | None
    role: str
    name: str
    kind: str
    algorithm: str
    kid: bytes
    certificate: bytes
    key_custody: str
    status: str
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    retired_at: datetime | None
    revoked_at: datetime | None
    replaces_id: UUID | None


COLUMNS = """id, department_id, role, name, kind, algorithm, kid, certificate, key_custody, status, valid_from,
    valid_until, created_at, retired_at, revoked_at, replaces_id"""


async def get_department(conn: Conn, department_id: UUID) -> Department | None:
    row = await conn.fetchrow("SELECT id, name, credit_code FROM department WHERE id = $1", department_id)
    return None if row is None else Department(id=row["id"], name=row["name"], credit_code=row["credit_code"])


async def get_department_by_credit_code(conn: Conn, credit_code: str) -> Department | None:
    """The department whose 统一社会信用代码 is ``credit_code`` (None when no department has it)."""
    row = await conn.fetchrow("SELECT id, name, credit_code FROM department WHERE credit_code = $1", credit_code)
    return None if row is None else Department(id=row["id"], name=row["name"], credit_code=row["credit_code"])


INSERT_SEAL = """
INSERT INTO esign_seal (id, department_id, role, name, kind, algorithm, kid, certificate, private_key, key_custody,
    valid_from, valid_until, created_at, replaces_id)
VALUES ($1, $2, 'issuer', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
"""


async def insert_seal(conn: Conn, seal: SealRow, *, sealed_key: bytes | None) -> None:
    await conn.execute(
        INSERT_SEAL,
        seal.id,
        seal.department_id,
        seal.name,
        seal.kind,
        seal.algorithm,
        seal.kid,
        seal.certificate,
        sealed_key,
        seal.key_custody,
        seal.valid_from,
        seal.valid_until,
        seal.created_at,
        seal.replaces_id,
    )


async def get_seal(conn: Conn, seal_id: UUID, *, for_update: bool = False) -> SealRow:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM esign_seal WHERE id = $1{lock}", seal_id)
    if row is None:
        raise SealNotFound()
    return SealRow(**dict(row))


async def get_seal_by_kid(conn: Conn, kid: bytes) -> SealRow | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM esign_seal WHERE kid = $1", kid)
    return None if row is None else SealRow(**dict(row))


async def get_private_key(conn: Conn, seal_id: UUID) -> bytes | None:
    """The sealed private key (None when the department keeps it)."""
    return await conn.fetchval("SELECT private_key FROM esign_seal WHERE id = $1", seal_id)


# The seal for certificates is the 电子证照专用章 (kind ``business``) where the department has one, its
# official seal otherwise. Among seals of that kind, server-held keys first: a department that keeps
# an older key of its own but also has one here issues without the round trip unless it names the seal.
DEFAULT_SEAL = f"""
SELECT {COLUMNS} FROM esign_seal
WHERE department_id = $1 AND role = 'issuer' AND kind IN ('business', 'official') AND status = 'active'
  AND valid_from <= $2 AND valid_until > $2
ORDER BY kind = 'business' DESC, key_custody = 'platform' DESC, created_at DESC
LIMIT 1
"""


async def default_seal(conn: Conn, department_id: UUID, *, now: datetime) -> SealRow | None:
    """The department's seal for certificates: its newest active 电子证照专用章 (``business``), else its
    newest active official seal; one whose key the platform holds first within each kind."""
    row = await conn.fetchrow(DEFAULT_SEAL, department_id, now)
    return None if row is None else SealRow(**dict(row))


LIST_SEALS = f"""
SELECT {COLUMNS} FROM esign_seal
WHERE department_id = $1 AND ($2::uuid IS NULL OR id < $2)
ORDER BY id DESC
LIMIT $3
"""


async def list_seals(conn: Conn, department_id: UUID, *, before: UUID | None, limit: int) -> list[SealRow]:
    """Newest first (ids are UUIDv7, so id order is creation order)."""
    return [SealRow(**dict(r)) for r in await conn.fetch(LIST_SEALS, department_id, before, limit)]


RETIRE_SEAL = "UPDATE esign_seal SET status = 'retired', retired_at = $2 WHERE id = $1 AND status = 'active'"


async def retire_seal(conn: Conn, seal_id: UUID, *, now: datetime) -> None:
    await conn.execute(RETIRE_SEAL, seal_id, now)


REVOKE_SEAL = """
UPDATE esign_seal SET status = 'revoked', revoked_at = $2, revocation_reason = $3 WHERE id = $1
"""


async def revoke_seal(conn: Conn, seal_id: UUID, *, reason: str | None, now: datetime) -> None:
    await conn.execute(REVOKE_SEAL, seal_id, now, reason)


TRUSTED_SEALS = """
SELECT s.kid, s.certificate, s.role, s.status, s.retired_at, s.department_id, d.name AS department_name
FROM esign_seal s LEFT JOIN department d ON d.id = s.department_id
ORDER BY s.created_at, s.id
"""


async def trusted_seals(conn: Conn) -> list[asyncpg.Record]:
    """Every seal ever made, for the trust list (revoked and retired ones included)."""
    return await conn.fetch(TRUSTED_SEALS)


BUMP_TRUST_LIST = "UPDATE esign_trust_list SET version = version + 1 WHERE id"


async def trust_list_changed(conn: Conn) -> None:
    """The set of seals changed: the cached trust list must be signed again."""
    await conn.execute(BUMP_TRUST_LIST)


async def seal_name(conn: Conn, seal_id: UUID) -> str | None:
    """The name of a seal (a certificate names the seal it was signed with)."""
    return await conn.fetchval("SELECT name FROM esign_seal WHERE id = $1", seal_id)
