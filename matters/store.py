"""Catalogue SQL. Each query sits next to its only caller; the caller owns the transaction."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.db import Conn
from matters import service
from matters.errors import BundleNotFound, MatterNotFound
from matters.models import (
    Bundle,
    CertificateField,
    CertificateType,
    DepartmentRef,
    FormField,
    Guide,
    Matter,
    MatterMaterial,
)
from matters.workdays import Calendar

MATTER_COLUMNS = """
m.code, m.name, m.kind, m.guide, m.materials, m.form, m.result_certificate_type, m.applicant_kinds,
d.id AS department_id, d.name AS department_name
"""

LIST_MATTERS = f"""
SELECT {MATTER_COLUMNS}
FROM catalog_matter m JOIN department d ON d.id = m.department_id
WHERE ($1::text IS NULL OR m.name ILIKE '%' || $1 || '%' ESCAPE '\\' OR m.code = $5)
  AND ($2::uuid IS NULL OR m.department_id = $2)
  AND ($3::text IS NULL OR m.code > $3)
ORDER BY m.code
LIMIT $4
"""

GET_MATTERS = f"""
SELECT {MATTER_COLUMNS}
FROM catalog_matter m JOIN department d ON d.id = m.department_id
WHERE m.code = ANY($1::text[])
"""

GET_MATERIALS = """
SELECT c.code, c.name, c.satisfied_by_certificate_types, d.id AS held_id, d.name AS held_name
FROM catalog_material c LEFT JOIN department d ON d.id = c.held_by_department_id
WHERE c.code = ANY($1::text[])
"""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Whom the bundles are for, to derive a matter's applicants when the catalogue names none (a few dozen rows).
BUNDLE_APPLICANTS = "SELECT life_stage, applicant_kinds, matters FROM catalog_bundle"


async def _matters_from_rows(conn: Conn, rows: list[asyncpg.Record]) -> list[Matter]:
    codes = sorted({m["code"] for r in rows for m in r["materials"]})
    materials = {r["code"]: r for r in await conn.fetch(GET_MATERIALS, codes)}
    bundles = (
        [
            (b["life_stage"], b["applicant_kinds"], [e["code"] for e in b["matters"]])
            for b in await conn.fetch(BUNDLE_APPLICANTS)
        ]
        if any(r["applicant_kinds"] is None for r in rows)
        else []
    )
    out = []
    for r in rows:
        out.append(
            Matter(
                code=r["code"],
                name=r["name"],
                kind=r["kind"],
                department=DepartmentRef(id=r["department_id"], name=r["department_name"]),
                guide=msgspec.convert(r["guide"], Guide),
                materials=[
                    MatterMaterial(
                        code=item["code"],
                        name=materials[item["code"]]["name"],
                        required=item["required"],
                        satisfied_by_certificate_types=list(materials[item["code"]]["satisfied_by_certificate_types"]),
                        held_by_department=(
                            DepartmentRef(
                                id=materials[item["code"]]["held_id"], name=materials[item["code"]]["held_name"]
                            )
                            if materials[item["code"]]["held_id"]
                            else None
                        ),
                        copies=item["copies"],
                    )
                    for item in r["materials"]
                ],
                form=msgspec.convert(r["form"], list[FormField]),
                result_certificate_type=r["result_certificate_type"],
                applicant_kinds=service.matter_applicant_kinds(r["code"], r["applicant_kinds"], bundles),
            )
        )
    return out


async def list_matters(
    conn: Conn, *, q: str | None, department_id: UUID | None, after: str | None, limit: int
) -> list[Matter]:
    """Matters whose name contains ``q`` (or whose code is ``q``), ordered by code, after a cursor."""
    rows = await conn.fetch(LIST_MATTERS, _like_escape(q) if q else None, department_id, after, limit, q)
    return await _matters_from_rows(conn, rows)


async def get_matters(conn: Conn, codes: list[str]) -> dict[str, Matter]:
    rows = await conn.fetch(GET_MATTERS, codes)
    return {m.code: m for m in await _matters_from_rows(conn, rows)}


async def known_matters(conn: Conn, codes: list[str]) -> set[str]:
    """The matters among ``codes`` that exist."""
    return {r["code"] for r in await conn.fetch("SELECT code FROM catalog_matter WHERE code = ANY($1::text[])", codes)}


async def get_matter(conn: Conn, code: str) -> Matter:
    found = await get_matters(conn, [code])
    if code not in found:
        raise MatterNotFound(code=code)
    return found[code]


LIST_BUNDLES = """
SELECT b.code, b.name, b.life_stage, b.matters, b.promised_limit_days, b.applicant_kinds, d.id AS lead_id,
       d.name AS lead_name
