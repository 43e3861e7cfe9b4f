"""COSE_Sign1 (RFC 9052) as the ``ZB1:`` tokens use it: CBOR tag 18, ``[protected, {}, payload,
signature]``, with a protected header of exactly ``{1: alg, 4: kid}``.

CBOR is cbor2's. Decoding is strict because a token is attacker-controlled input and every
accepted byte string should have exactly one meaning: the outer structure must re-encode to the
same bytes (no indefinite lengths, no over-long heads, nothing trailing), the unprotected header
must be empty, and the protected header may name only ``alg`` and ``kid``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass

import cbor2

from esign.errors import MalformedToken
from esign.keys import ALG_BY_COSE, COSE_ALGS

TAG_SIGN1 = 18
KID_LENGTH = 8


@dataclass(frozen=True, slots=True)
class Sign1:
    """A decoded COSE_Sign1: the raw protected header and payload bytes as signed, plus alg and kid."""

    protected: bytes
    alg: str
    kid: bytes
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        """The ``Sig_structure`` bytes the signature covers."""
        return sig_structure(self.protected, self.payload)


@functools.lru_cache(maxsize=256)  # a handful of seals sign thousands of tokens each
def protected_header(alg: str, kid: bytes) -> bytes:
    """The protected header bytes ``{1: alg, 4: kid}`` for ``"ES256"`` or ``"SM2"``."""
    if len(kid) != KID_LENGTH:
        raise ValueError("kid must be 8 bytes")
    return cbor2.dumps({1: COSE_ALGS[alg], 4: kid})


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """``["Signature1", protected, b"", payload]`` encoded: what the seal signs."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def encode_sign1(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    """The tagged COSE_Sign1 bytes."""
    return cbor2.dumps(cbor2.CBORTag(TAG_SIGN1, [protected, {}, payload, signature]))


def _load_one(data: bytes) -> object:
    stream = io.BytesIO(data)
    item = cbor2.CBORDecoder(stream).decode()
    if stream.tell() != len(data):
        raise MalformedToken("trailing bytes after the CBOR item")
    return item


def decode_sign1(data: bytes) -> Sign1:
    """Parse tagged COSE_Sign1 bytes; raises ``MalformedToken`` for anything else."""
    try:
        item = _load_one(data)
        header = None
        # cbor2 hands back the contents of a tag as immutable types (tuple, frozendict).
        value = item.value if isinstance(item, cbor2.CBORTag) and item.tag == TAG_SIGN1 else None
        if isinstance(value, list | tuple) and len(value) == 4:
            protected, unprotected, payload, signature = value
            if (
                isinstance(protected, bytes)
                and isinstance(unprotected, Mapping)
                and not unprotected
                and isinstance(payload, bytes)
                and isinstance(signature, bytes)
                and encode_sign1(protected, payload, signature) == data
            ):
                header = _load_one(protected)
    except MalformedToken:
        raise
    except Exception as exc:  # cbor2 raises many types (and RecursionError) on hostile input
        raise MalformedToken("not CBOR") from exc
    if header is None:
        raise MalformedToken("not a tagged COSE_Sign1 with an empty unprotected header")
    if not isinstance(header, dict) or set(header) != {1, 4}:
        raise MalformedToken("protected header must hold exactly alg and kid")
    alg, kid = header[1], header[4]
    if type(alg) is not int or alg not in ALG_BY_COSE:
        raise MalformedToken("unknown alg")
    if not isinstance(kid, bytes) or len(kid) != KID_LENGTH:
        raise MalformedToken("kid must be 8 bytes")
    if protected != protected_header(ALG_BY_COSE[alg], kid):
        raise MalformedToken("protected header is not in its canonical encoding")
    return Sign1(protected, ALG_BY_COSE[alg], kid, payload, signature)
