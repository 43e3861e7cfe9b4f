"""Login sessions: token pairs, refresh-token rotation with reuse detection, logout.

A session ("refresh family") is one login on one device. Every refresh spends the presented token and
issues the next; a spent token presented again means two parties hold the family (a thief and the
owner), so the whole family is revoked and both must log in again. Each pair re-reads the account,
so roles granted and assurance proven since the last refresh show up in the next access token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from api.kernel import audit, outbox
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from auth import alerts
from auth.errors import RefreshTokenInvalid, RefreshTokenReused
from auth.keys import ACCESS_TTL, KeySet
from auth.models import AccountSummary, TokenPair
from auth.store import accounts as store
from auth.tokens import REFRESH_TTL, AccessClaims, encode_access, expires, level_name, new_secret, secret_hash

REFRESH_PREFIX = "zbr_"


def account_claims(
    account: store.Account,
    staff: store.Staff | None,
    *,
    session_id: UUID | None,
    login_time: datetime,
    issuer: str,
    now: datetime,
    ttl: int = ACCESS_TTL,
    amr: list[str] | None = None,
) -> AccessClaims:
    """The access-token claims of an account (see ``auth.tokens`` for what each one means).

    ``staff`` is given only for a login that passed its second factor (``amr`` then names it): staff
    roles never ride on a login proven by one factor alone.
    """
    roles = list(account.roles)
    dept = None
    if staff is not None:
        roles += ["staff", *staff.roles]
        dept = str(staff.department_id)
    # For L2/L3 the level was proven by the real-name check, not by this login.
    proven = account.verified_at if account.assurance_level > 1 and account.verified_at else login_time
    iat, exp = expires(now, ttl)
    return AccessClaims(
        iss=issuer,
        sub=str(account.id),
        iat=iat,
        exp=exp,
        jti=str(uuid7()),
        roles=roles,
        auth_time=int(proven.timestamp()),
        acr=level_name(account.assurance_level),
        pid=str(account.person_id) if account.person_id else None,
        dept=dept,
        sid=str(session_id) if session_id else None,
        amr=amr,
    )


# RFC 8176 names of how a login was proven; a WeChat login has none registered.
AMR = {"sms": "sms", "wechat": "wechat"}
SECOND_FACTOR_AMR = ["otp", "mfa"]
GET_FAMILY = "SELECT method, second_factor_at FROM auth_refresh_family WHERE id = $1"


INSERT_FAMILY = """
INSERT INTO auth_refresh_family (id, account_id, method, auth_time, created_at) VALUES ($1, $2, $3, $4, $4)
"""
INSERT_TOKEN = """
INSERT INTO auth_refresh_token (token_hash, family_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)
"""


async def pair(
    conn: Conn,
    keys: KeySet,
    account: store.Account,
    *,
    family_id: UUID,
    login_time: datetime,
    issuer: str,
    now: datetime,
) -> TokenPair:
    """The next token pair of a login: staff roles only once it passed the second factor (``second_factor`` says
    which step is missing otherwise)."""
    staff = await store.get_staff(conn, account.id)
    family = await conn.fetchrow(GET_FAMILY, family_id)
    assert family is not None, "a login's pair is made inside it"
    amr = [AMR[family["method"]]] if family["method"] in AMR else []
    second_factor: Literal["totp", "totp_enrol"] | None = None
    if family["second_factor_at"] is not None:
        amr += SECOND_FACTOR_AMR
    elif staff is not None:
        # Staff roles wait for the second factor; the answer says which step the client runs next.
        second_factor = "totp" if await store.get_totp(conn, account.id) is not None else "totp_enrol"
        staff = None
    claims = account_claims(
        account, staff, session_id=family_id, login_time=login_time, issuer=issuer, now=now, amr=amr or None
    )
    refresh, digest = new_secret(REFRESH_PREFIX)
    await conn.execute(INSERT_TOKEN, digest, family_id, now, now + REFRESH_TTL)
    return TokenPair(
        access_token=encode_access(claims, keys.active),
        refresh_token=refresh,
        expires_in=ACCESS_TTL,
        account=AccountSummary(
            id=account.id, assurance_level=level_name(account.assurance_level), person_id=account.person_id
        ),
        second_factor=second_factor,
    )


async def open_family(conn: Conn, account_id: UUID, *, method: str, now: datetime) -> UUID:
    """A new login (refresh family); its id is its access tokens' ``sid``, which logout revokes."""
    family_id = uuid7()
    await conn.execute(INSERT_FAMILY, family_id, account_id, method, now)
    return family_id


