"""Certificate types, licence serials and issued certificates: SQL next to the one function that runs it.

A certificate is keyed by its holder (``(person_id, id)``): on a Citus cluster it sits on the holder's shard.
What is unique across holders and looked up without one (the licence number, the status slot, a department's
``external_ref``) is kept in ``esign_certificate_key``, which stays on the coordinator and also says whose a
certificate is: a read by id alone is a primary-key read there, then a read on the holder's shard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.db import Conn
from esign.service import CertType, FieldRule

TYPE_COLUMNS = "code, name, gb_type_code, holder_kind, issuer_department_ids, fields, validity_days"


def _type(row: asyncpg.Record) -> CertType:
    rules = tuple(
        FieldRule(
            n=f["n"],
            key=f["key"],
            label=f["label"],
            type=f["type"],
            required=bool(f.get("required", True)),
            sensitive=bool(f.get("sensitive", False)),
            enum=tuple(f["enum"]) if f.get("enum") else None,
        )
        for f in row["fields"]
    )
    return CertType(
        code=row["code"],
        name=row["name"],
        gb_type_code=row["gb_type_code"],
        holder_kind=row["holder_kind"],
        issuer_department_ids=frozenset(row["issuer_department_ids"]),
        fields=rules,
        validity_days=row["validity_days"],
    )


async def get_type(conn: Conn, code: str) -> CertType | None:
    row = await conn.fetchrow(f"SELECT {TYPE_COLUMNS} FROM certificate_type WHERE code = $1", code)
    return None if row is None else _type(row)


async def find_type_by_gb_code(conn: Conn, gb_type_code: str) -> tuple[str, str] | None:
    """``(code, name)`` of the type with this 证照类型代码."""
    row = await conn.fetchrow("SELECT code, name FROM certificate_type WHERE gb_type_code = $1", gb_type_code)
    return None if row is None else (row["code"], row["name"])


NEXT_SERIALS = """
INSERT INTO esign_serial AS s (type_code, department_id, year, last_serial) VALUES ($1, $2, $3, $4)
ON CONFLICT ON CONSTRAINT esign_serial_pkey DO UPDATE SET last_serial = s.last_serial + EXCLUDED.last_serial
RETURNING last_serial
"""


async def next_serials(conn: Conn, type_code: str, department_id: UUID, year: int, count: int) -> int:
    """Take ``count`` serial numbers; return the first. The row stays locked until the caller commits."""
    last = await conn.fetchval(NEXT_SERIALS, type_code, department_id, year, count)
    return last - count + 1


class CertificateRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    department_id: UUID
    type_code: str
    licence_id: str
    holder_kind: str
    person_id: UUID  # the holder: a person, or an organisation's own person row
    holder_name: bytes
    holder_id: bytes | None
    holder_index: bytes | None
    holder_credit_code: str | None
    holder_name_masked: str
    holder_id_masked: str
    fields: dict[str, Any]
    sealed_fields: bytes | None
    seal_id: UUID
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    status: str
    status_reason: str | None
    status_changed_at: datetime | None
    status_list_id: int
    status_index: int
    record_digest: bytes
    to_be_signed: bytes | None
    token: str | None
    external_ref: str
    request_hash: bytes
    application_id: UUID | None
    created_by: str
    created_at: datetime
    record_salt: bytes | None = None  # mixed into record_digest; None for certificates issued before salts


# The order of CertificateRow's fields, which is also the order of the table's columns.
COLUMNS = tuple(CertificateRow.__struct_fields__)


class CertificateView(msgspec.Struct, frozen=True, kw_only=True):
    """A row with what its response needs from other tables."""

    row: CertificateRow
    type_name: str
    gb_type_code: str
    department_name: str
    department_credit_code: str
    seal_kid: bytes
    seal_algorithm: str


# The type and department are reference tables (a copy beside every shard); the seal's kid and algorithm come
# from ``seal_keys`` (seals stay on the coordinator, with their keys), so a read stays on the holder's shard.
SELECT_VIEW = f"""
SELECT {", ".join("c." + c for c in COLUMNS)}, t.name AS type_name, t.gb_type_code, d.name AS department_name,
       d.credit_code AS department_credit_code
