"""``ZB2:`` holder-bound presentations made offline (FORMATS.md, "Holder-bound presentations made offline").

A profile of SD-CWT (draft-ietf-spice-sd-cwt-09), with its labels: ``sd_claims`` 17, ``sd_alg`` 170,
``kcwt`` 13, ``typ`` 16 (293 for the credential, 294 for the key binding token), redacted claim keys
``simple(59)``, ``cnf`` 8, ``cnonce`` 39.

- The **credential** (issued online, kept on the device): COSE_Sign1 by a presenter seal, protected
  header ``{1: alg, 4: kid, 16: 293, 170: -16}``; payload ``{1: iss, 4: exp, 6: iat, 7: cti, 8: {1:
  COSE_Key}, -65537: {"v": 2, "p": "k", "t", "l", "h", "hi", "d", "s", "c", simple(59): [hashes]}}``;
  its unprotected header ``{17: [disclosures]}`` holds one disclosure per field of the certificate.
- A **disclosure** is the bstr-encoded ``[salt (16 bytes), value, field number]``; its hash is SHA-256
  of those bytes. Text values are carried as ``ZB1:`` carries them (GB 18030 bytes where shorter).
- The **presentation** is the key binding token: COSE_Sign1 by the device key (ES256), protected header
  ``{1: -7, 13: credential with the chosen disclosures, 16: 294}``, payload ``{6: iat, 39?: cnonce}``;
  ``"ZB2:" + Base45(zlib(CBOR))``.

Everything here is pure: the holder's side (``present``) is what tests and the shared vectors use, the
device does the same in ``clients/js``. Decoding is strict like ``ZB1:``'s: every CBOR item must be
in its canonical encoding, so a token has one spelling.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import base45
import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from esign.codec import cose, keys, tokens
from esign.codec.statuslist import SLOTS
from esign.errors import MalformedToken, TokenTooLarge

PREFIX = "ZB2:"
KIND = "k"
TYP, SD_CLAIMS, KCWT, SD_ALG = 16, 17, 13, 170
CNF, COSE_KEY, CNONCE = 8, 1, 39
TYP_SD_CWT, TYP_KB_CWT = 293, 294
SHA256 = -16
REDACTED = cbor2.CBORSimpleValue(59)
CREDENTIAL_MAX_SECONDS = 7 * 24 * 3600
PRESENTATION_MAX_AGE = 300
SALT_BYTES = 16
_PRIVATE = -65537
_ES256 = keys.COSE_ALGS[keys.ES256]
_KEYS = {"v", "p", "t", "l", "h", "hi", "d", "s", "c", REDACTED}


@dataclass(frozen=True, kw_only=True)
class CredentialClaims:
    """What a presentation credential says (the hashes of its disclosures aside)."""

    iss: str
    iat: int
    exp: int
    cti: bytes
    device_key: bytes  # the device's P-256 public key, compressed SEC 1 (33 bytes)
    type_code: str
    serial: str
    version: int
    holder_name: str
    holder_id: str
    digest: bytes
    status: tuple[int, int]  # the certificate's slot
    credential_status: tuple[int, int]  # the credential's own slot
    hashes: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Disclosure:
    """One salted field: ``encoded`` is the bstr's content, whose SHA-256 the credential lists."""

    salt: bytes
    n: int
    value: Any
    encoded: bytes

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.encoded).digest()


@dataclass(frozen=True)
class Credential:
    """A decoded credential, not yet verified."""

    protected: bytes
    alg: str
    kid: bytes
    payload: bytes
    signature: bytes
    claims: CredentialClaims
    disclosures: tuple[bytes, ...]  # as carried: all of them when issued, the chosen ones in a presentation

    def to_be_signed(self) -> bytes:
        return cose.sig_structure(self.protected, self.payload)


@dataclass(frozen=True)
class Presentation:
    """A decoded ``ZB2:`` token, not yet verified."""

    protected: bytes
    payload: bytes
    signature: bytes
    iat: int
    cnonce: bytes | None
    credential: Credential = field(repr=False)

    def to_be_signed(self) -> bytes:
        return cose.sig_structure(self.protected, self.payload)


# --- keys -------------------------------------------------------------------------------------------


def compress_point(public: ec.EllipticCurvePublicKey) -> bytes:
    """The compressed SEC 1 form (33 bytes) of a P-256 public key."""
    return public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)


