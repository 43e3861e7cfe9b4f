"""``zhangban seed``: load the project's catalogue (``catalog.json`` beside this file).

Upserts by natural key (department key, codes), so running it again refreshes the catalogue without
touching anything else. Departments keep their ids across runs.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import msgspec

from api.kernel import authority
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from matters.applications.service import parse_condition


def load_catalogue() -> dict[str, Any]:
    return json.loads(resources.files("matters").joinpath("catalog.json").read_text(encoding="utf-8"))


UPSERT_DEPARTMENT = """
INSERT INTO department (id, key, name, credit_code, region_code)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, credit_code = EXCLUDED.credit_code,
    region_code = EXCLUDED.region_code
RETURNING id
"""

# The upserts take the time of the load as a value: Citus refuses now() in DO UPDATE on a reference table.
UPSERT_CERTIFICATE_TYPE = """
INSERT INTO certificate_type AS t (code, name, gb_type_code, holder_kind, defining_department_id,
    issuer_department_ids, fields, validity_days, last_field_n)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, gb_type_code = EXCLUDED.gb_type_code,
    holder_kind = EXCLUDED.holder_kind, defining_department_id = EXCLUDED.defining_department_id,
    issuer_department_ids = EXCLUDED.issuer_department_ids, fields = EXCLUDED.fields,
    validity_days = EXCLUDED.validity_days, last_field_n = greatest(t.last_field_n, EXCLUDED.last_field_n),
    updated_at = $10
"""

UPSERT_MATERIAL = """
INSERT INTO catalog_material (code, name, satisfied_by_certificate_types, held_by_department_id, may_defer, holder_field)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,
    satisfied_by_certificate_types = EXCLUDED.satisfied_by_certificate_types,
    held_by_department_id = EXCLUDED.held_by_department_id, may_defer = EXCLUDED.may_defer,
    holder_field = EXCLUDED.holder_field
"""

UPSERT_MATTER = """
INSERT INTO catalog_matter (code, name, kind, department_id, guide, materials, form, result_certificate_type,
    applicant_kinds)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
    department_id = EXCLUDED.department_id, guide = EXCLUDED.guide, materials = EXCLUDED.materials,
    form = EXCLUDED.form, result_certificate_type = EXCLUDED.result_certificate_type,
    applicant_kinds = EXCLUDED.applicant_kinds, updated_at = $10
"""

UPSERT_BUNDLE = """
INSERT INTO catalog_bundle (code, name, life_stage, lead_department_id, matters, promised_limit_days, subject,
    applicant_kinds)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, life_stage = EXCLUDED.life_stage,
    lead_department_id = EXCLUDED.lead_department_id, matters = EXCLUDED.matters,
    promised_limit_days = EXCLUDED.promised_limit_days, subject = EXCLUDED.subject,
    applicant_kinds = EXCLUDED.applicant_kinds, updated_at = $9
"""

UPSERT_DAY = """
INSERT INTO calendar_day (day, kind) VALUES ($1, $2)
ON CONFLICT (day) DO UPDATE SET kind = EXCLUDED.kind
"""


def _authority(department: dict[str, Any]) -> authority.Authority:
    return msgspec.convert(department.get("authority", {}), authority.Authority)


async def _state_missing_authority(conn: Conn, cat: dict[str, Any]) -> None:
    """Give catalogue departments without an authority document the catalogue's (seeded before it had one)."""
    for d in cat["departments"]:
        found = await conn.fetchval(
            "SELECT d.id FROM department d LEFT JOIN department_authority a ON a.department_id = d.id "
            "WHERE d.key = $1 AND a.department_id IS NULL",
            d["key"],
        )
        if found is not None:
            await authority.put_authority(conn, found, _authority(d), now=datetime.now(UTC))


async def seed_catalogue(conn: Conn, *, only_if_empty: bool = False) -> dict[str, int]:
    """Load the catalogue in one transaction; with ``only_if_empty`` do nothing when matters exist."""
    cat = load_catalogue()
    now = datetime.now(UTC)
    async with conn.transaction():
        if only_if_empty and await conn.fetchval("SELECT EXISTS (SELECT 1 FROM catalog_matter)"):
            await _state_missing_authority(conn, cat)
            return {}
        dept = {}
        for d in cat["departments"]:
            dept[d["key"]] = await conn.fetchval(
                UPSERT_DEPARTMENT, uuid7(), d["key"], d["name"], d["credit_code"], d["region_code"]
            )
            await authority.put_authority(conn, dept[d["key"]], _authority(d), now=datetime.now(UTC))
        issuers: dict[str, set[str]] = {}
        for m in cat["matters"]:
            if m["result_certificate_type"]:
                issuers.setdefault(m["result_certificate_type"], set()).add(m["department"])
        for t in cat["certificate_types"]:
            keys = {t["defining_department"], *issuers.get(t["code"], set())}
            await conn.execute(
                UPSERT_CERTIFICATE_TYPE,
                t["code"],
                t["name"],
                t["gb_type_code"],
                t["holder_kind"],
                dept[t["defining_department"]],
                sorted(dept[k] for k in keys),
                t["fields"],
                t["validity_days"],
                max(f["n"] for f in t["fields"]),
                now,
            )
        # The trust list carries the type registry (FORMATS.md "Trust list"): sign it again.
        await conn.execute("UPDATE esign_trust_list SET version = version + 1 WHERE id")
        for m in cat["materials"]:
            held = m["held_by_department"]
            await conn.execute(
                UPSERT_MATERIAL,
                m["code"],
                m["name"],
                m["satisfied_by_certificate_types"],
                dept[held] if held else None,
                m.get("deferrable", False),
                m.get("holder_field"),
            )
        for m in cat["matters"]:
            materials = [{"code": x["code"], "required": x["required"], "copies": x["copies"]} for x in m["materials"]]
            await conn.execute(
                UPSERT_MATTER,
                m["code"],
                m["name"],
                m["kind"],
                dept[m["department"]],
                m["guide"],
                materials,
                m["form"],
                m["result_certificate_type"],
                m.get("applicant_kinds"),  # None: derived (matters.service)
                now,
            )
        for b in cat["bundles"]:
            for entry in b["matters"]:
                if entry["condition"] is not None:
                    parse_condition(entry["condition"])  # a condition we cannot evaluate must not be loaded
            await conn.execute(
                UPSERT_BUNDLE,
                b["code"],
                b["name"],
                b["life_stage"],
                dept[b["lead_department"]],
                b["matters"],
                b["promised_limit_days"],
                b.get("subject", "self"),
                b.get("applicant_kinds"),  # None: derived from the life stage (matters.service)
                now,
            )
        days = cat["holidays_2026"]
        for kind, key in (("holiday", "holidays"), ("workday", "workdays")):
            for day in days[key]:
                await conn.execute(UPSERT_DAY, date.fromisoformat(day), kind)
    return {
        "departments": len(cat["departments"]),
        "certificate types": len(cat["certificate_types"]),
        "materials": len(cat["materials"]),
        "matters": len(cat["matters"]),
        "bundles": len(cat["bundles"]),
        "calendar days": len(days["holidays"]) + len(days["workdays"]),
    }