FROM esign_certificate c
JOIN certificate_type t ON t.code = c.type_code
JOIN department d ON d.id = c.department_id
"""

# A seal's kid and algorithm never change: kept once read, by seal id (a few per department).
_SEAL_KEYS: dict[UUID, tuple[bytes, str]] = {}


async def seal_keys(conn: Conn, seal_ids: set[UUID]) -> dict[UUID, tuple[bytes, str]]:
    """``(kid, algorithm)`` of these seals."""
    missing = [i for i in seal_ids if i not in _SEAL_KEYS]
    if missing:
        rows = await conn.fetch("SELECT id, kid, algorithm FROM esign_seal WHERE id = ANY($1::uuid[])", missing)
        _SEAL_KEYS.update((r["id"], (r["kid"], r["algorithm"])) for r in rows)
    return {i: _SEAL_KEYS[i] for i in seal_ids}


class ShownCertificate(msgspec.Struct, frozen=True):
    """What the API shows of a certificate (``views.render``): the shown columns and the names around them.

    Fields in the order of ``SELECT_SHOWN``'s columns, so an anonymous record of that query (a page of
    wallet items carries one per certificate) becomes one with ``ShownCertificate(*record)``.
    """

    id: UUID
    licence_id: str
    type_code: str
    holder_kind: str
    holder_name_masked: str
    holder_id_masked: str
    fields: dict[str, Any]
    sealed_fields: bytes | None
    department_id: UUID
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    status: str
    status_list_id: int
    status_index: int
    token: str | None
    type_name: str
    department_name: str
    department_credit_code: str
    seal_kid: bytes


_JOINED = {
    "type_name": "t.name",
    "department_name": "d.name",
    "department_credit_code": "d.credit_code",
    "seal_kid": "c.seal_id AS seal_kid",  # the seal's id in its kid's place, for seal_keys
}
SELECT_SHOWN: str = f"""
SELECT {", ".join(_JOINED.get(f, "c." + f) for f in ShownCertificate.__struct_fields__)}
FROM esign_certificate c
JOIN certificate_type t ON t.code = c.type_code
JOIN department d ON d.id = c.department_id
"""


def shown(v: CertificateView) -> ShownCertificate:
    r = v.row
    return ShownCertificate(
        r.id,
        r.licence_id,
        r.type_code,
        r.holder_kind,
        r.holder_name_masked,
        r.holder_id_masked,
        r.fields,
        r.sealed_fields,
        r.department_id,
        r.issued_at,
        r.valid_from,
        r.valid_until,
        r.status,
        r.status_list_id,
        r.status_index,
        r.token,
        v.type_name,
        v.department_name,
        v.department_credit_code,
        v.seal_kid,
    )


async def _view(conn: Conn, row: asyncpg.Record) -> CertificateView:
    values = dict(row)
    extra = {k: values.pop(k) for k in ("type_name", "gb_type_code", "department_name", "department_credit_code")}
    kid, algorithm = (await seal_keys(conn, {row["seal_id"]}))[row["seal_id"]]
    return CertificateView(row=CertificateRow(**values), **extra, seal_kid=kid, seal_algorithm=algorithm)


async def holder_of(conn: Conn, certificate_id: UUID) -> UUID | None:
    """Whose the certificate is (None: no such certificate), from the key table."""
    return await conn.fetchval("SELECT person_id FROM esign_certificate_key WHERE id = $1", certificate_id)


GET_CERTIFICATE = f"{SELECT_VIEW} WHERE c.person_id = $2 AND c.id = $1"


async def get_certificate(
    conn: Conn, certificate_id: UUID, *, person_id: UUID | None = None, for_update: bool = False
) -> CertificateView | None:
    """The certificate with what its response needs; ``person_id``, its holder when the caller knows it (else
    the key table says)."""
    holder = person_id if person_id is not None else await holder_of(conn, certificate_id)
    if holder is None:
        return None
    lock = " FOR UPDATE OF c" if for_update else ""
    row = await conn.fetchrow(GET_CERTIFICATE + lock, certificate_id, holder)
    return None if row is None else await _view(conn, row)


GET_SHOWN = f"{SELECT_SHOWN} WHERE c.person_id = ANY($2::uuid[]) AND c.id = ANY($1::uuid[])"


async def get_shown(conn: Conn, certificate_ids: list[UUID], *, holder: UUID | None = None) -> list[ShownCertificate]:
    """What the API shows of the certificates among ``certificate_ids`` (any order): those of ``holder`` when
    given (one shard), else their holders from the key table, then the certificates on the holders' shards."""
    if holder is not None:
        holders = [holder]
    else:
        keys = await conn.fetch(
            "SELECT person_id FROM esign_certificate_key WHERE id = ANY($1::uuid[])", certificate_ids
        )
        holders = list({r[0] for r in keys})
    if not holders:
        return []
    rows = await conn.fetch(GET_SHOWN, certificate_ids, holders)
    seals = await seal_keys(conn, {r["seal_kid"] for r in rows})
    return [msgspec.structs.replace(ShownCertificate(*r), seal_kid=seals[r["seal_kid"]][0]) for r in rows]


FIND_REF = "SELECT id, person_id FROM esign_certificate_key WHERE department_id = $1 AND external_ref = $2"


