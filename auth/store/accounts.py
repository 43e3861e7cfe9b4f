"""Accounts and their staff membership: SQL next to the one function that runs it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.db import Conn, one
from api.kernel.ids import uuid7
from auth.errors import PhoneInUse


class Account(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    roles: list[str]
    person_id: UUID | None
    assurance_level: int
    verified_at: datetime | None
    wechat_openid: str | None


class Staff(msgspec.Struct, frozen=True, kw_only=True):
    department_id: UUID
    department_name: str
    roles: list[str]


COLUMNS = "id, roles, person_id, assurance_level, verified_at, wechat_openid"


def _account(row: asyncpg.Record | None) -> Account | None:
    return None if row is None else Account(**dict(row))


async def get_account(conn: Conn, account_id: UUID, *, for_update: bool = False) -> Account | None:
    lock = " FOR UPDATE" if for_update else ""
    return _account(await conn.fetchrow(f"SELECT {COLUMNS} FROM auth_account WHERE id = $1{lock}", account_id))


async def find_account_by_openid(conn: Conn, openid: str) -> Account | None:
    return _account(await conn.fetchrow(f"SELECT {COLUMNS} FROM auth_account WHERE wechat_openid = $1", openid))


async def find_account_by_unionid(conn: Conn, unionid: str) -> Account | None:
    return _account(await conn.fetchrow(f"SELECT {COLUMNS} FROM auth_account WHERE wechat_unionid = $1", unionid))


UPSERT_WECHAT = f"""
INSERT INTO auth_account (id, wechat_openid, wechat_unionid, wechat_session_key, created_at, last_login_at)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT ON CONSTRAINT auth_account_wechat_openid_key DO UPDATE
SET wechat_session_key = EXCLUDED.wechat_session_key,
    wechat_unionid = COALESCE(auth_account.wechat_unionid, EXCLUDED.wechat_unionid),
    last_login_at = EXCLUDED.last_login_at
RETURNING {COLUMNS}
"""

ATTACH_OPENID = f"""
UPDATE auth_account SET wechat_openid = $2, wechat_session_key = $3, last_login_at = $4 WHERE id = $1
RETURNING {COLUMNS}
"""


async def login_wechat(
    conn: Conn, *, openid: str, unionid: str | None, session_key: bytes, now: datetime
) -> tuple[Account, bool]:
    """The account of this WeChat user (by openid, else unionid), made on first login; (account, created)."""
    known = await find_account_by_openid(conn, openid)
    if known is None and unionid:
        by_union = await find_account_by_unionid(conn, unionid)
        if by_union is not None:
            # The same person through another of our WeChat apps: this app's openid joins the account.
            row = await conn.fetchrow(ATTACH_OPENID, by_union.id, openid, session_key, now)
            return Account(**dict(one(row, "account joined by unionid"))), False
    row = await conn.fetchrow(UPSERT_WECHAT, uuid7(), openid, unionid, session_key, now)
    return Account(**dict(one(row, "upserted WeChat account"))), known is None


UPSERT_PHONE = f"""
INSERT INTO auth_account (id, phone, phone_index, created_at, last_login_at)
VALUES ($1, $2, $3, $4, $4)
ON CONFLICT ON CONSTRAINT auth_account_phone_index_key DO UPDATE SET last_login_at = EXCLUDED.last_login_at
RETURNING {COLUMNS}, (xmax = 0) AS created
"""


async def login_phone(conn: Conn, *, phone: bytes, phone_index: bytes, now: datetime) -> tuple[Account, bool]:
    """The account holding this phone, made on first login; (account, created)."""
    row = dict(one(await conn.fetchrow(UPSERT_PHONE, uuid7(), phone, phone_index, now), "upserted phone account"))
    created = row.pop("created")
    return Account(**row), created


SET_PHONE = "UPDATE auth_account SET phone = $2, phone_index = $3 WHERE id = $1"


async def set_phone(conn: Conn, account_id: UUID, *, phone: bytes, phone_index: bytes) -> None:
    try:
        await conn.execute(SET_PHONE, account_id, phone, phone_index)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "auth_account_phone_index_key":
            raise
        raise PhoneInUse("log in with this phone by SMS instead") from None


async def get_phone(conn: Conn, account_id: UUID) -> bytes | None:
    return await conn.fetchval("SELECT phone FROM auth_account WHERE id = $1", account_id)


FIND_OPERATOR = f"SELECT {COLUMNS} FROM auth_account WHERE 'operator' = ANY (roles) ORDER BY created_at LIMIT 1"
INSERT_OPERATOR = f"""
INSERT INTO auth_account (id, roles, created_at) VALUES ($1, '{{operator}}', $2) RETURNING {COLUMNS}
"""


async def ensure_operator(conn: Conn, *, now: datetime) -> tuple[Account, bool]:
    """The first operator account, made if there is none; (account, created)."""
    known = _account(await conn.fetchrow(FIND_OPERATOR))
    if known is not None:
        return known, False
    return Account(**dict(one(await conn.fetchrow(INSERT_OPERATOR, uuid7(), now), "inserted operator"))), True


GET_STAFF = """
SELECT s.department_id, d.name AS department_name, s.roles
FROM auth_staff s JOIN department d ON d.id = s.department_id
WHERE s.account_id = $1
"""


async def get_staff(conn: Conn, account_id: UUID) -> Staff | None:
    row = await conn.fetchrow(GET_STAFF, account_id)
    return None if row is None else Staff(**dict(row))


# --- staff logins' second factor (TOTP) -------------------------------------------------------------

GET_TOTP = "SELECT secret, confirmed_at, last_step FROM auth_totp WHERE account_id = $1"


async def get_totp(conn: Conn, account_id: UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    """The account's authenticator (sealed secret, when confirmed, the newest step used), if any."""
    return await conn.fetchrow(GET_TOTP + (" FOR UPDATE" if for_update else ""), account_id)


