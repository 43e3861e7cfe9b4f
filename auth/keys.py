"""Access-token signing keys: made on first start, sealed at rest, rotated without logging anyone out.

One ES256 key signs at a time. Rotation retires it: it signs nothing from then on (every process
asks the database which key signs before it signs), but stays published in the JWKS and accepted
for the tokens it signed before its retirement, for ``RETIRED_KEPT`` seconds, longer than any of
them lives. A token naming a retired key with an ``iat`` after the retirement is refused: only a
copy of the key could have made it. Revocation (``zhangban revoke-signing-key``) ends a
compromised key at once: it is no longer published, and its tokens are refused by every process
within ``RELOAD_EVERY`` seconds, the time each takes to read the keys again. A worker that meets an
unknown ``kid`` reloads at once, so a token signed by a freshly rotated key verifies everywhere.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from api.kernel import audit
from api.kernel.crypto import Keyring
from api.kernel.db import Conn

ACCESS_TTL = 900
RELOAD_EVERY = 2.0
RETIRED_KEPT = ACCESS_TTL + 600
# Unknown kids trigger a reload, but not more often than this (a flood of forged kids is cheap).
RELOAD_ON_MISS_EVERY = 5.0
CONTEXT = "auth_signing_key.private_key"
LOCK = int.from_bytes(hashlib.sha256(b"zhangban.signing-key").digest()[:8], "big", signed=True)

log = logging.getLogger("zhangban.auth")


@dataclass(frozen=True, repr=False)
class SigningKey:
    kid: str
    public_key: ec.EllipticCurvePublicKey
    private_key: ec.EllipticCurvePrivateKey | None
    jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, retired_at={self.retired_at!r})"


@dataclass(frozen=True)
class KeySet:
    """A snapshot: the key that signs now, and every key whose tokens may still be valid."""

    active: SigningKey
    published: dict[str, SigningKey]

    def jwks(self, *, now: datetime) -> dict[str, Any]:
        """The keys a verifier needs at ``now``: the signing key and retired keys still in their window."""
        cutoff = now - timedelta(seconds=RETIRED_KEPT)
        return {"keys": [k.jwk for k in self.published.values() if k.retired_at is None or k.retired_at > cutoff]}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (base64url SHA-256 of the required members), used as the kid."""
    required = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_key() -> tuple[str, bytes, dict[str, Any]]:
    """A fresh P-256 key: (kid, PKCS#8 PEM of the private key, public JWK)."""
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    kid = thumbprint(jwk)
    jwk.update({"kid": kid, "use": "sig", "alg": "ES256"})
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return kid, pem, jwk


INSERT_KEY = """
INSERT INTO auth_signing_key (kid, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4)
"""
RETIRE_OTHERS = "UPDATE auth_signing_key SET retired_at = $2 WHERE retired_at IS NULL AND kid <> $1"


async def _insert(conn: Conn, keyring: Keyring, now: datetime) -> str:
    kid, pem, jwk = new_key()
    await conn.execute(INSERT_KEY, kid, keyring.encrypt(pem, context=CONTEXT), jwk, now)
    return kid


async def ensure_signing_key(conn: Conn, keyring: Keyring, *, now: datetime) -> str | None:
    """Create the first key when none signs; return its kid, or None when one already exists.

    Runs in the caller's transaction; the advisory lock lets several workers start at once.
    """
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM auth_signing_key WHERE retired_at IS NULL)"):
        return None
    kid = await _insert(conn, keyring, now)
    await audit.append(conn, actor="system", action="auth.signing_key_created", subject=kid, at=now)
    return kid