async def find_by_external_ref(conn: Conn, department_id: UUID, external_ref: str) -> CertificateView | None:
    key = await conn.fetchrow(FIND_REF, department_id, external_ref)
    return None if key is None else await get_certificate(conn, key["id"], person_id=key["person_id"])


FIND_REF_KEYS = """
SELECT id, person_id FROM esign_certificate_key WHERE department_id = $1 AND external_ref = ANY($2::text[])
"""
FIND_REFS = """
SELECT external_ref, id, request_hash, status FROM esign_certificate
WHERE person_id = ANY($1::uuid[]) AND id = ANY($2::uuid[])
"""


async def find_external_refs(conn: Conn, department_id: UUID, refs: list[str]) -> dict[str, asyncpg.Record]:
    """Certificates of the department already issued under any of ``refs``, by ref."""
    keys = await conn.fetch(FIND_REF_KEYS, department_id, refs)
    if not keys:
        return {}
    rows = await conn.fetch(FIND_REFS, list({k["person_id"] for k in keys}), [k["id"] for k in keys])
    return {r["external_ref"]: r for r in rows}


INSERT_CERTIFICATE = f"""
INSERT INTO esign_certificate ({", ".join(COLUMNS)}) VALUES ({", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))})
"""
# What is unique across holders: a second certificate under a department's external_ref (or, should the
# allocators ever fail, a licence number or status slot given twice) breaks here.
KEY_COLUMNS = ("id", "person_id", "department_id", "external_ref", "licence_id", "status_list_id", "status_index")
INSERT_KEY = "INSERT INTO esign_certificate_key (id, person_id, department_id, external_ref, licence_id,"
INSERT_KEY += " status_list_id, status_index) VALUES ($1, $2, $3, $4, $5, $6, $7)"


def as_record(row: CertificateRow) -> tuple[Any, ...]:
    return msgspec.structs.astuple(row)


async def insert_certificate(conn: Conn, row: CertificateRow) -> None:
    await conn.execute(
        INSERT_KEY,
        row.id,
        row.person_id,
        row.department_id,
        row.external_ref,
        row.licence_id,
        row.status_list_id,
        row.status_index,
    )
    await conn.execute(INSERT_CERTIFICATE, *as_record(row))


SET_STATUS = """
UPDATE esign_certificate SET status = $3, status_reason = $4, status_changed_at = $5 WHERE person_id = $2 AND id = $1
"""


async def set_status(
    conn: Conn, certificate_id: UUID, person_id: UUID, status: str, *, reason: str | None, now: datetime
) -> None:
    await conn.execute(SET_STATUS, certificate_id, person_id, status, reason, now)


SET_SIGNED = """
UPDATE esign_certificate SET status = 'valid', token = $3, to_be_signed = NULL, status_changed_at = $4
WHERE person_id = $2 AND id = $1
"""


async def set_signed(conn: Conn, certificate_id: UUID, person_id: UUID, token: str, *, now: datetime) -> None:
    await conn.execute(SET_SIGNED, certificate_id, person_id, token, now)


async def delete_pending(conn: Conn, certificate_id: UUID, person_id: UUID) -> None:
    """Drop a certificate whose signature never came (its serial and slot stay unused), and its key."""
    deleted = await conn.fetchval(
        "DELETE FROM esign_certificate WHERE person_id = $2 AND id = $1 AND status = 'pending' RETURNING id",
        certificate_id,
        person_id,
    )
    if deleted is not None:
        await conn.execute("DELETE FROM esign_certificate_key WHERE id = $1", certificate_id)


async def certificate_token(conn: Conn, person_id: UUID, certificate_id: UUID) -> str | None:
    """The signed token of ``person_id``'s certificate (None until it is signed, or when there is none)."""
    return await conn.fetchval(
        "SELECT token FROM esign_certificate WHERE person_id = $1 AND id = $2", person_id, certificate_id
    )


# Whose each certificate is, from its key (on the coordinator of a cluster; a business licence is the new
# business's, not the applicant's), then the certificates read on those holders' shards.
HOLDERS = "SELECT person_id FROM esign_certificate_key WHERE id = ANY($1::uuid[])"
FIRST_CREDIT_CODE = """
SELECT holder_credit_code FROM esign_certificate
WHERE person_id = ANY($2::uuid[]) AND id = ANY($1::uuid[]) AND holder_kind = 'organisation'
ORDER BY issued_at, id LIMIT 1
"""


async def first_credit_code(conn: Conn, certificate_ids: list[UUID]) -> str | None:
    """The credit code of the first business entity among these certificates' holders."""
    holders = list({r[0] for r in await conn.fetch(HOLDERS, certificate_ids)}) if certificate_ids else []
    return await conn.fetchval(FIRST_CREDIT_CODE, certificate_ids, holders) if holders else None
