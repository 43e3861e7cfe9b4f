"""``ZB1:`` signed tokens: certificate and presentation tokens (FORMATS.md, "Signed tokens").

``"ZB1:" + Base45(zlib(COSE_Sign1))`` with a CWT claims payload; the layout of the EU Digital
COVID Certificate, so stock Base45 (``base45``), zlib and COSE (``cbor2``) code reads it.

Decoding guards against hostile input before doing any work: text over 4,500 characters is refused
unread, and decompression stops at 64 KiB (``zlib.decompressobj`` with ``max_length``), so a small
token cannot expand into a large allocation. Everything past that is checked strictly, so a token
either decodes to exactly the claims that were signed or raises ``MalformedToken``; that includes
the deflate padding bits, which zlib itself ignores (see ``decompress``), so that a token has one
spelling only and no single-character change of it still verifies.

Claims are of format v2: fields keyed by their number in the type registry, text values as GB 18030
bytes where shorter, the licence identifier as ``[serial, version]`` (verifiers rebuild it from the
type's GB code in the trust list), and a record digest over a record holding a random salt.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import base45
import cbor2
import rfc8785

from esign.codec import cose, licence
from esign.codec.keys import Signer, check_signature_length
from esign.codec.statuslist import SLOTS
from esign.errors import MalformedToken, TokenTooLarge

PREFIX = "ZB1:"
MAX_TOKEN_CHARS = 4_500
MAX_DECOMPRESSED = 64 * 1024
PRESENTATION_MAX_TTL = 300
CERTIFICATE, PRESENTATION = "c", "p"

VERSION = 2
MAX_LICENCE_VERSION = 999
_PRIVATE_CLAIM = -65537
_TYPE = re.compile(r"[a-z][a-z0-9_]{1,63}")  # the catalogue's code of the type, e.g. id_card
_SERIAL = re.compile(r"[0-9A-Z]{1,40}")
_KEYS = {"v", "p", "t", "l", "h", "hi", "f", "s", "d", "n"}
_FIELD_NUMBER_MAX = 2**32 - 1


@dataclass(frozen=True, kw_only=True)
class Claims:
    """What a token says. Times are integer Unix seconds, as in CWT."""

    kind: str  # CERTIFICATE or PRESENTATION
    iss: str  # issuing department's credit code
    iat: int
    cti: bytes  # certificate id, 16 bytes
    type_code: str  # the catalogue's code of the type (id_card); its GB code is in the trust list's registry
    serial: str  # of the licence identifier, which verifiers rebuild (``licence_id``)
    version: int  # of the licence identifier, 1 for a first issue
    holder_name: str  # masked, e.g. 张*三
    holder_id: str  # masked, e.g. 110***********123X
    fields: Mapping[int, Any] = field(default_factory=dict)  # by the field's registry number
    status: tuple[int, int] = (0, 0)  # (status list id, index)
    digest: bytes = b""  # SHA-256 of the canonical full record
    exp: int | None = None
    nbf: int | None = None
    nonce: bytes | None = None  # presentations only

    def licence_id(self, gb_type_code: str) -> str:
        """The full licence identifier, rebuilt from the type's GB code, ``iss``, serial and version;
        raises ``InvalidLicenceId`` when the GB code is not one."""
        return licence.build_licence_id(gb_type_code, self.iss, self.serial, self.version)


@dataclass(frozen=True, slots=True)
class SigningInput:
    """The parts of a token before its signature: sign ``to_be_signed``, then ``assemble_token``."""

    alg: str
    protected: bytes
    payload: bytes
    to_be_signed: bytes


@dataclass(frozen=True, slots=True)
class Token:
    """A decoded token: the COSE structure as signed and its claims (not yet verified)."""

    sign1: cose.Sign1
    claims: Claims


def record_digest(record: Mapping[str, Any]) -> bytes:
    """SHA-256 of the RFC 8785 canonical JSON of a certificate's full record (the ``"d"`` claim); the record
    holds its random ``salt``, so the digest confirms no guess at what a token masks."""
    return hashlib.sha256(rfc8785.dumps(record)).digest()


def compact_text(value: Any) -> Any:
    """A field value as a token carries it: text as the bytes of its GB 18030 encoding where that is shorter
    than UTF-8 (2 bytes a Chinese character instead of 3), anything else as it is (FORMATS.md "f")."""
    if type(value) is not str or value.isascii():
        return value
    gb = value.encode("gb18030")
    return gb if len(gb) < len(value.encode("utf-8")) else value


def _json_value(value: Any) -> bool:
    return value is None or type(value) in _SCALARS or isinstance(value, _SCALARS)


def _fields_ok(fields: Any) -> bool:
    """A map of field numbers (unsigned) to scalar values: what a v2 token's ``"f"`` holds."""
    if not (type(fields) is dict or isinstance(fields, Mapping)):
        return False
    return all(type(k) is int and 0 <= k <= _FIELD_NUMBER_MAX and _json_value(v) for k, v in fields.items())


