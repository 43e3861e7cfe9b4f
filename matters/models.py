"""Catalogue values as they go over the wire (API.md: Catalogue and applications)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

ApplicantKind = Literal["person", "organisation"]
APPLICANTS = (
    "Who may apply: `person` (a citizen for themselves or a dependent), `organisation` (acting for a business "
    "entity, as its 法定代表人 or a 经办人), or both. Any other applicant → 403 `applicant_kind_not_allowed`."
)


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
    # Who may apply: a person, a business entity (acting for it as 法定代表人 or 经办人), or both.
    applicant_kinds: Annotated[list[ApplicantKind], msgspec.Meta(description=APPLICANTS)] = msgspec.field(
        default_factory=lambda: ["person"]
    )


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
    # Visits to a window the bundle needs at most (the most any of its matters asks for; 0: 一次不跑).
    visits: int = 0


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
    # Whose life event: a person's, or a business entity's (经营主体: applied for by acting for it).
    holder_kind: Literal["person", "organisation"] = "person"
    # Who may apply: a person, a business entity (acting for it as 法定代表人 or 经办人), or both. 企业开办 is
    # applied for by the founder, before the entity exists; the entity's later life events by the entity.
    applicant_kinds: Annotated[list[ApplicantKind], msgspec.Meta(description=APPLICANTS)] = msgspec.field(
        default_factory=lambda: ["person"]
    )


class BundlePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Bundle]
    next_cursor: str | None


class CertificateField(msgspec.Struct, frozen=True, kw_only=True):
    n: Annotated[int, msgspec.Meta(description="Registry number: stable for ever, the key of the field in tokens.")]
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


# --- operators' upserts: PUT /v1/admin/matters/{code} and /v1/admin/bundles/{code} -------------
# They take what the GETs return, so an entry can be read, changed and put back. What a GET derives
# (a bundle's merged form, materials and stats, department names) is accepted and ignored.

# PostgreSQL text and jsonb cannot hold NUL.
_NO_NUL = r"^[^\x00]*$"
MatterCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$", examples=["430200-GA-002"])]
Key = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Label = Annotated[str, msgspec.Meta(max_length=100, pattern=r"^\s*[^\s\x00][^\x00]*$")]  # not blank
Text = Annotated[str, msgspec.Meta(max_length=4000, pattern=_NO_NUL)]
Ignored = Annotated[Any, msgspec.Meta(description="Derived by the server: accepted and ignored.")]
KINDS_IN = (
    "Who may apply: `person`, `organisation` or both. Omitted or null: derived — a bundle's from its life stage "
    "(an enterprise's stage: `organisation`, else `person`), a matter's from the bundles it belongs to (else `person`)."
)


class DepartmentRefIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: UUID
    name: Ignored = None


class GuideIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    conditions: Text
    basis: Text
    legal_limit_days: Annotated[int, msgspec.Meta(description="法定时限, working days.")]
    promised_limit_days: Annotated[int, msgspec.Meta(description="承诺时限, working days; at most `legal_limit_days`.")]
    visits_required: int
    fee: Text
    online_depth: Label
    process: Annotated[list[Label], msgspec.Meta(max_length=50)]
    address: Text
    hours: Text
    consult: Text
    complain: Text


class FormFieldIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Key
    label: Label
    type: Literal["string", "date", "integer", "enum"]
    required: bool


class MatterMaterialIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Key
    name: Label
    required: bool
    satisfied_by_certificate_types: Annotated[list[Key], msgspec.Meta(max_length=20)]
    held_by_department: DepartmentRefIn | None = None
    copies: int


class MatterIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: MatterCode
    name: Label
    kind: Label
    department: DepartmentRefIn
    guide: GuideIn
    materials: Annotated[list[MatterMaterialIn], msgspec.Meta(max_length=100)]
    form: Annotated[list[FormFieldIn], msgspec.Meta(max_length=100)]
    result_certificate_type: Key | None = None
    applicant_kinds: (
        Annotated[list[ApplicantKind], msgspec.Meta(min_length=1, max_length=2, description=KINDS_IN)] | None
    ) = None


class BundleMatterIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: MatterCode
    after: Annotated[list[MatterCode], msgspec.Meta(max_length=50)]
    condition: Annotated[str, msgspec.Meta(max_length=200, pattern=_NO_NUL)] | None = None
    name: Ignored = None
    department: Ignored = None


class BundleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Key
    name: Label
    life_stage: Label
    lead_department: DepartmentRefIn
    matters: Annotated[list[BundleMatterIn], msgspec.Meta(max_length=50)]
    promised_limit_days: int
    form: Ignored = None
    materials: Ignored = None
    stats: Ignored = None
    holder_kind: Ignored = None  # derived from life_stage
    applicant_kinds: (
        Annotated[list[ApplicantKind], msgspec.Meta(min_length=1, max_length=2, description=KINDS_IN)] | None
    ) = None
