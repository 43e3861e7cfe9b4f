"""Catalogue values as they go over the wire (API.md: Catalogue and applications)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec


class DepartmentRef(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str


class Guide(msgspec.Struct, frozen=True, kw_only=True):
    """办事指南: the published service guide of a matter (limits in working days)."""

    conditions: str
    basis: str
    legal_limit_days: int
    promised_limit_days: int
    visits_required: int
    fee: str
    online_depth: str
    process: list[str]
    address: str
    hours: str
    consult: str
    complain: str


class FormField(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str
    type: Literal["string", "date", "integer", "enum"]
    required: bool


class MatterMaterial(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    required: bool
    satisfied_by_certificate_types: list[str]
    held_by_department: DepartmentRef | None
    copies: int


class Matter(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    kind: str
    department: DepartmentRef
    guide: Guide
    materials: list[MatterMaterial]
    form: list[FormField]
    result_certificate_type: str | None


class MatterPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Matter]
    next_cursor: str | None


class BundleMatter(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    department: DepartmentRef
    # Matters that must be approved before this one starts (出生登记 waits for 出生医学证明).
    after: list[str]
    # A condition over the merged form, e.g. "form.payment_year != null"; null = always applies.
    condition: str | None


class BundleFormField(FormField, frozen=True, kw_only=True):
    used_by: list[str]


class BundleMaterial(MatterMaterial, frozen=True, kw_only=True):
    used_by: list[str]
    # The matter of this bundle whose result certificate stands for this material, if any.
    produced_by_matter: str | None


class BundleStats(msgspec.Struct, frozen=True, kw_only=True):
    materials_before: int
    materials_after: int
    uploads_typical: int
    matters: int
    departments: int


class Bundle(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    life_stage: str
    lead_department: DepartmentRef
    matters: list[BundleMatter]
    form: list[BundleFormField]
    materials: list[BundleMaterial]
    promised_limit_days: int
    stats: BundleStats


class BundlePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Bundle]
    next_cursor: str | None


class CertificateField(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str
    type: Literal["string", "date", "integer", "enum"]
    required: bool
    sensitive: bool
    enum: list[str] | None = None


class CertificateType(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    gb_type_code: str
    holder_kind: Literal["person", "organisation"]
    defining_department: DepartmentRef | None
    issuer_department_ids: list[UUID]
    fields: list[CertificateField]
    validity_days: int | None


class CertificateTypePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[CertificateType]
    next_cursor: str | None