_SCALARS = (str, bool, int, float)


_LATEST = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime can hold


def _is_int(value: Any) -> bool:
    return type(value) is int and 0 <= value <= _LATEST


def _problem(c: Claims) -> str | None:
    """Why ``c`` is not a well-formed set of claims, or None."""
    if c.kind not in (CERTIFICATE, PRESENTATION):
        return "kind must be 'c' or 'p'"
    if not isinstance(c.iss, str) or len(c.iss) != 18 or not licence.credit_code_ok(c.iss):
        return "iss must be a credit code"
    if not _is_int(c.iat) or not all(_is_int(t) for t in (c.exp, c.nbf) if t is not None):
        return "iat, exp and nbf must be integer seconds between 1970 and 9999"
    if c.exp is not None and c.exp <= c.iat:
        return "exp must be after iat"
    if not isinstance(c.cti, bytes) or len(c.cti) != 16:
        return "cti must be 16 bytes"
    if not isinstance(c.type_code, str) or not _TYPE.fullmatch(c.type_code):
        return "type code must be a catalogue code"
    if not isinstance(c.serial, str) or not _SERIAL.fullmatch(c.serial):
        return "licence serial must be 1 to 40 upper-case letters or digits"
    if type(c.version) is not int or not 1 <= c.version <= MAX_LICENCE_VERSION:
        return "licence version must be an integer from 1 to 999"
    if not isinstance(c.holder_name, str) or not isinstance(c.holder_id, str):
        return "masked holder name and id must be text"
    if not _fields_ok(c.fields):
        return "fields must be a map of field numbers to text, integers, booleans or null"
    s = c.status
    if not isinstance(s, tuple) or len(s) != 2 or not all(type(v) is int and v >= 0 for v in s) or s[1] >= SLOTS:
        return "status must be (list id, index below 131072)"
    if not isinstance(c.digest, bytes) or len(c.digest) != 32:
        return "record digest must be 32 bytes"
    if c.kind == PRESENTATION:
        if not isinstance(c.nonce, bytes) or len(c.nonce) != 16:
            return "a presentation needs a 16-byte nonce"
        if c.exp is None:
            return "a presentation needs exp"
    elif c.nonce is not None:
        return "only presentations carry a nonce"
    return None


def encode_claims(claims: Claims) -> bytes:
    """The CBOR payload of ``claims`` (deterministic encoding); raises ``ValueError`` when malformed."""
    if (problem := _problem(claims)) is not None:
        raise ValueError(problem)
    # _problem has made sure a presentation has its exp.
    if claims.kind == PRESENTATION and claims.exp is not None and claims.exp - claims.iat > PRESENTATION_MAX_TTL:
        raise ValueError("a presentation lives at most 300 seconds")
    return _payload(
        claims.kind,
        claims.iss,
        claims.iat,
        claims.exp,
        claims.nbf,
        claims.cti,
        claims.type_code,
        claims.serial,
        claims.version,
        claims.holder_name,
        claims.holder_id,
        claims.fields,
        claims.status,
        claims.digest,
        claims.nonce,
    )


@functools.lru_cache(maxsize=1024)
def _codes_ok(iss: str, type_code: str) -> bool:
    return len(iss) == 18 and licence.credit_code_ok(iss) and _TYPE.fullmatch(type_code) is not None


