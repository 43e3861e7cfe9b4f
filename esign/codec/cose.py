"""COSE_Sign1 (RFC 9052) as the ``ZB1:`` tokens use it: CBOR tag 18, ``[protected, {}, payload,
signature]``, with a protected header of exactly ``{1: alg, 4: kid}``.

Decoding is cbor2's. Encoding builds the bytes directly: a token's structures are fixed
layouts of byte and text strings, and ``canonical`` writes cbor2's canonical encoding (RFC 7049
length-first map order, shortest heads) of the values a token holds, handing anything else
(floats, big integers) to cbor2; ``tests/esign`` checks all of it against cbor2. Issuing encodes
three structures per token, and cbor2's per-call set-up was a tenth of a token's cost.

Decoding is strict because a token is attacker-controlled input and every
accepted byte string should have exactly one meaning: the outer structure must re-encode to the
same bytes (no indefinite lengths, no over-long heads, nothing trailing), the unprotected header
must be empty, and the protected header may name only ``alg`` and ``kid``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cbor2

from esign.codec.keys import ALG_BY_COSE, COSE_ALGS
from esign.errors import MalformedToken

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


def head(major: int, n: int) -> bytes:
    """The CBOR head of major type ``major`` with argument ``n`` (0 to 2**64 - 1), shortest form."""
    if n < 24:
        return _SMALL[major][n]
    if n < 0x100:
        return bytes((major << 5 | 24, n))
    if n < 0x1_0000:
        return bytes((major << 5 | 25, n >> 8, n & 0xFF))
    if n < 0x1_0000_0000:
        return bytes((major << 5 | 26,)) + n.to_bytes(4, "big")
    return bytes((major << 5 | 27,)) + n.to_bytes(8, "big")


_SMALL = [[bytes((major << 5 | n,)) for n in range(24)] for major in range(8)]
_INT_LIMIT = 1 << 64


def bstr(data: bytes) -> bytes:
    """A CBOR byte string."""
    n = len(data)
    return (_SMALL[2][n] if n < 24 else head(2, n)) + data


def tstr(text: str) -> bytes:
    """A CBOR text string."""
    data = text.encode()
    n = len(data)
    return (_SMALL[3][n] if n < 24 else head(3, n)) + data


@functools.lru_cache(maxsize=4096)
def key(text: str) -> bytes:
    """``tstr`` of a text that recurs (map keys, codes), remembered."""
    return tstr(text)


def canonical(value: object) -> bytes:
    """``cbor2.dumps(value, canonical=True)`` (see the module docstring): by ``esign/codec/_cbor.c`` where it was
    built and the value is one it writes, else ``canonical_python``."""
    if _canonical_c is not None and (encoded := _canonical_c(value)) is not None:
        return encoded
    return canonical_python(value)


def canonical_python(value: object) -> bytes:
    """``canonical`` in Python. It recurses into itself: the C form declined the whole value already."""
    # Exact types, not isinstance: a bool is not taken for an int, and other subclasses go to cbor2.
    if type(value) is str:
        return tstr(value)
    if type(value) is int and -_INT_LIMIT <= value < _INT_LIMIT:
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if type(value) is bytes:
        return bstr(value)
    if value is None:
        return b"\xf6"
    if type(value) is bool:
        return b"\xf5" if value else b"\xf4"
    if type(value) is list or type(value) is tuple:
        return head(4, len(value)) + b"".join(map(canonical_python, value))
    if type(value) is dict:
        # RFC 7049 canonical order: shorter encoded keys first, then bytewise (keys never tie).
        entries = []
        for k, v in value.items():
            encoded = key(k) if type(k) is str else canonical_python(k)
            entries.append((len(encoded), encoded, tstr(v) if type(v) is str else canonical_python(v)))
        entries.sort()
        return head(5, len(entries)) + b"".join([k + v for _, k, v in entries])
    return cbor2.dumps(value, canonical=True)


_canonical_c: Callable[[object], bytes | None] | None
try:
    from esign.codec._cbor import canonical as _canonical_c
except ImportError:  # built where no C compiler was found (hatch_build.py)
    _canonical_c = None

_SIGNATURE1 = b"\x84" + tstr("Signature1")


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """``["Signature1", protected, b"", payload]`` encoded: what the seal signs."""
    return sign1_parts(protected)[0] + bstr(payload)


def sign1_parts(protected: bytes) -> tuple[bytes, bytes]:
    """What comes before the payload's byte string in ``sig_structure`` and in ``encode_sign1``, for a
    protected header that signs many payloads."""
    return _SIGNATURE1 + bstr(protected) + b"\x40", b"\xd2\x84" + bstr(protected) + b"\xa0"


def encode_sign1(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    """The tagged COSE_Sign1 bytes: tag 18, ``[protected, {}, payload, signature]``."""
    return sign1_parts(protected)[1] + bstr(payload) + bstr(signature)


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