def device_public_key(point: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from its SEC 1 point (compressed or not); raises ``ValueError``."""
    if len(point) not in (33, 65):
        raise ValueError("a P-256 point is 33 or 65 bytes")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def cose_key(point: bytes) -> dict[int, Any]:
    """The EC2 COSE_Key of a compressed point: ``{1: 2, -1: 1, -2: x, -3: sign of y}`` (RFC 9053)."""
    return {1: 2, -1: 1, -2: point[1:], -3: point[0] == 3}


def _point_of(key: Any) -> bytes:
    if not (isinstance(key, Mapping) and set(key) == {1, -1, -2, -3} and key[1] == 2 and key[-1] == 1):
        raise MalformedToken("cnf must hold an EC2 P-256 COSE_Key with a compressed point")
    x, sign = key[-2], key[-3]
    if not isinstance(x, bytes) or len(x) != 32 or type(sign) is not bool:
        raise MalformedToken("cnf must hold an EC2 P-256 COSE_Key with a compressed point")
    return bytes([3 if sign else 2]) + x


# --- disclosures ------------------------------------------------------------------------------------


def make_disclosure(n: int, value: Any, salt: bytes | None = None) -> bytes:
    """The encoded disclosure of field ``n`` (a fresh salt unless given)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    return _dumps([salt, tokens.compact_text(value), n])


def read_disclosure(encoded: bytes) -> Disclosure:
    """Parse an encoded disclosure; raises ``MalformedToken``."""
    item = _strict(encoded, "disclosure")
    if not (isinstance(item, list | tuple) and len(item) == 3):
        raise MalformedToken("a disclosure is [salt, value, field number]")
    salt, value, n = item
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES or type(n) is not int or not 0 <= n < 2**32:
        raise MalformedToken("a disclosure is [16-byte salt, value, field number]")
    if type(value) is bytes:
        try:
            value = value.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise MalformedToken("a field's bytes are not GB 18030") from exc
    elif not (value is None or type(value) in (str, int, bool, float)):
        raise MalformedToken("a disclosed value is text, a number, a boolean or null")
    return Disclosure(salt, n, value, encoded)


# --- the credential ---------------------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def _strict(data: bytes, what: str) -> Any:
    """One CBOR item in its canonical encoding, nothing after it; raises ``MalformedToken``."""
    try:
        stream = io.BytesIO(data)
        item = cbor2.CBORDecoder(stream).decode()
        ok = stream.tell() == len(data) and _dumps(item) == data
    except Exception as exc:  # cbor2 raises many types (and RecursionError) on hostile input
        raise MalformedToken(f"{what} is not CBOR") from exc
    if not ok:
        raise MalformedToken(f"{what} is not in its canonical CBOR encoding")
    return item


def credential_protected(alg: str, kid: bytes) -> bytes:
    return _dumps({1: keys.COSE_ALGS[alg], 4: kid, TYP: TYP_SD_CWT, SD_ALG: SHA256})


def credential_payload(c: CredentialClaims) -> bytes:
    """The CBOR payload of a credential; raises ``ValueError`` when a claim is malformed."""
    if (problem := _problem(c)) is not None:
        raise ValueError(problem)
    private = {
        "v": tokens.VERSION,
        "p": KIND,
        "t": c.type_code,
        "l": [c.serial, c.version],
        "h": c.holder_name,
        "hi": c.holder_id,
        "d": c.digest,
        "s": list(c.status),
        "c": list(c.credential_status),
        REDACTED: list(c.hashes),
    }
    return _dumps({1: c.iss, 4: c.exp, 6: c.iat, 7: c.cti, CNF: {COSE_KEY: cose_key(c.device_key)}, _PRIVATE: private})


def _slot_ok(slot: Any) -> bool:
    return (
        isinstance(slot, tuple) and len(slot) == 2 and all(type(v) is int and v >= 0 for v in slot) and slot[1] < SLOTS
    )


def _problem(c: CredentialClaims) -> str | None:
    shape = tokens.Claims(
        kind=tokens.CERTIFICATE,
        iss=c.iss,
        iat=c.iat,
        exp=c.exp,
        cti=c.cti,
        type_code=c.type_code,
        serial=c.serial,
        version=c.version,
        holder_name=c.holder_name,
        holder_id=c.holder_id,
        status=c.status,
        digest=c.digest,
    )
    if (problem := tokens._problem(shape)) is not None:  # the rules ZB1 claims share
        return problem
    if c.exp - c.iat > CREDENTIAL_MAX_SECONDS:
        return "a credential lives at most 7 days"
    if not isinstance(c.device_key, bytes) or len(c.device_key) != 33 or c.device_key[0] not in (2, 3):
        return "the device key must be a compressed P-256 point"
    if not _slot_ok(c.credential_status):
        return "credential status must be (list id, index below 131072)"
    if not all(isinstance(h, bytes) and len(h) == 32 for h in c.hashes) or len(set(c.hashes)) != len(c.hashes):
        return "redacted claim hashes must be distinct SHA-256 digests"
    return None


def issue_credential(claims: CredentialClaims, fields: Mapping[int, Any], signer: keys.Signer) -> bytes:
    """A signed credential (CBOR bytes) for ``claims`` with one fresh disclosure per field, all in its
    unprotected header, in random order (the order says nothing of the field numbers)."""
    disclosures = [make_disclosure(n, v) for n, v in fields.items()]
    secrets.SystemRandom().shuffle(disclosures)
    hashes = tuple(hashlib.sha256(d).digest() for d in disclosures)
    payload = credential_payload(replace(claims, hashes=hashes))
    protected = credential_protected(signer.alg, signer.kid)
    signature = keys.check_signature_length(signer.sign(cose.sig_structure(protected, payload)))
    return _dumps(cbor2.CBORTag(cose.TAG_SIGN1, [protected, {SD_CLAIMS: disclosures}, payload, signature]))


def _decode_credential_item(item: Any) -> Credential:
    value = item.value if isinstance(item, cbor2.CBORTag) and item.tag == cose.TAG_SIGN1 else None
    if not (isinstance(value, list | tuple) and len(value) == 4):
        raise MalformedToken("the credential is not a tagged COSE_Sign1")
    protected, unprotected, payload, signature = value
    if not (isinstance(protected, bytes) and isinstance(payload, bytes) and isinstance(signature, bytes)):
        raise MalformedToken("the credential is not a tagged COSE_Sign1")
    if not isinstance(unprotected, Mapping) or not set(unprotected) <= {SD_CLAIMS}:
        raise MalformedToken("the credential's unprotected header may hold only sd_claims")
    disclosures = unprotected.get(SD_CLAIMS, ())
    if SD_CLAIMS in unprotected and not disclosures:
        raise MalformedToken("an empty sd_claims is invalid")  # SD-CWT: omit it instead
    if not isinstance(disclosures, list | tuple) or not all(isinstance(d, bytes) for d in disclosures):
        raise MalformedToken("sd_claims is an array of byte strings")
    header = _strict(protected, "the credential's protected header")
    if not (isinstance(header, Mapping) and set(header) == {1, 4, TYP, SD_ALG}):
        raise MalformedToken("the credential's protected header holds alg, kid, typ and sd_alg")
    alg, kid = header[1], header[4]
    if type(alg) is not int or alg not in keys.ALG_BY_COSE or not isinstance(kid, bytes) or len(kid) != cose.KID_LENGTH:
        raise MalformedToken("unknown alg or a kid that is not 8 bytes")
    if header[TYP] != TYP_SD_CWT or header[SD_ALG] != SHA256:
        raise MalformedToken("typ must be 293 (application/sd-cwt) and sd_alg -16 (SHA-256)")
    return Credential(protected, keys.ALG_BY_COSE[alg], kid, payload, signature, _claims(payload), tuple(disclosures))


def _claims(payload: bytes) -> CredentialClaims:
    data = _strict(payload, "the credential's payload")
    if not isinstance(data, Mapping) or set(data) != {1, 4, 6, 7, CNF, _PRIVATE}:
        raise MalformedToken("the credential holds iss, exp, iat, cti, cnf and the certificate map")
    private, cnf = data[_PRIVATE], data[CNF]
    if (
        not isinstance(private, Mapping)
        or set(private) != _KEYS
        or private["v"] != tokens.VERSION
        or private["p"] != KIND
    ):
        raise MalformedToken("unknown version or keys in the credential's map")
    if not isinstance(cnf, Mapping) or set(cnf) != {COSE_KEY}:
        raise MalformedToken("cnf must hold a COSE_Key")
    licence_ref, hashes = private["l"], private[REDACTED]
    if not isinstance(licence_ref, list | tuple) or len(licence_ref) != 2 or not isinstance(hashes, list | tuple):
        raise MalformedToken("l must be [serial, version] and simple(59) an array")
    try:
        claims = CredentialClaims(
            iss=data[1],
            iat=data[6],
            exp=data[4],
            cti=data[7],
            device_key=_point_of(cnf[COSE_KEY]),
            type_code=private["t"],
            serial=licence_ref[0],
            version=licence_ref[1],
            holder_name=private["h"],
            holder_id=private["hi"],
            digest=private["d"],
            status=_slot(private["s"]),
            credential_status=_slot(private["c"]),
            hashes=tuple(hashes),
        )
    except TypeError as exc:
        raise MalformedToken("claims of the wrong types") from exc
    if (problem := _problem(claims)) is not None:
        raise MalformedToken(problem)
    return claims


def _slot(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


def decode_credential(data: bytes) -> Credential:
    """Parse credential bytes as issued (or as carried in a presentation); raises ``MalformedToken``."""
    return _decode_credential_item(_strict(data, "the credential"))


# --- presentations ----------------------------------------------------------------------------------


def present(
    credential: bytes,
    numbers: Iterable[int],
    device_key: ec.EllipticCurvePrivateKey,
    *,
    now: datetime,
    cnonce: bytes | None = None,
) -> str:
    """The holder's side: a ``ZB2:`` presentation of ``credential`` disclosing the fields ``numbers``, made
    offline with the device key at ``now``, with the verifier's nonce when it showed one."""
    decoded = decode_credential(credential)
    wanted = set(numbers)
    chosen = [d for d in decoded.disclosures if read_disclosure(d).n in wanted]
    missing = wanted - {read_disclosure(d).n for d in chosen}
    if missing:
        raise ValueError(f"the credential has no field {sorted(missing)}")
    return sign_presentation(decoded, chosen, device_key, now=now, cnonce=cnonce)


def sign_presentation(
    decoded: Credential,
    chosen: list[bytes],
    device_key: ec.EllipticCurvePrivateKey,
    *,
    now: datetime,
    cnonce: bytes | None = None,
) -> str:
    """The key binding token over ``decoded`` carrying the encoded disclosures ``chosen`` as they are."""
    unprotected = {SD_CLAIMS: chosen} if chosen else {}
    shown = cbor2.CBORTag(cose.TAG_SIGN1, [decoded.protected, unprotected, decoded.payload, decoded.signature])
    protected = _dumps({1: _ES256, KCWT: shown, TYP: TYP_KB_CWT})
    claims: dict[int, Any] = {6: int(now.timestamp())}
    if cnonce is not None:
        claims[CNONCE] = cnonce
    payload = _dumps(claims)
    signature = keys.sign_raw(device_key, cose.sig_structure(protected, payload))
    return _text(_dumps(cbor2.CBORTag(cose.TAG_SIGN1, [protected, {}, payload, signature])))


def _text(data: bytes) -> str:
    token = PREFIX + tokens.b45encode(tokens.compress(data))
    if len(token) > tokens.MAX_TOKEN_CHARS:
        raise TokenTooLarge(f"{len(token)} characters, at most {tokens.MAX_TOKEN_CHARS}")
    return token


def decode_presentation(token: str) -> Presentation:
    """Decode ``ZB2:`` text to the key binding token and its credential, unverified; raises ``MalformedToken``
    (with the same guards as ``ZB1:``: 4,500 characters, 64 KiB inflated, zero deflate padding)."""
    if not isinstance(token, str) or len(token) > tokens.MAX_TOKEN_CHARS:
        raise MalformedToken(f"a token is text of at most {tokens.MAX_TOKEN_CHARS} characters")
    if not token.startswith(PREFIX) or "\n" in token:
        raise MalformedToken("token does not start with ZB2:")
    try:
        compressed = base45.b45decode(token[len(PREFIX) :])
    except (ValueError, TypeError, UnicodeError) as exc:
        raise MalformedToken("not Base45") from exc
    item = _strict(tokens.decompress(compressed), "the presentation")
    value = item.value if isinstance(item, cbor2.CBORTag) and item.tag == cose.TAG_SIGN1 else None
    if not (isinstance(value, list | tuple) and len(value) == 4):
        raise MalformedToken("not a tagged COSE_Sign1")
    protected, unprotected, payload, signature = value
    if not (isinstance(protected, bytes) and isinstance(payload, bytes) and isinstance(signature, bytes)):
        raise MalformedToken("not a tagged COSE_Sign1")
    if not isinstance(unprotected, Mapping) or unprotected:
        raise MalformedToken("the key binding token's unprotected header must be empty")
    header = _strict(protected, "the key binding token's protected header")
    if not (isinstance(header, Mapping) and set(header) == {1, KCWT, TYP}):
        raise MalformedToken("the key binding token's protected header holds alg, kcwt and typ")
    if header[1] != _ES256 or header[TYP] != TYP_KB_CWT:
        raise MalformedToken("the key binding token is ES256 with typ 294 (application/kb+cwt)")
    claims = _strict(payload, "the key binding token's payload")
    if not isinstance(claims, Mapping) or not {6} <= set(claims) <= {6, CNONCE}:
        raise MalformedToken("the key binding token holds iat and at most cnonce")
    iat, cnonce = claims[6], claims.get(CNONCE)
    if type(iat) is not int or not 0 <= iat <= 253_402_300_799:
        raise MalformedToken("iat must be integer seconds")
    if cnonce is not None and (not isinstance(cnonce, bytes) or not 1 <= len(cnonce) <= 64):
        raise MalformedToken("cnonce must be 1 to 64 bytes")
    return Presentation(protected, payload, signature, iat, cnonce, _decode_credential_item(header[KCWT]))