def certificate_payload(
    *,
    iss: str,
    iat: int,
    exp: int | None,
    nbf: int | None,
    cti: bytes,
    type_code: str,
    serial: str,
    version: int = 1,
    holder_name: str,
    holder_id: str,
    fields: dict[int, Any],
    status: tuple[int, int],
    digest: bytes,
) -> bytes:
    """``encode_claims`` of certificate claims (batch issuing: thousands a second from parts already checked).

    The rules of ``_problem`` are checked here too, cheaply: the two codes once per pair. Claims that miss
    any of them go through ``encode_claims``, which says why.
    """
    ok = (
        type(iss) is str
        and type(type_code) is str
        and _codes_ok(iss, type_code)
        and _is_int(iat)
        and (exp is None or (_is_int(exp) and exp > iat))
        and (nbf is None or _is_int(nbf))
        and type(cti) is bytes
        and len(cti) == 16
        and type(serial) is str
        and _SERIAL.fullmatch(serial) is not None
        and type(version) is int
        and 1 <= version <= MAX_LICENCE_VERSION
        and type(holder_name) is str
        and type(holder_id) is str
        and type(fields) is dict
        and _fields_ok(fields)
        and type(status) is tuple
        and len(status) == 2
        and type(status[0]) is int
        and type(status[1]) is int
        and status[0] >= 0
        and 0 <= status[1] < SLOTS
        and type(digest) is bytes
        and len(digest) == 32
    )
    if not ok:
        return encode_claims(
            Claims(
                kind=CERTIFICATE,
                iss=iss,
                iat=iat,
                exp=exp,
                nbf=nbf,
                cti=cti,
                type_code=type_code,
                serial=serial,
                version=version,
                holder_name=holder_name,
                holder_id=holder_id,
                fields=fields,
                status=status,
                digest=digest,
            )
        )
    return _payload(
        CERTIFICATE,
        iss,
        iat,
        exp,
        nbf,
        cti,
        type_code,
        serial,
        version,
        holder_name,
        holder_id,
        fields,
        status,
        digest,
        None,
    )


def _payload(
    kind: str,
    iss: str,
    iat: int,
    exp: int | None,
    nbf: int | None,
    cti: bytes,
    type_code: str,
    serial: str,
    version: int,
    holder_name: str,
    holder_id: str,
    fields: Mapping[int, Any],
    status: tuple[int, int],
    digest: bytes,
    nonce: bytes | None,
) -> bytes:
    """``cbor2.dumps`` of the claims map, canonical, for claims ``_problem`` accepts (tests compare the two).

    Canonical CBOR orders map keys shortest encoding first, then bytewise: 1, 4, 5, 6, 7, -65537 in the
    claims map; d, f, h, l, n, p, s, t, v, hi in the certificate map. ``_problem`` has checked the sizes
    written here as constants: cti and a nonce are 16 bytes, the digest 32, the times small integers.
    Field values that are text go as ``compact_text`` makes them (GB 18030 bytes where shorter).
    ``esign/codec/_cbor.c`` writes it where it was built and the fields hold only values it writes.
    """
    if _payload_c is not None:
        encoded = _payload_c(
            kind,
            iss,
            iat,
            exp,
            nbf,
            cti,
            type_code,
            serial,
            version,
            holder_name,
            holder_id,
            fields if type(fields) is dict else dict(fields),
            status,
            digest,
            nonce,
        )
        if encoded is not None:
            return encoded
    return _payload_python(
        kind, iss, iat, exp, nbf, cti, type_code, serial, version, holder_name, holder_id, fields, status, digest, nonce
    )