async def start_session(
    conn: Conn,
    keys: KeySet,
    keyring: Keyring,
    account: store.Account,
    *,
    method: str,
    created: bool,
    issuer: str,
    client_address: str | None = None,
    now: datetime,
) -> TokenPair:
    """A new refresh family and its first token pair; audited as a login (in the caller's transaction)."""
    family_id = await open_family(conn, account.id, method=method, now=now)
    await audit.append(
        conn,
        actor=f"account:{account.id}",
        action="auth.login",
        subject=str(account.id),
        data={"method": method, "session": str(family_id), "new_account": created},
        client_address=client_address,
        at=now,
    )
    if account.person_id is not None:
        # A login bound to a verified identity: the person hears of it, with a "not me".
        await alerts.bound(
            conn,
            keyring,
            account_id=account.id,
            person_id=account.person_id,
            login_id=family_id,
            method=method,
            base_url=issuer,
            now=now,
        )
    else:
        await outbox.enqueue(
            conn,
            "notify",
            {"event": "auth.login", "account_id": str(account.id), "method": method, "new_account": created},
            dedup_key=f"auth.login:{family_id}",
        )
    return await pair(conn, keys, account, family_id=family_id, login_time=now, issuer=issuer, now=now)


LOCK_TOKEN = """
SELECT t.family_id, t.expires_at, t.used_at, f.account_id, f.auth_time, f.revoked_at
FROM auth_refresh_token t JOIN auth_refresh_family f ON f.id = t.family_id
WHERE t.token_hash = $1
FOR UPDATE OF t, f
"""
MARK_USED = "UPDATE auth_refresh_token SET used_at = $2 WHERE token_hash = $1"
REVOKE_FAMILY = """
UPDATE auth_refresh_family SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL
"""


async def refresh(
    conn: Conn,
    keys: KeySet,
    token: str,
    *,
    issuer: str,
    client_address: str | None = None,
    now: datetime,
) -> TokenPair:
    """Spend ``token`` and return the next pair of its family.

    A spent token revokes the family and raises :class:`RefreshTokenReused` *after* writing the
    revocation: the caller must commit before letting the problem through.
    """
    row = await conn.fetchrow(LOCK_TOKEN, secret_hash(token))
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        raise RefreshTokenInvalid("log in again")
    if row["used_at"] is not None:
        await conn.execute(REVOKE_FAMILY, row["family_id"], now, "reuse")
        await audit.append(
            conn,
            actor=f"account:{row['account_id']}",
            action="auth.refresh_reused",
            subject=str(row["family_id"]),
            data={"spent_at": row["used_at"].isoformat()},
            client_address=client_address,
            at=now,
        )
        raise RefreshTokenReused("this refresh token was already used; every session of this login is revoked")
    await conn.execute(MARK_USED, secret_hash(token), now)
    account = await store.get_account(conn, row["account_id"])
    assert account is not None
    return await pair(
        conn, keys, account, family_id=row["family_id"], login_time=row["auth_time"], issuer=issuer, now=now
    )


FAMILY_OF_TOKEN = "SELECT family_id FROM auth_refresh_token WHERE token_hash = $1"


async def logout(
    conn: Conn,
    *,
    account_id: UUID | None,
    session_id: UUID | None,
    refresh_token: str | None,
    now: datetime,
) -> bool:
    """Revoke the family named by the refresh token or the access token's session; True if one was live."""
    family_id = session_id
    if refresh_token:
        family_id = await conn.fetchval(FAMILY_OF_TOKEN, secret_hash(refresh_token)) or family_id
    if family_id is None:
        return False
    owner = await conn.fetchval("SELECT account_id FROM auth_refresh_family WHERE id = $1", family_id)
    if owner is None or (account_id is not None and owner != account_id):
        return False
    done = await conn.execute(REVOKE_FAMILY, family_id, now, "logout")
    if done.endswith(" 0"):
        return False
    await audit.append(conn, actor=f"account:{owner}", action="auth.logout", subject=str(family_id), at=now)
    return True
