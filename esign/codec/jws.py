"""Compact JWS (RFC 7515) signed by the platform root, for the trust list and the status lists.

PyJWT's ``PyJWS`` does the signing and the ES256 check (its signatures are raw ``r ‖ s`` as JOSE
requires); the payload is plain JSON read here, so that no registered-claim rule of a JWT library
(``exp`` in the past, ``iat`` in the future) applies a clock behind our back: freshness is decided
by the callers, from the ``now`` they are given.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

MAX_JWS_CHARS = 16 * 1024 * 1024


def sign_jws(payload: dict[str, Any], key: ec.EllipticCurvePrivateKey, *, typ: str, kid: str) -> str:
    """ES256 compact JWS of the JSON ``payload`` with header ``{alg, typ, kid}``."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return jwt.PyJWS().encode(body, key, algorithm="ES256", headers={"typ": typ, "kid": kid})


def verify_jws(token: str, public_key: ec.EllipticCurvePublicKey, *, typ: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, payload)`` of an ES256 JWS of type ``typ`` signed by ``public_key``; raises ``ValueError``."""
    if not isinstance(token, str) or len(token) > MAX_JWS_CHARS:
        raise ValueError("not a compact JWS of an acceptable size")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != typ or header.get("alg") != "ES256":
            raise ValueError(f"header must say alg ES256 and typ {typ}")
        decoded = jwt.PyJWS().decode_complete(token, public_key, algorithms=["ES256"])
        payload = json.loads(decoded["payload"])
    except jwt.PyJWTError as exc:
        raise ValueError(f"JWS rejected: {exc}") from exc
    except (UnicodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError("JWS payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise ValueError("JWS payload is not a JSON object")
    return header, payload