def _payload_python(
    kind: str,
    iss: str,
    iat: int,
    exp: int | None,
    nbf: int | None,
    cti: bytes,
    type_code: str,
    serial: str,
    version: int,
    holder_name: str,
    holder_id: str,
    fields: Mapping[int, Any],
    status: tuple[int, int],
    digest: bytes,
    nonce: bytes | None,
) -> bytes:
    """``_payload`` in Python."""
    head, tstr, recurring = cose.head, cose.tstr, cose.key
    out = [head(5, 4 + (exp is not None) + (nbf is not None)), b"\x01", recurring(iss)]
    if exp is not None:
        out += (b"\x04", head(0, exp))
    if nbf is not None:
        out += (b"\x05", head(0, nbf))
    wire = {n: compact_text(v) for n, v in fields.items()}
    out += (
        b"\x06",
        head(0, iat),
        b"\x07\x50",
        cti,
        _PRIVATE_KEY,
        b"\xa9" if nonce is None else b"\xaa",
        b"\x61d\x58\x20",
        digest,
        b"\x61f",
        cose.canonical(wire),
        b"\x61h",
        tstr(holder_name),
        b"\x61l\x82",
        tstr(serial),
        head(0, version),
    )
    if nonce is not None:
        out += (b"\x61n\x50", nonce)
    out += (
        b"\x61p",
        recurring(kind),
        b"\x61s\x82",
        cose.canonical(status[0]),
        head(0, status[1]),
        b"\x61t",
        recurring(type_code),
        b"\x61v\x02\x62hi",
        tstr(holder_id),
    )
    return b"".join(out)


_PRIVATE_KEY = cose.head(1, -1 - _PRIVATE_CLAIM)

_payload_c: Callable[..., bytes | None] | None
try:
    from esign.codec._cbor import payload as _payload_c
except ImportError:  # built where no C compiler was found (hatch_build.py)
    _payload_c = None


def decode_claims(payload: bytes) -> Claims:
    """Parse and check a CBOR claims payload; raises ``MalformedToken``."""
    try:
        data = cbor2.loads(payload)
    except Exception as exc:  # cbor2 raises many types (and RecursionError) on hostile input
        raise MalformedToken("payload is not CBOR") from exc
    if not isinstance(data, dict) or not {1, 6, 7, _PRIVATE_CLAIM} <= set(data) <= {1, 4, 5, 6, 7, _PRIVATE_CLAIM}:
        raise MalformedToken("payload must hold iss, iat, cti, the certificate map and at most exp, nbf")
    private = data[_PRIVATE_CLAIM]
    version_2 = isinstance(private, dict) and type(private.get("v")) is int and private["v"] == VERSION
    if not version_2 or not set(private) <= _KEYS:
        raise MalformedToken("unknown version or keys in the certificate map")
    status, licence_ref = private.get("s"), private.get("l")
    if not isinstance(licence_ref, list) or len(licence_ref) != 2:
        raise MalformedToken("l must be [serial, version]")
    # Claims first holds the values as decoded, then _problem checks them all (the status pair too).
    status_pair: Any = tuple(status) if isinstance(status, list) else None
    try:
        claims = Claims(
            kind=private.get("p"),
            iss=data[1],
            iat=data[6],
            exp=data.get(4),
            nbf=data.get(5),
            cti=data[7],
            type_code=private.get("t"),
            serial=licence_ref[0],
            version=licence_ref[1],
            holder_name=private.get("h"),
            holder_id=private.get("hi"),
            fields=_decoded_fields(private.get("f")),
            status=status_pair,
            digest=private.get("d"),
            nonce=private.get("n"),
        )
    except TypeError as exc:  # unhashable or odd values
        raise MalformedToken("claims of the wrong types") from exc
    if (problem := _problem(claims)) is not None:
        raise MalformedToken(problem)
    return claims


def _decoded_fields(fields: Any) -> Any:
    """The ``"f"`` map with its GB 18030 byte strings read back as text; raises ``MalformedToken``."""
    if not isinstance(fields, dict):
        return fields  # _problem names it
    try:
        return {k: v.decode("gb18030") if type(v) is bytes else v for k, v in fields.items()}
    except UnicodeDecodeError as exc:
        raise MalformedToken("a field's bytes are not GB 18030") from exc


def signing_input(claims: Claims, alg: str, kid: bytes) -> SigningInput:
    """Everything a seal must sign for ``claims``; for signers that live elsewhere (HSM, department)."""
    protected = cose.protected_header(alg, kid)
    payload = encode_claims(claims)
    return SigningInput(alg, protected, payload, cose.sig_structure(protected, payload))


