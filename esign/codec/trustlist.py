"""The trust list: which seals verifiers accept, signed by the platform root (FORMATS.md).

A compact JWS (ES256, ``typ: trust-list+jwt``, ``kid`` = hex key id of the root) with payload
``{iss, iat, next_update, grace_until, root: {kid, cert}, seals: [...], status_lists: [...], types: [...]}``.
``types`` is the type registry: each certificate type's catalogue code, name, GB code, holder kind and
fields by their stable number ``n`` with the zh-CN label verifiers show; an issuer seal's ``types``
names the types it may sign (those its department issues), a presenter seal has none.
Choices where FORMATS.md leaves the encoding open: every time is integer Unix seconds (as JWT
``iat``); ``cert`` is standard base64 (with padding) of the DER, as JOSE's ``x5c``; ``kid`` is the
8-byte key id in lower-case hex; status list ``id`` is a non-negative integer (it is also the first
element of a token's ``"s"`` claim, where every byte counts).

Reading checks the signature against a root certificate the verifier already holds (pinned), and
that the list's own ``root.cert`` is that same certificate. Each seal entry must agree with its
certificate (kid, algorithm, credit code); a list that contradicts itself is refused whole, since
it can only come from a broken signer. Whether a seal chains to the root is checked per token, at
the token's ``iat``, by ``esign.codec.verify``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from esign.codec import jws, licence
from esign.codec.keys import PublicKey, kid_of
from esign.codec.statuslist import BITS
from esign.codec.x509 import load_certificate, read_seal_certificate
from esign.errors import EsignError, InvalidTrustList

TYP = "trust-list+jwt"
NEXT_UPDATE = timedelta(hours=24)
GRACE = timedelta(days=7)
Freshness = Literal["fresh", "stale", "expired"]
FRESH: Final = "fresh"
STALE: Final = "stale"
EXPIRED: Final = "expired"
ROLES = ("issuer", "presenter")
SEAL_STATUSES = ("active", "revoked")
_GB_CODE = re.compile(r"[0-9A-Z]{18}[0-9]{3}")


@dataclass(frozen=True, slots=True)
class SealEntry:
    """One seal in the trust list. ``public_key`` is read from ``cert``, never sent separately."""

    kid: bytes
    cert: bytes
    alg: str
    role: str
    department_name: str
    credit_code: str
    status: str
    valid_from: int
    valid_until: int
    public_key: PublicKey
    types: tuple[str, ...] | None = None  # an issuer seal's: the certificate types it may sign

    def to_json(self) -> dict[str, object]:
        """The entry as it appears in the payload."""
        types = {} if self.types is None else {"types": list(self.types)}
        return types | {
            "kid": self.kid.hex(),
            "cert": base64.b64encode(self.cert).decode("ascii"),
            "alg": self.alg,
            "role": self.role,
            "department": {"name": self.department_name, "credit_code": self.credit_code},
            "status": self.status,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
        }


@dataclass(frozen=True, slots=True)
class FieldEntry:
    """One field of a type in the registry: its stable number, key, zh-CN label and value type."""

    n: int
    key: str
    label: str
    type: str


@dataclass(frozen=True, slots=True)
class TypeEntry:
    """One certificate type in the trust list's registry."""

    code: str
    name: str
    gb_code: str
    holder_kind: str
    fields: tuple[FieldEntry, ...]

    def field(self, n: int) -> FieldEntry | None:
        """The field numbered ``n``, if the type has it."""
        return next((f for f in self.fields if f.n == n), None)

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "gb_code": self.gb_code,
            "holder_kind": self.holder_kind,
            "fields": [{"n": f.n, "key": f.key, "label": f.label, "type": f.type} for f in self.fields],
        }


@dataclass(frozen=True, slots=True)
class StatusListRef:
    """Where a status list is published."""

    id: int
    url: str
    bits: int = BITS