FROM catalog_bundle b JOIN department d ON d.id = b.lead_department_id
WHERE ($1::text IS NULL OR b.code > $1) AND ($2::text IS NULL OR b.code = $2)
ORDER BY b.code
LIMIT $3
"""


async def list_bundles(conn: Conn, *, after: str | None, limit: int, code: str | None = None) -> list[Bundle]:
    """Bundles in code order, each with its merged form, materials and burden stats."""
    rows = await conn.fetch(LIST_BUNDLES, after, code, limit)
    matters = await get_matters(conn, sorted({e["code"] for r in rows for e in r["matters"]}))
    return [
        service.build_bundle(
            code=r["code"],
            name=r["name"],
            life_stage=r["life_stage"],
            lead_department=DepartmentRef(id=r["lead_id"], name=r["lead_name"]),
            entries=[(e["code"], e["after"], e["condition"]) for e in r["matters"]],
            matters=matters,
            promised_limit_days=r["promised_limit_days"],
            kinds=service.applicant_kinds(r["life_stage"], r["applicant_kinds"]),
        )
        for r in rows
    ]


async def get_bundle(conn: Conn, code: str) -> Bundle:
    found = await list_bundles(conn, after=None, limit=1, code=code)
    if not found:
        raise BundleNotFound(code=code)
    return found[0]


LIST_CERTIFICATE_TYPES = """
SELECT t.code, t.name, t.gb_type_code, t.holder_kind, t.issuer_department_ids, t.fields, t.validity_days,
       d.id AS defining_id, d.name AS defining_name
FROM certificate_type t LEFT JOIN department d ON d.id = t.defining_department_id
WHERE ($1::text IS NULL OR t.code > $1)
ORDER BY t.code
LIMIT $2
"""


async def list_certificate_types(conn: Conn, *, after: str | None, limit: int) -> list[CertificateType]:
    rows = await conn.fetch(LIST_CERTIFICATE_TYPES, after, limit)
    return [
        CertificateType(
            code=r["code"],
            name=r["name"],
            gb_type_code=r["gb_type_code"],
            holder_kind=r["holder_kind"],
            defining_department=DepartmentRef(id=r["defining_id"], name=r["defining_name"])
            if r["defining_id"]
            else None,
            issuer_department_ids=list(r["issuer_department_ids"]),
            fields=msgspec.convert(r["fields"], list[CertificateField]),
            validity_days=r["validity_days"],
        )
        for r in rows
    ]


async def load_calendar(conn: Conn) -> Calendar:
    """The holiday and make-up-workday exceptions to the Monday–Friday week."""
    rows = await conn.fetch("SELECT day, kind FROM calendar_day")
    holidays: set[date] = {r["day"] for r in rows if r["kind"] == "holiday"}
    workdays: set[date] = {r["day"] for r in rows if r["kind"] == "workday"}
    return Calendar(frozenset(holidays), frozenset(workdays))


async def get_bundle_subject(conn: Conn, code: str) -> str:
    """Whom a bundle is for: ``self``, a ``newborn`` it creates, or the ``deceased``."""
    return await conn.fetchval("SELECT subject FROM catalog_bundle WHERE code = $1", code) or "self"


class MaterialRules(msgspec.Struct, frozen=True):
    # 容缺受理: materials that may be promised for later.
    deferrable: frozenset[str]
    # Materials belonging to someone named in the form by ID number (father_id_card → father_id_number).
    holder_fields: dict[str, str]


async def material_rules(conn: Conn, codes: list[str]) -> MaterialRules:
    rows = await conn.fetch(
        "SELECT code, may_defer, holder_field FROM catalog_material WHERE code = ANY($1::text[])", codes
    )
    return MaterialRules(
        frozenset(r["code"] for r in rows if r["may_defer"]),
        {r["code"]: r["holder_field"] for r in rows if r["holder_field"]},
    )