_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_CHARS = b"\0" + _B45.encode() + bytes(210)  # digit + 1 → its character; 0 marks a byte to drop


@functools.lru_cache(maxsize=256)
def _lanes(pairs: int) -> tuple[int, int, int]:
    """Constants of ``b45encode`` for ``pairs`` lanes: 11 low bits, 6 low bits and 1 in each of 3 bytes."""
    ones = int.from_bytes(b"\1\0\0\0" * pairs, "little")
    return ones * 0x7FF, ones * 0x3F, ones * 0x010101


def b45encode_python(data: bytes) -> str:
    """RFC 9285 Base45, the same text as ``base45.b45encode`` (tests compare them), without a loop.

    ``b45encode`` is the C form of this (``esign/codec/_b45.c``) where it was built, this otherwise.

    Issuing signs thousands of tokens a second, and a loop over a token's 200 byte pairs cost more
    than its zlib. Here each pair ``n`` gets a 32-bit lane of one large integer, and every lane is
    worked on at once by whole-integer arithmetic: ``n // 45`` is ``n * 46604 >> 21`` for every
    ``n < 65536`` (the product stays under 2**32, so no lane spills into the next; the bits the shift
    brings down from the next lane are masked off), and ``q // 45`` is ``q * 1457 >> 16`` for
    ``q < 1457``. The three digits of each pair, plus one, land in the lane's low three bytes; one
    ``translate`` maps them to characters and drops the fourth, zero, byte.
    """
    pairs = len(data) >> 1
    lanes = bytearray(pairs << 2)  # little-endian lanes: low byte, high byte of the pair, 0, 0
    lanes[0::4] = data[1 : pairs << 1 : 2]
    lanes[1::4] = data[0 : pairs << 1 : 2]
    n = int.from_bytes(lanes, "little")
    eleven_bits, six_bits, ones = _lanes(pairs)
    q = (n * 46604 >> 21) & eleven_bits  # n // 45
    high = (q * 1457 >> 16) & six_bits  # n // 2025
    digits = (n - 45 * q) + ((q - 45 * high) << 8) + (high << 16) + ones
    text = digits.to_bytes(pairs << 2, "little").translate(_B45_CHARS, b"\0").decode("ascii")
    if len(data) & 1:
        text += _B45[data[-1] % 45] + _B45[data[-1] // 45]
    return text


try:
    from esign.codec._b45 import b45encode  # a thirtieth of the instructions
except ImportError:  # built where no C compiler was found (hatch_build.py)
    b45encode = b45encode_python


def compress(data: bytes) -> bytes:
    """A zlib stream (RFC 1950) of ``data``, made by the standard library's zlib at level 6.

    Most of what zlib spends on a token of a few hundred bytes is setting up its default 32 KB window
    and 128 KB hash table; a window just large enough for the input (no match can reach further back)
    and a 16 KB hash table make the same stream size for a quarter of the time. Its last byte is
    padded with zero bits, as ``decompress`` requires.
    """
    window = max(9, min(15, (len(data) - 1).bit_length()))
    compressor = zlib.compressobj(6, zlib.DEFLATED, window, 4)
    return compressor.compress(data) + compressor.flush()


def assemble_token(protected: bytes, payload: bytes, signature: bytes) -> str:
    """The ``ZB1:`` text from signed parts; raises ``TokenTooLarge`` past 4,500 characters."""
    return _text(cose.encode_sign1(protected, payload, check_signature_length(signature)))


def _text(sign1: bytes) -> str:
    token = PREFIX + b45encode(compress(sign1))
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenTooLarge(f"{len(token)} characters, at most {MAX_TOKEN_CHARS}")
    return token


def token_signer(signer: Signer) -> Callable[[bytes], str]:
    """``assemble_token`` of a payload signed by ``signer``, for one seal that signs many payloads: the
    parts of the Sig_structure and of the COSE_Sign1 around the payload are made once."""
    before_signed, before_sign1 = cose.sign1_parts(cose.protected_header(signer.alg, signer.kid))
    sign, bstr = signer.sign, cose.bstr

    def token(payload: bytes) -> str:
        body = bstr(payload)  # the same in both structures
        signature = check_signature_length(sign(before_signed + body))
        return _text(before_sign1 + body + _SIGNATURE_HEAD + signature)

    return token


_SIGNATURE_HEAD = cose.head(2, 64)  # check_signature_length passes 64 bytes only


def encode_token(claims: Claims, signer: Signer) -> str:
    """Sign ``claims`` with ``signer`` and return the ``ZB1:`` token text."""
    parts = signing_input(claims, signer.alg, signer.kid)
    return assemble_token(parts.protected, parts.payload, signer.sign(parts.to_be_signed))


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_DECOMPRESSED)
    except zlib.error as exc:
        raise MalformedToken("not a zlib stream") from exc
    if inflater.unconsumed_tail:
        raise MalformedToken("decompressed token larger than 64 KiB")
    if not inflater.eof or inflater.unused_data:
        raise MalformedToken("truncated or trailing zlib data")
    return out


