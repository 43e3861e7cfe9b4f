"""Access tokens (ES256 JWTs, RFC 9068 profile) and opaque refresh tokens. Pure: the clock is passed in.

Access-token claims:

- ``iss`` the public base URL; ``sub`` the account id (for a department system: its client id);
  ``iat``, ``exp`` (``iat`` + 15 minutes unless stated), ``jti`` a UUIDv7;
- ``roles``: ``citizen``, ``operator``; staff also get ``staff`` and their department roles
  (``clerk``, ``approver``, ``issuer``, ``dept_admin``); department systems get ``dept_client``;
- ``acr``: the account's assurance level as ``"L1"`` (phone / WeChat), ``"L2"`` (name and ID number
  checked by an authority) or ``"L3"`` (face or in person); absent for department systems;
- ``auth_time``: when that level was last proven — the login for L1, the real-name verification
  for L2 and L3 — so a step-up can ask for "L3 within the last five minutes";
- ``pid`` the person id once the account is verified; ``dept`` the department of staff and clients;
  ``scope`` (space-separated) and ``client_id`` for department systems; ``sid`` the refresh family,
  which logout revokes;
- ``org`` the business entity (its holder id) the caller acts for, and ``org_role`` on what ground
  (``legal_representative``, or ``agent`` for a 经办人, whose token also names the authorisation in
  ``dlg`` and ends when it does), present only in a token from ``POST /v1/auth/act-as``: every route
  that means "the caller's person" then means that entity, while ``pid`` still names the person;
- ``psn`` the person a 代办人 acts for (their person id), with ``dlg`` the authorisation they gave; as with
  ``org``, every route meaning "the caller's person" then means that person, within the authorisation's scope;
- ``amr`` how the login was proven (RFC 8176): ``sms`` or ``wechat``, plus ``otp`` and ``mfa`` once a
  member of staff passed the second factor (a TOTP code) — only then does the token carry staff roles.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric import ec

from auth.keys import ACCESS_TTL, SigningKey
from auth.models import Level

REFRESH_TTL = timedelta(days=30)
LEVEL_NAMES: dict[int, Level] = {1: "L1", 2: "L2", 3: "L3"}
LEVELS: dict[str, int] = {name: level for level, name in LEVEL_NAMES.items()}
# Small clock differences between workers must not reject a token signed a moment ago.
LEEWAY = 5


class AccessClaims(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    iss: str
    sub: str
    iat: int
    exp: int
    jti: str
    roles: list[str]
    auth_time: int
    acr: str | None = None
    pid: str | None = None
    dept: str | None = None
    scope: str | None = None
    client_id: str | None = None
    sid: str | None = None
    org: str | None = None
    org_role: str | None = None
    dlg: str | None = None
    psn: str | None = None
    amr: list[str] | None = None


class InvalidToken(Exception):
    """The token is malformed, forged, expired or not ours; the reason stays in the server."""


def level_name(level: int) -> Level:
    return LEVEL_NAMES[level]


def encode_access(claims: AccessClaims, key: SigningKey) -> str:
    """Sign the claims with the active key; the header names the key (``kid``) and the profile."""
    if key.private_key is None:
        raise RuntimeError("a retired key cannot sign")
    return jwt.encode(
        msgspec.to_builtins(claims), key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "at+jwt"}
    )


def unverified_kid(token: str) -> str:
    """The ``kid`` the token claims to be signed with (not yet trusted)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("malformed") from None
    kid = header.get("kid")
    if header.get("alg") != "ES256" or not isinstance(kid, str):
        raise InvalidToken("algorithm or kid")
    return kid


def decode_access(token: str, public_key: ec.EllipticCurvePublicKey, *, issuer: str, now: datetime) -> AccessClaims:
    """Verify signature, issuer and expiry against ``now``; return the claims."""
    try:
        payload = jwt.decode(
            token,
            public_key,
            algorithms=["ES256"],
            issuer=issuer,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "require": ["iss", "sub", "iat", "exp", "jti"],
            },
        )
        claims = msgspec.convert(payload, AccessClaims)
    except (jwt.PyJWTError, msgspec.ValidationError):
        raise InvalidToken("signature or claims") from None
    if claims.exp + LEEWAY <= now.timestamp():
        raise InvalidToken("expired")
    return claims


def expires(now: datetime, ttl: int = ACCESS_TTL) -> tuple[int, int]:
    """(iat, exp) for a token made ``now``."""
    iat = int(now.timestamp())
    return iat, iat + ttl


# --- refresh tokens and client secrets: random, shown once, kept only as SHA-256 -----------------


def new_secret(prefix: str) -> tuple[str, bytes]:
    """A 256-bit random secret with a recognisable prefix, and the hash to store."""
    value = prefix + secrets.token_urlsafe(32)
    return value, secret_hash(value)


def secret_hash(value: str) -> bytes:
    # 256 random bits need no slow hash: guessing is hopeless either way, and lookups stay O(1).
    return hashlib.sha256(value.encode()).digest()
