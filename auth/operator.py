"""Bootstrap helpers behind ``zhangban operator-token``, ``rotate-signing-key`` and ``revoke-signing-key``."""

from __future__ import annotations

from datetime import datetime

from api.kernel import audit
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from auth import flows as service
from auth import keys
from auth.store import accounts as store
from auth.tokens import encode_access

MAX_TTL = 7 * 86400


async def operator_token(conn: Conn, keyring: Keyring, *, issuer: str, ttl: int, now: datetime) -> str:
    """An operator access token (the first operator account is made if there is none); audited.

    Each token is a login of its own (a refresh family of method ``operator``, without refresh
    tokens), so ``POST /v1/auth/logout`` with it ends it for the rest of its life. A token outliving
    ``keys.RETIRED_KEPT`` after a key rotation stops verifying: mint a new one.
    """
    if not 60 <= ttl <= MAX_TTL:
        raise ValueError(f"ttl must be between 60 and {MAX_TTL} seconds")
    async with conn.transaction():
        await keys.ensure_signing_key(conn, keyring, now=now)
        account, created = await store.ensure_operator(conn, now=now)
        keyset = await keys.load_keys(conn, keyring, now=now)
        family_id = await service.open_family(conn, account.id, method="operator", now=now)
        claims = service.account_claims(
            account, None, session_id=family_id, login_time=now, issuer=issuer, now=now, ttl=ttl
        )
        await audit.append(
            conn,
            actor="cli",
            action="auth.operator_token",
            subject=str(account.id),
            data={"ttl": ttl, "new_account": created, "jti": claims.jti, "session": str(family_id)},
            at=now,
        )
    return encode_access(claims, keyset.active)


async def rotate(conn: Conn, keyring: Keyring, *, actor: str, now: datetime) -> str:
    """Rotate the signing key now; return the new kid. Running servers sign with it from their next token."""
    async with conn.transaction():
        await keys.ensure_signing_key(conn, keyring, now=now)
        return await keys.rotate_signing_key(conn, keyring, now=now, actor=actor)


async def revoke(conn: Conn, keyring: Keyring, kid: str, *, actor: str, now: datetime) -> str | None:
    """Revoke a signing key now (raises ``keys.UnknownSigningKey``); the new signing kid if it was signing."""
    async with conn.transaction():
        return await keys.revoke_signing_key(conn, keyring, kid, now=now, actor=actor)