def decompress(data: bytes) -> bytes:
    """zlib-inflate at most 64 KiB of one complete stream with zero padding; raises ``MalformedToken``."""
    out = _inflate(data)
    # The bits after the final deflate block, up to the byte boundary, are padding that inflate
    # ignores; encoders write zeros. A set padding bit would make a second spelling of the same
    # token (a one-character change a camera could misread and still get "valid"), so a set bit
    # of the last deflate byte whose flip leaves the output unchanged is refused.
    last = len(data) - 5  # the 4-byte Adler-32 follows the last deflate byte
    for bit in range(8):
        if last >= 2 and data[last] >> bit & 1:
            flipped = data[:last] + bytes([data[last] ^ (1 << bit)]) + data[last + 1 :]
            try:
                same = _inflate(flipped) == out
            except MalformedToken:
                same = False
            if same:
                raise MalformedToken("non-zero padding after the last deflate block")
    return out


def decode_token(token: str) -> Token:
    """Decode ``ZB1:`` text to its COSE structure and claims, without verifying; raises ``MalformedToken``."""
    if not isinstance(token, str):
        raise MalformedToken("a token is text")
    if len(token) > MAX_TOKEN_CHARS:
        raise MalformedToken(f"token longer than {MAX_TOKEN_CHARS} characters")
    if not token.startswith(PREFIX):
        raise MalformedToken("token does not start with ZB1:")
    if "\n" in token:  # base45.b45decode strips trailing newlines: a token has one spelling
        raise MalformedToken("not Base45")
    try:
        compressed = base45.b45decode(token[len(PREFIX) :])
    except (ValueError, TypeError, UnicodeError) as exc:
        raise MalformedToken("not Base45") from exc
    sign1 = cose.decode_sign1(decompress(compressed))
    return Token(sign1, decode_claims(sign1.payload))


def new_certificate_id() -> bytes:
    """A random 16-byte certificate id (``cti``)."""
    return secrets.token_bytes(16)


def make_presentation(
    certificate: Claims, fields: Mapping[int, Any], *, now: datetime, ttl: int = PRESENTATION_MAX_TTL
) -> Claims:
    """Presentation claims for ``certificate`` disclosing ``fields`` (by registry number), valid ``ttl`` seconds
    from ``now``. Callers with fields by key go through ``esign.flows.presentation_claims``."""
    if not 0 < ttl <= PRESENTATION_MAX_TTL:
        raise ValueError("a presentation lives 1 to 300 seconds")
    iat = int(now.timestamp())
    return Claims(
        kind=PRESENTATION,
        iss=certificate.iss,
        iat=iat,
        exp=iat + ttl,
        cti=certificate.cti,
        type_code=certificate.type_code,
        serial=certificate.serial,
        version=certificate.version,
        holder_name=certificate.holder_name,
        holder_id=certificate.holder_id,
        fields=dict(fields),
        status=certificate.status,
        digest=certificate.digest,
        nonce=secrets.token_bytes(16),
    )