async def rotate_signing_key(conn: Conn, keyring: Keyring, *, now: datetime, actor: str) -> str:
    """Make a new signing key and retire the current one (still published); return the new kid."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
    kid = await _insert(conn, keyring, now)
    retired = await conn.fetch(RETIRE_OTHERS + " RETURNING kid", kid, now)
    await audit.append(
        conn,
        actor=actor,
        action="auth.signing_key_rotated",
        subject=kid,
        data={"retired": [r["kid"] for r in retired]},
        at=now,
    )
    return kid


class UnknownSigningKey(LookupError):
    """No signing key has that kid."""


async def revoke_signing_key(conn: Conn, keyring: Keyring, kid: str, *, now: datetime, actor: str) -> str | None:
    """End a (compromised) key now: unpublished, its tokens refused; return the new signing kid if it was signing.

    Revoking a key already revoked changes nothing (and returns None). Runs in the caller's transaction.
    """
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
    row = await conn.fetchrow("SELECT retired_at, revoked_at FROM auth_signing_key WHERE kid = $1 FOR UPDATE", kid)
    if row is None:
        raise UnknownSigningKey(kid)
    if row["revoked_at"] is not None:
        return None
    replacement = None
    if row["retired_at"] is None:
        replacement = await _insert(conn, keyring, now)
    await conn.execute(
        "UPDATE auth_signing_key SET revoked_at = $2, retired_at = coalesce(retired_at, $2) WHERE kid = $1", kid, now
    )
    await audit.append(
        conn,
        actor=actor,
        action="auth.signing_key_revoked",
        subject=kid,
        data={"replaced_by": replacement} if replacement else {},
        at=now,
    )
    return replacement


SELECT_PUBLISHED = """
SELECT kid, private_key, public_jwk, created_at, retired_at FROM auth_signing_key
WHERE revoked_at IS NULL AND (retired_at IS NULL OR retired_at > $1)
ORDER BY created_at DESC
"""
SELECT_SIGNING_KID = "SELECT kid FROM auth_signing_key WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1"


async def load_keys(conn: Conn, keyring: Keyring, *, now: datetime) -> KeySet:
    """Every published key; only the signing key's private half is decrypted."""
    rows = await conn.fetch(SELECT_PUBLISHED, now - timedelta(seconds=RETIRED_KEPT))
    published: dict[str, SigningKey] = {}
    active = None
    for r in rows:
        jwk = dict(r["public_jwk"])
        public = ECAlgorithm.from_jwk(jwk)
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise TypeError(f"signing key {r['kid']}: the published JWK is not an EC public key")
        private = None
        if r["retired_at"] is None and active is None:
            loaded = serialization.load_pem_private_key(keyring.decrypt(r["private_key"], context=CONTEXT), None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise TypeError(f"signing key {r['kid']}: the stored private key is not an EC key")
            private = loaded
        key = SigningKey(r["kid"], public, private, jwk, r["created_at"], r["retired_at"])
        published[key.kid] = key
        if private is not None:
            active = key
    if active is None:
        raise RuntimeError("no signing key: run ensure_signing_key first")
    return KeySet(active, published)


class SigningKeys:
    """The per-process holder on ``app.state.signing_keys``: reloads on schedule and on unknown kids.

    The schedule follows the clock passed in (``now``), so a pinned clock moves it too.
    """

    def __init__(self, pool: asyncpg.Pool, keyring: Keyring) -> None:
        self._pool = pool
        self._keyring = keyring
        self._set: KeySet | None = None
        self._loaded_at: datetime | None = None
        self._last_miss_reload = 0.0
        self._lock = asyncio.Lock()

    async def start(self, *, now: datetime) -> None:
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                await ensure_signing_key(conn, self._keyring, now=now)
            self._set = await load_keys(conn, self._keyring, now=now)
        self._loaded_at = now

    async def reload(self, *, now: datetime) -> KeySet:
        async with self._pool.acquire() as conn:
            self._set = await load_keys(conn, self._keyring, now=now)
        self._loaded_at = now
        return self._set

    def _fresh(self, now: datetime) -> bool:
        loaded = self._loaded_at
        return (
            self._set is not None and loaded is not None and loaded <= now <= loaded + timedelta(seconds=RELOAD_EVERY)
        )

    async def current(self, *, now: datetime) -> KeySet:
        """The key set, read again when older than ``RELOAD_EVERY`` (another process may have rotated or revoked)."""
        if not self._fresh(now):
            async with self._lock:
                if not self._fresh(now):  # another request may have read it while this one waited
                    try:
                        await self.reload(now=now)
                    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                        if self._set is None:
                            raise
                        # The database is away: keep verifying with the last keys rather than refuse everyone.
                        log.warning("could not read the signing keys (%s); keeping the last ones", type(exc).__name__)
        assert self._set is not None
        return self._set

    async def for_signing(self, *, now: datetime) -> KeySet:
        """The key set whose ``active`` key signs now, as the database says: a retired key never signs."""
        async with self._pool.acquire() as conn:
            kid = await conn.fetchval(SELECT_SIGNING_KID)
        keys = await self.current(now=now)
        if keys.active.kid != kid:
            keys = await self.reload(now=now)
        return keys

    async def verification_key(self, kid: str, *, now: datetime) -> SigningKey | None:
        """The published key with this kid, reloading once if it is not known yet."""
        keys = await self.current(now=now)
        key = keys.published.get(kid)
        if key is None and time.monotonic() - self._last_miss_reload > RELOAD_ON_MISS_EVERY:
            self._last_miss_reload = time.monotonic()
            key = (await self.reload(now=now)).published.get(kid)
        if key is not None and key.retired_at is not None and key.retired_at <= now - timedelta(seconds=RETIRED_KEPT):
            return None
        return key


def signed_after_retirement(key: SigningKey, iat: int) -> bool:
    """A token naming ``key`` issued after its retirement: the key signs nothing then, so it is forged."""
    return key.retired_at is not None and iat > key.retired_at.timestamp()
