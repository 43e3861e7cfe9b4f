"""Operators' catalogue writes (``PUT /v1/admin/matters|bundles/{code}``). The caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from api.kernel.db import Conn
from matters.models import BundleIn, MatterIn


async def certificate_type_issuers(conn: Conn, codes: list[str]) -> dict[str, set[UUID]]:
    """The issuing departments of each certificate type among ``codes`` that exists."""
    rows = await conn.fetch(
        "SELECT code, issuer_department_ids FROM certificate_type WHERE code = ANY($1::text[])", codes
    )
    return {r["code"]: set(r["issuer_department_ids"]) for r in rows}


MATTER_FORM_KEYS = """
SELECT code, array(SELECT f->>'key' FROM jsonb_array_elements(form) f) AS keys
FROM catalog_matter WHERE code = ANY($1::text[])
"""


async def matter_form_keys(conn: Conn, codes: list[str]) -> dict[str, frozenset[str]]:
    """The form keys of each matter among ``codes`` that exists."""
    return {r["code"]: frozenset(r["keys"]) for r in await conn.fetch(MATTER_FORM_KEYS, codes)}


# A material is shared by every matter naming it: a new one starts not deferrable and without a
# holder field (both set by the seed catalogue only); an existing one keeps them.
UPSERT_MATERIAL = """
INSERT INTO catalog_material (code, name, satisfied_by_certificate_types, held_by_department_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT ON CONSTRAINT catalog_material_pkey DO UPDATE SET name = EXCLUDED.name,
    satisfied_by_certificate_types = EXCLUDED.satisfied_by_certificate_types,
    held_by_department_id = EXCLUDED.held_by_department_id
"""

# xmax is 0 only on a row this statement inserted, so it tells a creation from an update.
UPSERT_MATTER = """
INSERT INTO catalog_matter (code, name, kind, department_id, guide, materials, form, result_certificate_type, updated_at,
    applicant_kinds)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT ON CONSTRAINT catalog_matter_pkey DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
    department_id = EXCLUDED.department_id, guide = EXCLUDED.guide, materials = EXCLUDED.materials,
    form = EXCLUDED.form, result_certificate_type = EXCLUDED.result_certificate_type, updated_at = EXCLUDED.updated_at,
    applicant_kinds = EXCLUDED.applicant_kinds
RETURNING xmax = 0 AS created
"""


async def save_matter(conn: Conn, data: MatterIn, *, now: datetime) -> bool:
    """Upsert the matter and the materials it names; True when the matter is new."""
    # Materials in code order, so two operators saving matters that share materials cannot deadlock.
    for m in sorted(data.materials, key=lambda m: m.code):
        held = m.held_by_department.id if m.held_by_department else None
        await conn.execute(UPSERT_MATERIAL, m.code, m.name.strip(), list(m.satisfied_by_certificate_types), held)
    # A matter keeps only its materials' codes and counts; the rest is the shared material's.
    materials = [{"code": m.code, "required": m.required, "copies": m.copies} for m in data.materials]
    return await conn.fetchval(
        UPSERT_MATTER,
        data.code,
        data.name.strip(),
        data.kind.strip(),
        data.department.id,
        msgspec.to_builtins(data.guide),
        materials,
        msgspec.to_builtins(data.form),
        data.result_certificate_type,
        now,
        data.applicant_kinds,
    )


# `subject` (whom the bundle is for) is set by the seed catalogue only: a new bundle is for the applicant.
UPSERT_BUNDLE = """
INSERT INTO catalog_bundle (code, name, life_stage, lead_department_id, matters, promised_limit_days, subject, updated_at,
    applicant_kinds)
VALUES ($1, $2, $3, $4, $5, $6, 'self', $7, $8)
ON CONFLICT ON CONSTRAINT catalog_bundle_pkey DO UPDATE SET name = EXCLUDED.name, life_stage = EXCLUDED.life_stage,
    lead_department_id = EXCLUDED.lead_department_id, matters = EXCLUDED.matters,
    promised_limit_days = EXCLUDED.promised_limit_days, updated_at = EXCLUDED.updated_at,
    applicant_kinds = EXCLUDED.applicant_kinds
RETURNING xmax = 0 AS created
"""


async def save_bundle(conn: Conn, data: BundleIn, *, now: datetime) -> bool:
    """Upsert the bundle; True when it is new."""
    matters = [{"code": e.code, "after": list(e.after), "condition": e.condition} for e in data.matters]
    return await conn.fetchval(
        UPSERT_BUNDLE,
        data.code,
        data.name.strip(),
        data.life_stage.strip(),
        data.lead_department.id,
        matters,
        data.promised_limit_days,
        now,
        data.applicant_kinds,
    )