@dataclass(frozen=True, slots=True)
class TrustList:
    """A verified trust list."""

    iss: str
    iat: int
    next_update: int
    grace_until: int
    root_cert: bytes
    seals: tuple[SealEntry, ...]
    status_lists: dict[int, StatusListRef]
    types: dict[str, TypeEntry] = field(default_factory=dict)  # the type registry, by catalogue code

    @property
    def root_kid(self) -> bytes:
        """The root certificate's key id."""
        return kid_of(self.root_cert)

    def seals_for(self, kid: bytes) -> list[SealEntry]:
        """Every seal with this key id (key ids are 8 bytes and may collide)."""
        return [seal for seal in self.seals if seal.kid == kid]

    def freshness(self, now: datetime) -> Freshness:
        """``fresh`` before ``next_update``, ``stale`` before ``grace_until``, else ``expired``."""
        return freshness(self.next_update, self.grace_until, now)


def freshness(next_update: int, grace_until: int, now: datetime) -> Freshness:
    """``fresh`` / ``stale`` / ``expired`` of a list with these times at ``now``."""
    t = now.timestamp()
    return FRESH if t < next_update else STALE if t < grace_until else EXPIRED


def seal_entry(
    cert: bytes,
    *,
    role: str,
    status: str = "active",
    department_name: str | None = None,
    valid_from: int | None = None,
    valid_until: int | None = None,
    types: Iterable[str] | None = None,
) -> SealEntry:
    """A trust-list entry for a seal certificate; kid, alg, credit code and dates default from it."""
    info = read_seal_certificate(cert)
    if role not in ROLES or status not in SEAL_STATUSES:
        raise InvalidTrustList("role must be issuer or presenter, status active or revoked")
    return SealEntry(
        kid=info.kid,
        cert=cert,
        alg=info.alg,
        role=role,
        department_name=info.department if department_name is None else department_name,
        credit_code=info.credit_code,
        status=status,
        valid_from=int(info.not_before.timestamp()) if valid_from is None else valid_from,
        valid_until=int(info.not_after.timestamp()) if valid_until is None else valid_until,
        public_key=info.public_key,
        types=None if types is None else tuple(types),
    )


def build_trust_list(
    *,
    iss: str,
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: bytes,
    seals: Iterable[SealEntry],
    status_lists: Iterable[StatusListRef],
    now: datetime,
    types: Iterable[TypeEntry] = (),
) -> str:
    """The signed trust list, valid 24 h (``next_update``) and usable 7 days (``grace_until``)."""
    iat = int(now.timestamp())
    root_kid = kid_of(root_cert).hex()
    payload = {
        "iss": iss,
        "iat": iat,
        "next_update": iat + int(NEXT_UPDATE.total_seconds()),
        "grace_until": iat + int(GRACE.total_seconds()),
        "root": {"kid": root_kid, "cert": base64.b64encode(root_cert).decode("ascii")},
        "seals": [seal.to_json() for seal in seals],
        "status_lists": [{"id": ref.id, "url": ref.url, "bits": ref.bits} for ref in status_lists],
        "types": [t.to_json() for t in types],
    }
    return jws.sign_jws(payload, root_key, typ=TYP, kid=root_kid)


def _text_or_empty(value: object) -> str:
    """The text, or "" (which the check it goes to rejects, as it would the value)."""
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    if type(value) is not int or value < 0:
        raise InvalidTrustList("times and ids must be non-negative integers")
    return value


def _seal(item: object) -> SealEntry:
    department = item.get("department") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(department, dict) or not isinstance(department.get("name"), str):
        raise InvalidTrustList("a seal entry must be an object with a named department")
    try:
        cert = base64.b64decode(item.get("cert", ""), validate=True)
        entry = seal_entry(
            cert,
            role=_text_or_empty(item.get("role")),
            status=_text_or_empty(item.get("status")),
            department_name=department["name"],
            valid_from=_int(item.get("valid_from")),
            valid_until=_int(item.get("valid_until")),
            types=_seal_types(item),
        )
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidTrustList("seal certificate is not base64 DER") from exc
    except EsignError as exc:
        raise InvalidTrustList(f"seal entry: {exc}") from exc
    if (
        item.get("kid") != entry.kid.hex()
        or item.get("alg") != entry.alg
        or department.get("credit_code") != entry.credit_code
    ):
        raise InvalidTrustList("seal entry disagrees with its certificate")
    return entry


