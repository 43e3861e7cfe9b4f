"""Real-person authentication (实人认证) rules: assurance levels and identity-provider assertions. Pure.

Levels: L1 the account controls a phone or WeChat login; L2 name and ID number confirmed by an
authority (an identity provider's assertion with ``acr`` L2); L3 the face matched the ID photo
(WeChat face verification, or an assertion with ``acr`` L3 from a provider allowed to say so) or a
clerk saw the person with the physical ID card at a service window.

An assertion is a JWT signed by a provider an operator registered (``POST
/v1/admin/identity-providers``): ``iss`` exactly the provider's issuer, ``aud`` the provider's
``audience`` (our client id with it; a string, or a list of that one value), ``sub`` the lowercase
hex SHA-256 of the (upper-cased) ID number, ``nonce`` the session's nonce (a session's nonce is used
once: presented again after its session closed, it is a replay), ``acr`` "L2" or "L3" (at most the
provider's ``max_level``), ``iat`` and ``exp`` at most ``MAX_LIFETIME`` after it, not yet past.
Accepted algorithms follow the provider's key: ES256 (P-256), RS256 / PS256 (RSA ≥ 2048 bits),
EdDSA (Ed25519). Every failure names a stable ``reason``.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from api.kernel.identifiers import normalize_id_number
from auth.errors import IdentityProviderKeyInvalid, RealnameFailed
from auth.store.admin import IdentityProvider
from auth.tokens import LEVELS

LEEWAY = 30
# An assertion lives minutes: a longer one is a bearer credential that outlives its session.
MAX_LIFETIME = 600
FACE_PASSED = 10000


def subject_of(id_number: str) -> str:
    """The assertion ``sub`` for an ID number: lowercase hex SHA-256 of its normalised form."""
    return hashlib.sha256(normalize_id_number(id_number).encode()).hexdigest()


def _algorithms_for(key: Any) -> list[str]:
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return ["ES256"]
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return ["RS256", "PS256"]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ["EdDSA"]
    return []


def provider_keys(public_key_pem: str | None, jwks: dict[str, Any] | None) -> list[tuple[str | None, Any, list[str]]]:
    """The usable keys of a provider as (kid, key, algorithms); 422 when there is none."""
    keys: list[tuple[str | None, Any, list[str]]] = []
    try:
        if public_key_pem:
            key = serialization.load_pem_public_key(public_key_pem.encode())
            keys.append((None, key, _algorithms_for(key)))
        elif jwks:
            for jwk in jwt.PyJWKSet.from_dict(jwks).keys:
                keys.append((jwk.key_id, jwk.key, _algorithms_for(jwk.key)))
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise IdentityProviderKeyInvalid(f"the key does not load: {type(exc).__name__}") from None
    keys = [k for k in keys if k[2]]
    if not keys:
        raise IdentityProviderKeyInvalid("no usable key: use EC P-256, RSA of at least 2048 bits, or Ed25519")
    return keys


def audience_of(provider: IdentityProvider, default: str) -> str:
    """The ``aud`` the provider's assertions must carry (providers registered without one: ``default``)."""
    return provider.audience or default


def unverified_claim(assertion: str, name: str) -> Any:
    """One claim of an assertion, nothing verified (to look things up before checking)."""
    try:
        return jwt.decode(assertion, options={"verify_signature": False}).get(name)
    except jwt.PyJWTError:
        return None


def unverified_issuer(assertion: str) -> str:
    """The ``iss`` an assertion claims, to find its provider (nothing is trusted yet)."""
    try:
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        raise RealnameFailed("the assertion is not a JWT", reason="malformed") from None
    if not isinstance(issuer, str) or not issuer:
        raise RealnameFailed("the assertion names no issuer", reason="malformed")
    return issuer


def verify_assertion(
    assertion: str,
    provider: IdentityProvider,
    *,
    audience: str,
    nonce: str,
    nonce_used: bool,
    id_number: str,
    now: datetime,
) -> int:
    """Check signature, issuer, audience, lifetime, nonce, subject and acr; return the proven level (2 or 3).

    ``nonce_used``: the assertion's nonce is another session's, one already closed (a replay).
    """
    try:
        kid = jwt.get_unverified_header(assertion).get("kid")
    except jwt.PyJWTError:
        raise RealnameFailed("the assertion is not a JWT", reason="malformed") from None
    keys = provider_keys(provider.public_key_pem, provider.jwks)
    candidates = [k for k in keys if kid is None or k[0] in (None, kid)]
    claims = None
    for _, key, algorithms in candidates:
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=algorithms,
                issuer=provider.issuer,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "require": ["iss", "sub", "acr"],
                },
            )
            break
        except jwt.MissingRequiredClaimError as exc:
            raise RealnameFailed(f"the assertion lacks the claim {exc.claim}", reason="malformed") from None
        except jwt.PyJWTError:
            continue
    if claims is None:
        raise RealnameFailed("the assertion's signature does not verify", reason="signature")
    _check_audience(claims.get("aud"), audience)
    _check_lifetime(claims.get("iat"), claims.get("exp"), now)
    claimed_nonce = claims.get("nonce")
    if not isinstance(claimed_nonce, str) or not claimed_nonce:
        raise RealnameFailed("the assertion carries no nonce", reason="nonce_missing")
    if nonce_used:
        raise RealnameFailed("the assertion's nonce was already used", reason="nonce_used")
    if not hmac.compare_digest(claimed_nonce.encode(), nonce.encode()):
        raise RealnameFailed("the assertion was made for another session", reason="nonce_mismatch")
    if not hmac.compare_digest(str(claims["sub"]).lower(), subject_of(id_number)):
        raise RealnameFailed("the assertion is about another ID number", reason="subject_mismatch")
    level = LEVELS.get(str(claims["acr"]), 0)
    if level < 2:
        raise RealnameFailed("the assertion's acr must be L2 or L3", reason="acr_too_low")
    if level > provider.max_level:
        raise RealnameFailed("this provider may not assert that level", reason="acr_not_allowed")
    return level


def _check_audience(aud: Any, ours: str) -> None:
    if aud is None or aud == "" or aud == []:
        raise RealnameFailed("the assertion names no audience", reason="audience_missing")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if not isinstance(aud, str) or not hmac.compare_digest(aud.encode(), ours.encode()):
        raise RealnameFailed("the assertion was made for another audience", reason="audience_mismatch")


def _check_lifetime(iat: Any, exp: Any, now: datetime) -> None:
    numbers = (int, float)
    if not isinstance(iat, numbers) or not isinstance(exp, numbers) or isinstance(iat, bool) or isinstance(exp, bool):
        raise RealnameFailed("the assertion must carry iat and exp", reason="lifetime_unbounded")
    if exp - iat > MAX_LIFETIME:
        raise RealnameFailed(f"the assertion may live at most {MAX_LIFETIME} seconds", reason="lifetime_too_long")
    if iat - LEEWAY > now.timestamp():
        raise RealnameFailed("the assertion is issued in the future", reason="issued_in_future")
    if exp + LEEWAY <= now.timestamp():
        raise RealnameFailed("the assertion has expired", reason="expired")
