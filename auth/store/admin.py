"""Departments, department clients, staff grants and identity providers: SQL and constraint mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.db import Conn, one
from api.kernel.ids import uuid7
from auth.errors import (
    AccountNotFound,
    ClientNotFound,
    DepartmentExists,
    IdentityProviderExists,
    ParentDepartmentNotFound,
    StaffInOtherDepartment,
)
from auth.models import IdentityProvider


class Department(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    credit_code: str
    region_code: str
    parent_id: UUID | None
    created_at: datetime


class Client(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    department_id: UUID
    name: str
    scopes: list[str]
    secret_hash: bytes
    created_at: datetime
    revoked_at: datetime | None


class StaffMember(msgspec.Struct, frozen=True, kw_only=True):
    account_id: UUID
    department_id: UUID
    roles: list[str]
    granted_at: datetime


DEPARTMENT_COLUMNS = "id, name, credit_code, region_code, parent_id, created_at"
INSERT_DEPARTMENT = f"""
INSERT INTO department (id, name, credit_code, region_code, parent_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {DEPARTMENT_COLUMNS}
"""


async def insert_department(
    conn: Conn,
    *,
    name: str,
    credit_code: str,
    region_code: str,
    parent_id: UUID | None,
    now: datetime,
) -> Department:
    try:
        row = await conn.fetchrow(INSERT_DEPARTMENT, uuid7(), name, credit_code, region_code, parent_id, now)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "department_credit_code_key":
            raise
        raise DepartmentExists(credit_code=credit_code) from None
    except asyncpg.ForeignKeyViolationError as exc:
        if exc.constraint_name != "department_parent_id_fkey":
            raise
        raise ParentDepartmentNotFound(parent_id=str(parent_id)) from None
    return Department(**dict(one(row, "inserted department")))


async def get_department(conn: Conn, department_id: UUID) -> Department | None:
    row = await conn.fetchrow(f"SELECT {DEPARTMENT_COLUMNS} FROM department WHERE id = $1", department_id)
    return None if row is None else Department(**dict(row))


async def known_departments(conn: Conn, ids: list[UUID]) -> set[UUID]:
    """The departments among ``ids`` that exist."""
    rows = await conn.fetch("SELECT id FROM department WHERE id = ANY($1::uuid[])", ids)
    return {r["id"] for r in rows}


LIST_DEPARTMENTS = f"""
SELECT {DEPARTMENT_COLUMNS} FROM department
WHERE $1::uuid IS NULL OR id > $1
ORDER BY id
LIMIT $2
"""


async def list_departments(conn: Conn, *, after: UUID | None, limit: int) -> list[Department]:
    return [Department(**dict(r)) for r in await conn.fetch(LIST_DEPARTMENTS, after, limit)]


INSERT_CLIENT = """
INSERT INTO auth_client (id, department_id, name, secret_hash, scopes, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


async def insert_client(
    conn: Conn,
    *,
    department_id: UUID,
    name: str,
    scopes: list[str],
    secret_hash: bytes,
    created_by: str,
    now: datetime,
) -> UUID:
    client_id = uuid7()
    await conn.execute(INSERT_CLIENT, client_id, department_id, name, secret_hash, scopes, created_by, now)
    return client_id


GET_CLIENT = """
SELECT id, department_id, name, scopes, secret_hash, created_at, revoked_at FROM auth_client WHERE id = $1
"""


async def get_client(conn: Conn, client_id: UUID) -> Client | None:
    row = await conn.fetchrow(GET_CLIENT, client_id)
    return None if row is None else Client(**dict(row))


class ClientView(msgspec.Struct, frozen=True, kw_only=True):
    """A department client as its managers see it (never its secret)."""

    client_id: UUID
    department_id: UUID
    name: str
    scopes: list[str]
    created_at: datetime
    secret_rotated_at: datetime | None
    revoked_at: datetime | None


CLIENT_VIEW = "id AS client_id, department_id, name, scopes, created_at, secret_rotated_at, revoked_at"
LIST_CLIENTS = f"""
SELECT {CLIENT_VIEW} FROM auth_client
WHERE department_id = $1 AND ($2::uuid IS NULL OR id > $2)
ORDER BY id
LIMIT $3
"""


async def list_clients(conn: Conn, department_id: UUID, *, after: UUID | None, limit: int) -> list[ClientView]:
    return [ClientView(**dict(r)) for r in await conn.fetch(LIST_CLIENTS, department_id, after, limit)]


LOCK_CLIENT = f"SELECT {CLIENT_VIEW} FROM auth_client WHERE id = $1 AND department_id = $2 FOR UPDATE"


async def lock_client(conn: Conn, department_id: UUID, client_id: UUID) -> ClientView:
    """The department's client, locked for a change; ``client_not_found`` if it is not this department's."""
    row = await conn.fetchrow(LOCK_CLIENT, client_id, department_id)
    if row is None:
        raise ClientNotFound()
    return ClientView(**dict(row))


REVOKE_CLIENT = f"""
UPDATE auth_client SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING {CLIENT_VIEW}
"""


async def revoke_client(conn: Conn, client_id: UUID, *, now: datetime) -> ClientView | None:
    """Revoke a live client; None if it was revoked already."""
    row = await conn.fetchrow(REVOKE_CLIENT, client_id, now)
    return None if row is None else ClientView(**dict(row))


ROTATE_SECRET = f"""
UPDATE auth_client SET secret_hash = $2, secret_rotated_at = $3 WHERE id = $1 RETURNING {CLIENT_VIEW}
"""


async def rotate_client_secret(conn: Conn, client_id: UUID, secret_hash: bytes, *, now: datetime) -> ClientView:
    # The route has just loaded the client, and clients are never deleted.
    return ClientView(**dict(one(await conn.fetchrow(ROTATE_SECRET, client_id, secret_hash, now), "rotated client")))


REMOVE_STAFF = "DELETE FROM auth_staff WHERE account_id = $1 AND department_id = $2 RETURNING roles"
# A removed member's logins end: their access tokens carry the roles until they expire otherwise.
END_LOGINS = """
UPDATE auth_refresh_family SET revoked_at = $2, revoked_reason = 'staff_removed'
WHERE account_id = $1 AND revoked_at IS NULL
"""


async def remove_staff(
    conn: Conn, department_id: UUID, account_id: UUID, *, now: datetime
) -> tuple[list[str], int] | None:
    """Remove the member and end their logins: (their roles, logins ended), or None if not staff here."""
    roles = await conn.fetchval(REMOVE_STAFF, account_id, department_id)
    if roles is None:
        return None
    ended = await conn.execute(END_LOGINS, account_id, now)
    return list(roles), int(ended.split()[-1])


# Re-granting in the same department replaces the roles; a grant in another department changes nothing
# (the WHERE makes the upsert a no-op), which the caller reports as a conflict.
GRANT_STAFF = """
INSERT INTO auth_staff (account_id, department_id, roles, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT ON CONSTRAINT auth_staff_pkey DO UPDATE
SET roles = EXCLUDED.roles, granted_by = EXCLUDED.granted_by, granted_at = EXCLUDED.granted_at
WHERE auth_staff.department_id = EXCLUDED.department_id
RETURNING account_id, department_id, roles, granted_at
"""


async def grant_staff(
    conn: Conn,
    *,
    account_id: UUID,
    department_id: UUID,
    roles: list[str],
    granted_by: str,
    now: datetime,
) -> StaffMember:
    try:
        row = await conn.fetchrow(GRANT_STAFF, account_id, department_id, roles, granted_by, now)
    except asyncpg.ForeignKeyViolationError as exc:
        if exc.constraint_name != "auth_staff_account_id_fkey":
            raise
        raise AccountNotFound(account_id=str(account_id)) from None
    if row is None:
        raise StaffInOtherDepartment(account_id=str(account_id))
    return StaffMember(**dict(row))


LIST_STAFF = """
SELECT account_id, department_id, roles, granted_at FROM auth_staff
WHERE department_id = $1 AND ($2::uuid IS NULL OR account_id > $2)
ORDER BY account_id
LIMIT $3
"""


async def list_staff(conn: Conn, department_id: UUID, *, after: UUID | None, limit: int) -> list[StaffMember]:
    return [StaffMember(**dict(r)) for r in await conn.fetch(LIST_STAFF, department_id, after, limit)]


IDP_COLUMNS = "id, name, issuer, public_key_pem, jwks, max_level, audience, created_at"
INSERT_IDP = f"""
INSERT INTO auth_identity_provider (id, name, issuer, public_key_pem, jwks, max_level, audience, created_by,
    created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING {IDP_COLUMNS}
"""


async def insert_identity_provider(
    conn: Conn,
    *,
    name: str,
    issuer: str,
    public_key_pem: str | None,
    jwks: dict[str, Any] | None,
    max_level: int,
    audience: str,
    created_by: str,
    now: datetime,
) -> IdentityProvider:
    try:
        row = await conn.fetchrow(
            INSERT_IDP, uuid7(), name, issuer, public_key_pem, jwks, max_level, audience, created_by, now
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "auth_identity_provider_issuer_key":
            raise
        raise IdentityProviderExists(issuer=issuer) from None
    return IdentityProvider(**dict(one(row, "inserted identity provider")))


async def get_identity_provider_by_issuer(conn: Conn, issuer: str) -> IdentityProvider | None:
    row = await conn.fetchrow(f"SELECT {IDP_COLUMNS} FROM auth_identity_provider WHERE issuer = $1", issuer)
    return None if row is None else IdentityProvider(**dict(row))


async def list_identity_providers(conn: Conn) -> list[IdentityProvider]:
    rows = await conn.fetch(f"SELECT {IDP_COLUMNS} FROM auth_identity_provider ORDER BY created_at")
    return [IdentityProvider(**dict(r)) for r in rows]
