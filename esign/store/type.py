"""Certificate types as operators define them: SQL next to the one function that runs it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.db import Conn, one
from matters import CertificateField, CertificateType, DepartmentRef


async def department_credit_code(conn: Conn, department_id: UUID) -> str | None:
    return await conn.fetchval("SELECT credit_code FROM department WHERE id = $1", department_id)


async def existing_type(conn: Conn, code: str) -> asyncpg.Record | None:
    """The 证照类型代码, field numbers and highest field number ever given of type ``code``, locked for this
    transaction (None for a new type)."""
    return await conn.fetchrow(
        "SELECT gb_type_code, fields, last_field_n FROM certificate_type WHERE code = $1 FOR UPDATE", code
    )


def number_fields(
    fields: list[dict[str, Any]], existing: list[dict[str, Any]], last_n: int
) -> tuple[list[dict[str, Any]], int]:
    """``fields`` each with its registry number ``n``: a field the type had keeps its number, a new one takes
    the next after ``last_n`` (numbers of removed fields are never given again). Returns the new last number."""
    known = {f["key"]: f["n"] for f in existing if "n" in f}
    out = []
    for f in fields:
        n = known.get(f["key"])
        if n is None:
            last_n += 1
            n = last_n
        out.append({"n": n, **f})
    return out, last_n


async def gb_code_owner(conn: Conn, gb_type_code: str) -> str | None:
    return await conn.fetchval("SELECT code FROM certificate_type WHERE gb_type_code = $1", gb_type_code)


async def next_gb_code(conn: Conn, credit_code: str) -> str | None:
    """The defining department's next free type code (credit code + 001..999), or None when all are taken."""
    rows = await conn.fetch("SELECT gb_type_code FROM certificate_type WHERE gb_type_code LIKE $1 || '%'", credit_code)
    used = {r[0][18:] for r in rows}
    return next((f"{credit_code}{n:03d}" for n in range(1, 1000) if f"{n:03d}" not in used), None)


UPSERT_TYPE = """
INSERT INTO certificate_type (code, name, gb_type_code, holder_kind, defining_department_id, issuer_department_ids,
    fields, validity_days, updated_at, last_field_n)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT ON CONSTRAINT certificate_type_pkey DO UPDATE SET name = EXCLUDED.name,
    holder_kind = EXCLUDED.holder_kind, defining_department_id = EXCLUDED.defining_department_id,
    issuer_department_ids = EXCLUDED.issuer_department_ids, fields = EXCLUDED.fields,
    validity_days = EXCLUDED.validity_days, updated_at = EXCLUDED.updated_at, last_field_n = EXCLUDED.last_field_n
"""
SELECT_TYPE = """
SELECT t.code, t.name, t.gb_type_code, t.holder_kind, t.issuer_department_ids, t.fields, t.validity_days,
       d.id AS defining_id, d.name AS defining_name
FROM certificate_type t LEFT JOIN department d ON d.id = t.defining_department_id
WHERE t.code = $1
"""


async def upsert_type(conn: Conn, values: dict[str, Any]) -> CertificateType:
    await conn.execute(
        UPSERT_TYPE,
        values["code"],
        values["name"],
        values["gb_type_code"],
        values["holder_kind"],
        values["defining_department_id"],
        values["issuer_department_ids"],
        values["fields"],
        values["validity_days"],
        values["now"],
        values["last_field_n"],
    )
    r = one(await conn.fetchrow(SELECT_TYPE, values["code"]), "upserted certificate type")
    return CertificateType(
        code=r["code"],
        name=r["name"],
        gb_type_code=r["gb_type_code"],
        holder_kind=r["holder_kind"],
        defining_department=DepartmentRef(id=r["defining_id"], name=r["defining_name"]) if r["defining_id"] else None,
        issuer_department_ids=list(r["issuer_department_ids"]),
        fields=msgspec.convert(r["fields"], list[CertificateField]),
        validity_days=r["validity_days"],
    )
