"""The rules of issuing, without a database: values and ``now`` in, values out.

- ``check_fields``: the certificate's fields against its type (each bad field named);
- ``check_holder``: a person by GB 11643 ID number, an organisation by GB 32100 credit code;
- ``check_validity``: ``valid_from`` / ``valid_until`` with the type's default validity;
- ``Draft``: everything a certificate says, from which ``record`` (the canonical full record whose
  SHA-256 the token carries; it holds a random salt, kept with the certificate and never put in a
  token, so the digest confirms no guess at a masked name or ID number), ``claims`` and
  ``sign_draft`` follow. ``sign_draft`` is what the
  batch path runs in worker processes, so a ``Draft`` holds plain values only.

Records are hashed in RFC 8785 form by the kernel's one ``canonical_json`` (``api/kernel/canonical.py``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import msgspec
import rfc8785

from api.kernel.canonical import canonical_json
from api.kernel.crypto import mask_id_number, mask_name
from api.kernel.identifiers import (
    credit_code_valid,
    normalize_credit_code,
    normalize_id_number,
    normalized_id_number_error,
)
from api.kernel.problems import FieldError
from auth import CreditCodeInvalid, IdNumberInvalid
from esign.codec import tokens
from esign.codec.keys import Signer
from esign.errors import CertificateFieldsInvalid, HolderInvalid, ValidityInvalid
from esign.models import HolderIn, IssueIn

CHINA = timezone(timedelta(hours=8))  # serial years follow the calendar of the issuing office
MAX_TEXT = 500
MAX_INT = 2**53 - 1
SALT_BYTES = 16
LICENCE_VERSION = 1  # every certificate is a first issue (licence identifier version 001)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True, slots=True)
class FieldRule:
    n: int  # registry number: the field's key in tokens, stable for ever
    key: str
    label: str
    type: str
    required: bool
    sensitive: bool
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class CertType:
    code: str
    name: str
    gb_type_code: str
    holder_kind: str
    issuer_department_ids: frozenset[UUID]
    fields: tuple[FieldRule, ...]
    validity_days: int | None


@functools.lru_cache(maxsize=256)
def _numbers(fields: tuple[FieldRule, ...]) -> dict[str, int]:
    return {rule.key: rule.n for rule in fields}


def field_numbers(ctype: CertType) -> dict[str, int]:
    """Field key → registry number of a type (shared: do not change it)."""
    return _numbers(ctype.fields)


def by_number(fields: dict[str, Any], numbers: dict[str, int]) -> dict[int, Any]:
    """Fields by key as a token keys them, by registry number."""
    return {numbers[key]: value for key, value in fields.items()}


@dataclass(frozen=True, slots=True)
class Department:
    id: UUID
    name: str
    credit_code: str


class Holder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A checked holder. A person found by ``person_id`` alone (a newborn) may lack an ID number.

    A Struct, not a frozen dataclass, whose ``__init__`` sets each field through ``object.__setattr__``:
    batch issuing checks thousands of holders a second. It holds text and an id, so no cycles.
    """

    kind: str  # "person" | "organisation"
    name: str
    id_number: str | None = None
    credit_code: str | None = None
    person_id: UUID | None = None

    @property
    def name_masked(self) -> str:
        return mask_name(self.name) if self.kind == "person" else self.name

    @property
    def id_masked(self) -> str:
        # An organisation's name and credit code are public registry data; a person's are not.
        if self.kind == "organisation":
            return self.credit_code or ""
        return mask_id_number(self.id_number) if self.id_number else ""