PUT_TOTP = """
INSERT INTO auth_totp (account_id, secret, created_at) VALUES ($1, $2, $3)
ON CONFLICT (account_id) DO UPDATE SET secret = EXCLUDED.secret, created_at = EXCLUDED.created_at, last_step = 0
WHERE auth_totp.confirmed_at IS NULL
"""


async def put_totp(conn: Conn, account_id: UUID, secret: bytes, *, now: datetime) -> bool:
    """Keep a new, unconfirmed secret (replacing an unconfirmed one); False when one is already confirmed."""
    return not (await conn.execute(PUT_TOTP, account_id, secret, now)).endswith(" 0")


async def use_totp(conn: Conn, account_id: UUID, step: int, *, now: datetime) -> None:
    """Spend the time step (a code is good once); the first good code confirms the enrolment."""
    await conn.execute(
        "UPDATE auth_totp SET last_step = $2, confirmed_at = coalesce(confirmed_at, $3) WHERE account_id = $1",
        account_id,
        step,
        now,
    )


async def delete_totp(conn: Conn, account_id: UUID) -> bool:
    return not (await conn.execute("DELETE FROM auth_totp WHERE account_id = $1", account_id)).endswith(" 0")


async def pass_second_factor(conn: Conn, family_id: UUID, account_id: UUID, *, now: datetime) -> bool:
    """Mark a live login of the account as having passed its second factor; False if it is not one."""
    done = await conn.execute(
        "UPDATE auth_refresh_family SET second_factor_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
        family_id,
        account_id,
        now,
    )
    return not done.endswith(" 0")


LIVE_FAMILIES = """
UPDATE auth_refresh_family SET revoked_at = $2, revoked_reason = $3 WHERE account_id = $1 AND revoked_at IS NULL
RETURNING id
"""


async def revoke_logins(conn: Conn, account_id: UUID, *, reason: str, now: datetime) -> int:
    """End every live login of the account; how many there were."""
    return len(await conn.fetch(LIVE_FAMILIES, account_id, now, reason))