def _seal_types(item: dict) -> list[str] | None:
    types = item.get("types")
    if types is None:
        return None
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise InvalidTrustList("a seal's types must be a list of type codes")
    if item.get("role") != "issuer":
        raise InvalidTrustList("only issuer seals have types")
    return types


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidTrustList("type registry entries need text code, name, key and label")
    return value


def _type(item: object) -> TypeEntry:
    if not isinstance(item, dict) or not isinstance(item.get("fields"), list):
        raise InvalidTrustList("a type registry entry must be an object with fields")
    fields = []
    for f in item["fields"]:
        if not isinstance(f, dict):
            raise InvalidTrustList("a field of the type registry must be an object")
        fields.append(FieldEntry(_int(f.get("n")), _text(f.get("key")), _text(f.get("label")), _text(f.get("type"))))
    if len({f.n for f in fields}) != len(fields):
        raise InvalidTrustList("a type's field numbers must be unique")
    gb_code = _text(item.get("gb_code"))
    if not _GB_CODE.fullmatch(gb_code) or not licence.credit_code_ok(gb_code[:18]):
        raise InvalidTrustList(f"type {item.get('code')}: gb_code is not a credit code and 3 digits")
    return TypeEntry(
        _text(item.get("code")), _text(item.get("name")), gb_code, _text(item.get("holder_kind")), tuple(fields)
    )


def parse_trust_list(token: str, root_cert: bytes) -> TrustList:
    """Verify a trust list against the pinned root certificate (DER); raises ``InvalidTrustList``."""
    root_key = load_certificate(root_cert).public_key()
    if not isinstance(root_key, ec.EllipticCurvePublicKey):
        raise InvalidTrustList("the root key must be P-256")
    try:
        header, payload = jws.verify_jws(token, root_key, typ=TYP)
    except ValueError as exc:
        raise InvalidTrustList(str(exc)) from exc
    root = payload.get("root")
    if (
        not isinstance(root, dict)
        or root.get("cert") != base64.b64encode(root_cert).decode("ascii")
        or root.get("kid") != kid_of(root_cert).hex()
        or header.get("kid") != kid_of(root_cert).hex()
    ):
        raise InvalidTrustList("the list names another root")
    seals, refs = payload.get("seals"), payload.get("status_lists")
    if not isinstance(payload.get("iss"), str) or not isinstance(seals, list) or not isinstance(refs, list):
        raise InvalidTrustList("iss, seals and status_lists are required")
    lists: dict[int, StatusListRef] = {}
    for ref in refs:
        if not isinstance(ref, dict) or not isinstance(ref.get("url"), str) or ref.get("bits") != BITS:
            raise InvalidTrustList("a status list entry needs id, url and bits 2")
        if type(ref["bits"]) is not int:
            raise InvalidTrustList("bits must be the integer 2")
        lists[_int(ref.get("id"))] = StatusListRef(ref["id"], ref["url"])
    registry = payload.get("types", [])
    if not isinstance(registry, list):
        raise InvalidTrustList("types must be a list")
    types = {entry.code: entry for entry in map(_type, registry)}
    parsed = tuple(_seal(item) for item in seals)
    if any(t not in types for seal in parsed for t in seal.types or ()):
        raise InvalidTrustList("a seal names a type the registry does not have")
    return TrustList(
        iss=payload["iss"],
        iat=_int(payload.get("iat")),
        next_update=_int(payload.get("next_update")),
        grace_until=_int(payload.get("grace_until")),
        root_cert=root_cert,
        seals=parsed,
        status_lists=lists,
        types=types,
    )