@functools.lru_cache(maxsize=4096)  # a batch's dates repeat (birth dates, registration days)
def _date_ok(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _validator(rule: FieldRule) -> tuple[Callable[[Any], bool], str]:
    """A test of a value against the rule, and what to say when the value fails it."""
    if rule.type == "string":
        return (
            lambda v: type(v) is str and len(v) <= MAX_TEXT and bool(v.strip())
        ), f"must be text of 1 to {MAX_TEXT} characters"
    if rule.type == "date":
        return (lambda v: type(v) is str and _date_ok(v)), "must be a date YYYY-MM-DD"
    if rule.type == "integer":
        return (lambda v: type(v) is int and -MAX_INT <= v <= MAX_INT), "must be an integer"
    if rule.type == "enum":
        allowed = frozenset(rule.enum or ())
        return (lambda v: type(v) is str and v in allowed), "must be one of: " + ", ".join(rule.enum or ())
    return (lambda v: False), "has an unknown type"


def fields_checker(ctype: CertType) -> Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]:
    """``check_fields`` for one type, its rules read once (batch issuing checks thousands of items a type)."""
    known = frozenset(rule.key for rule in ctype.fields)
    rules = [(rule.key, rule.required, rule.sensitive, *_validator(rule)) for rule in ctype.fields]

    def check(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        errors = (
            []
            if fields.keys() <= known
            else [
                FieldError(field=f"fields.{key[:64]}", message="is not a field of this certificate type")
                for key in fields
                if key not in known
            ]
        )
        public: dict[str, Any] = {}
        sensitive: dict[str, Any] = {}
        for key, required, is_sensitive, valid, problem in rules:
            value = fields.get(key)
            if value is None:
                if required:
                    errors.append(FieldError(field=f"fields.{key}", message="is required"))
                continue
            if not valid(value):
                errors.append(FieldError(field=f"fields.{key}", message=problem))
            (sensitive if is_sensitive else public)[key] = value
        if errors:
            raise CertificateFieldsInvalid(f"{len(errors)} field(s) do not fit the type {ctype.code}", errors=errors)
        return public, sensitive

    return check


def check_fields(ctype: CertType, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(public, sensitive)`` fields, or ``CertificateFieldsInvalid`` naming each bad field."""
    return fields_checker(ctype)(fields)


def check_holder(ctype: CertType, holder: HolderIn, *, today: date) -> Holder:
    """The checked holder; ``id_number_invalid``, ``credit_code_invalid`` or ``holder_invalid``."""
    name = holder.name.strip()
    if not name:
        raise HolderInvalid(errors=[FieldError(field="holder.name", message="is required")])
    if (holder.id_number is None) == (holder.credit_code is None):
        raise HolderInvalid("give exactly one of id_number and credit_code")
    kind = "person" if holder.id_number is not None else "organisation"
    if kind != ctype.holder_kind:
        raise HolderInvalid(f"certificates of type {ctype.code} are held by a {ctype.holder_kind}")
    if holder.id_number is not None:
        number = normalize_id_number(holder.id_number)
        problem = normalized_id_number_error(number, today=today)
        if problem:
            raise IdNumberInvalid(errors=[FieldError(field="holder.id_number", message=problem)])
        return Holder(kind="person", name=name, id_number=number)
    code = normalize_credit_code(holder.credit_code or "")
    if not credit_code_valid(code):
        raise CreditCodeInvalid(errors=[FieldError(field="holder.credit_code", message="fails the GB 32100 check")])
    return Holder(kind="organisation", name=name, credit_code=code)


def check_validity(
    ctype: CertType, valid_from: datetime | None, valid_until: datetime | None, *, issued_at: datetime
) -> tuple[datetime, datetime | None]:
    """``(valid_from, valid_until)`` in whole UTC seconds; the type's validity fills a missing end."""
    start = (valid_from or issued_at).astimezone(UTC).replace(microsecond=0)
    end = valid_until.astimezone(UTC).replace(microsecond=0) if valid_until else None
    if end is None and ctype.validity_days:
        end = start + timedelta(days=ctype.validity_days)
    if end is not None and (end <= start or end <= issued_at):
        raise ValidityInvalid(
            errors=[FieldError(field="valid_until", message="must be after valid_from and after the time of issue")]
        )
    return start, end


def serial_year(now: datetime) -> int:
    return now.astimezone(CHINA).year


def serial_text(year: int, count: int) -> str:
    """The serial part of a licence id: the year and a count of at least seven digits."""
    return f"{year}{count:07d}"


def request_hash(item: IssueIn) -> bytes:
    """What makes two requests "the same body" for ``external_ref`` idempotency."""
    try:
        return hashlib.sha256(canonical_json(item)).digest()  # the struct's fields sorted, as a dict's
    except rfc8785.IntegerDomainError:
        # Integers beyond ±2^53, which RFC 8785 refuses, come only in requests whose fields then fail
        # their checks: the digest only has to be the same for the same body.
        return hashlib.sha256(msgspec.json.encode(item, order="sorted")).digest()


def new_salt() -> bytes:
    """16 random bytes for a certificate's record (FORMATS.md ``"d"``); kept with the archived record."""
    return secrets.token_bytes(SALT_BYTES)


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything one certificate says; ``issued_at`` and the validity are whole seconds."""

    id: UUID
    licence_id: str
    serial: str
    type_code: str
    gb_type_code: str
    issuer_code: str
    holder: Holder
    public_fields: dict[str, Any]
    sensitive_fields: dict[str, Any]
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    status_ref: tuple[int, int]
    field_numbers: dict[str, int]
    salt: bytes = field(default_factory=new_salt)


def salt_text(salt: bytes) -> str:
    """The record's salt as its canonical JSON holds it: base64url without padding."""
    return base64.urlsafe_b64encode(salt).rstrip(b"=").decode("ascii")


def record(d: Draft) -> dict[str, Any]:
    """The full canonical record, holder identity and sensitive fields included."""
    return {
        "v": 2,
        "id": str(d.id),
        "licence_id": d.licence_id,
        "type": {"code": d.type_code, "gb_code": d.gb_type_code},
        "issuer": d.issuer_code,
        "holder": {"kind": d.holder.kind, "name": d.holder.name, "id": d.holder.id_number or d.holder.credit_code},
        "fields": {**d.public_fields, **d.sensitive_fields},
        "issued_at": rfc3339(d.issued_at),
        "valid_from": rfc3339(d.valid_from),
        "valid_until": rfc3339(d.valid_until) if d.valid_until else None,
        "status": list(d.status_ref),
        "salt": salt_text(d.salt),
    }


def digest(d: Draft) -> bytes:
    """SHA-256 of the canonical record, salt included: the token's ``"d"``."""
    return hashlib.sha256(canonical_json(record(d))).digest()


def claims(d: Draft, record_digest: bytes) -> tokens.Claims:
    iat = int(d.issued_at.timestamp())
    start = int(d.valid_from.timestamp())
    return tokens.Claims(
        kind=tokens.CERTIFICATE,
        iss=d.issuer_code,
        iat=iat,
        exp=int(d.valid_until.timestamp()) if d.valid_until else None,
        nbf=start if start > iat else None,
        cti=d.id.bytes,
        type_code=d.type_code,
        serial=d.serial,
        version=LICENCE_VERSION,
        holder_name=d.holder.name_masked,
        holder_id=d.holder.id_masked,
        fields=by_number(d.public_fields, d.field_numbers),
        status=d.status_ref,
        digest=record_digest,
    )


def sign_draft(d: Draft, signer: Signer) -> tuple[str, bytes]:
    """``(token, record digest)`` of a draft signed by ``signer``."""
    record_digest = digest(d)
    return tokens.encode_token(claims(d, record_digest), signer), record_digest
