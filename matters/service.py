"""Catalogue rules: merging a bundle's matters into one form and one list of materials."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from matters.models import (
    ApplicantKind,
    Bundle,
    BundleFormField,
    BundleMaterial,
    BundleMatter,
    BundleStats,
    DepartmentRef,
    Matter,
)

# What a citizen's wallet usually holds already (catalog/README.md): their ID card, the household
# register and the marriage certificate. `uploads_typical` counts what is left beyond these.
USUAL_IDENTITY_DOCUMENTS = frozenset({"id_card", "household_register", "marriage_certificate"})
# The stages of a business entity's life cycle (高效办成一件事: 准入准营 … 注销退出): bundles in them are
# applied for acting for the entity, whose wallet usually holds its 营业执照 (its representative's ID card too).
ENTERPRISE_STAGES = frozenset({"准入准营", "招聘用工", "纳税缴费", "经营发展", "工程建设", "注销退出"})
USUAL_ENTITY_DOCUMENTS = frozenset({"id_card", "business_license"})


def applicant_kinds(life_stage: str, stored: list[str] | None) -> list[ApplicantKind]:
    """Who may apply for a bundle: as the catalogue says, else the entity for an enterprise's life stage, a person
    for the others."""
    if stored:
        return [k for k in KINDS if k in stored]
    return ["organisation"] if life_stage in ENTERPRISE_STAGES else ["person"]


def matter_applicant_kinds(
    code: str, stored: list[str] | None, bundles: Iterable[tuple[str, list[str] | None, list[str]]]
) -> list[ApplicantKind]:
    """Who may apply for a single matter: as the catalogue says, else whoever may apply for a bundle it belongs to
    (``bundles``: life stage, stored kinds, matter codes), a person when it belongs to none."""
    if stored:
        return [k for k in KINDS if k in stored]
    found = {k for stage, kinds, codes in bundles if code in codes for k in applicant_kinds(stage, kinds)}
    return [k for k in KINDS if k in found] or ["person"]


KINDS: tuple[ApplicantKind, ...] = ("person", "organisation")


def predecessors(code: str, after: dict[str, list[str]]) -> set[str]:
    """Every matter that must be approved before ``code`` starts (transitive ``after``)."""
    seen: set[str] = set()
    stack = list(after.get(code, []))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(after.get(current, []))
    return seen


def merge_form(matters: Iterable[Matter]) -> list[BundleFormField]:
    """Union of the matters' form fields, one per canonical key; asked once, required if any needs it."""
    merged: dict[str, BundleFormField] = {}
    for matter in matters:
        for f in matter.form:
            seen = merged.get(f.key)
            if seen is None:
                merged[f.key] = BundleFormField(
                    key=f.key, label=f.label, type=f.type, required=f.required, used_by=[matter.code]
                )
            else:
                merged[f.key] = BundleFormField(
                    key=f.key,
                    label=seen.label,
                    type=seen.type,
                    required=seen.required or f.required,
                    used_by=[*seen.used_by, matter.code],
                )
    return list(merged.values())


def merge_materials(matters: list[Matter], after: dict[str, list[str]]) -> list[BundleMaterial]:
    """Union of the matters' materials, de-duplicated by code, each submitted once.

    A material is ``produced_by_matter`` when an earlier matter of the bundle (one every matter
    needing it waits for) issues a certificate that stands for it.
    """
    merged: dict[str, BundleMaterial] = {}
    for matter in matters:
        for m in matter.materials:
            seen = merged.get(m.code)
            merged[m.code] = BundleMaterial(
                code=m.code,
                name=m.name,
                required=m.required or (seen.required if seen else False),
                satisfied_by_certificate_types=m.satisfied_by_certificate_types,
                held_by_department=m.held_by_department,
                copies=max(m.copies, seen.copies if seen else 0),
                used_by=[*(seen.used_by if seen else []), matter.code],
                produced_by_matter=None,
            )
    out = []
    for material in merged.values():
        producer = next(
            (
                p.code
                for p in matters
                if p.result_certificate_type in material.satisfied_by_certificate_types
                and all(p.code in predecessors(user, after) for user in material.used_by)
            ),
            None,
        )
        out.append(msgspec.structs.replace(material, produced_by_matter=producer))
    return out


def left_to_upload(materials: Iterable[BundleMaterial], wallet_types: frozenset[str]) -> list[BundleMaterial]:
    """Required materials that neither the wallet, a department nor the bundle itself provides."""
    return [
        m
        for m in materials
        if m.required
        and m.held_by_department is None
        and m.produced_by_matter is None
        and not wallet_types.intersection(m.satisfied_by_certificate_types)
    ]


def build_bundle(
    *,
    code: str,
    name: str,
    life_stage: str,
    lead_department: DepartmentRef,
    entries: list[tuple[str, list[str], str | None]],
    matters: dict[str, Matter],
    promised_limit_days: int,
    kinds: list[ApplicantKind] | None = None,
) -> Bundle:
    """Assemble the public view of a bundle from its entries ``(matter code, after, condition)``."""
    ordered = [matters[c] for c, _, _ in entries]
    after = {c: a for c, a, _ in entries}
    materials = merge_materials(ordered, after)
    enterprise = life_stage in ENTERPRISE_STAGES
    return Bundle(
        code=code,
        name=name,
        life_stage=life_stage,
        lead_department=lead_department,
        matters=[
            BundleMatter(code=c, name=matters[c].name, department=matters[c].department, after=a, condition=cond)
            for c, a, cond in entries
        ],
        form=merge_form(ordered),
        materials=materials,
        promised_limit_days=promised_limit_days,
        holder_kind="organisation" if enterprise else "person",
        applicant_kinds=kinds if kinds is not None else applicant_kinds(life_stage, None),
        stats=BundleStats(
            materials_before=sum(len(m.materials) for m in ordered),
            materials_after=len(materials),
            uploads_typical=len(
                left_to_upload(materials, USUAL_ENTITY_DOCUMENTS if enterprise else USUAL_IDENTITY_DOCUMENTS)
            ),
            matters=len(ordered),
            departments=len({m.department.id for m in ordered}),
            visits=max((m.guide.visits_required for m in ordered), default=0),
        ),
    )
