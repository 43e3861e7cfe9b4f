"""Applications and department tasks on the wire (API.md: Catalogue and applications)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from esign import Certificate
from matters.models import DepartmentRef

ApplicationStatus = Literal["submitted", "in_progress", "needs_supplement", "completed", "rejected", "withdrawn"]
# "waiting": the task's `after` matters are not approved yet (出生登记 waits for 出生医学证明);
# "cancelled": a matter it depends on was rejected, or the application was withdrawn.
TaskStatus = Literal["waiting", "pending", "claimed", "approved", "rejected", "needs_supplement", "cancelled"]
MaterialSource = Literal["wallet", "blob", "department", "bundle", "deferred"]

Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class MaterialRef(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Code
    blob_sha256: Sha256 | None = None
    wallet_item_id: UUID | None = None


class SubmitApplication(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: UUID
    bundle_code: Code | None = None
    matter_code: Code | None = None
    for_person_id: UUID | None = None
    form: dict[str, Any] = {}
    materials: Annotated[list[MaterialRef], msgspec.Meta(max_length=100)] = []
    deferred_materials: Annotated[list[Code], msgspec.Meta(max_length=100)] = []


class ProvidedMaterial(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How one material of an application is satisfied."""

    code: str
    source: MaterialSource
    wallet_item_id: UUID | None = None
    blob_sha256: str | None = None
    produced_by_matter: str | None = None


class TaskView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    matter_code: str
    matter_name: str
    department: DepartmentRef
    status: TaskStatus
    due_at: datetime | None
    decided_at: datetime | None
    reasons: list[str]
    required_materials: list[str]
    result_certificate_id: UUID | None


class ApplicationTimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    event: str
    detail: dict[str, Any]


class EvaluationView(msgspec.Struct, frozen=True, kw_only=True):
    level: int
    comment: str | None
    tags: list[str]
    at: datetime


class Application(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    bundle_code: str | None
    matter_code: str | None
    applicant_person_id: UUID
    for_person_id: UUID
    status: ApplicationStatus
    form: dict[str, Any]
    materials: list[ProvidedMaterial]
    deferred_materials: list[str]
    supplement_due_at: datetime | None
    submitted_at: datetime
    due_at: datetime
    completed_at: datetime | None
    tasks: list[TaskView]
    timeline: list[ApplicationTimelineEntry]
    evaluation: EvaluationView | None


class ApplicationPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Application]
    next_cursor: str | None


PrefillStatus = Literal["from_wallet", "from_bundle", "from_department", "needed"]


class PrefillMaterial(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: str
    status: PrefillStatus
    wallet_item_id: UUID | None = None
    produced_by_matter: str | None = None


class Prefill(msgspec.Struct, frozen=True, kw_only=True):
    form: dict[str, Any]
    materials: list[PrefillMaterial]


class SupplementIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    materials: Annotated[list[MaterialRef], msgspec.Meta(min_length=1, max_length=100)]


# --- department side ---------------------------------------------------------------------------


class ApproveIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # Fields of the matter's result certificate (merged over what the form already says).
    result_fields: dict[str, Any] = {}
    # 出生登记: the citizen ID number public security assigns to the newborn (GB 11643).
    assigned_id_number: Annotated[str, msgspec.Meta(min_length=18, max_length=18)] | None = None
    # 设立登记: the unified social credit code (GB 32100) of the business the matter creates; its
    # result certificate (营业执照) is held by that organisation, named by the form's `entity_name`.
    assigned_credit_code: Annotated[str, msgspec.Meta(min_length=18, max_length=18)] | None = None


class RejectIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reasons: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=500)]], msgspec.Meta(max_length=50)
    ] = []
    required_materials: Annotated[list[Code], msgspec.Meta(max_length=100)] = []


class SupplementRequestIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    required_materials: Annotated[list[Code], msgspec.Meta(max_length=100)] = []
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class SubmissionSignature(msgspec.Struct, frozen=True, kw_only=True):
    """The 企业电子印章 signature on an entity's application (its id, target and form), checked by the server now."""

    signer_name: str
    signer_credit_code: str
    seal_kid: str
    algorithm: str
    valid: bool


class DeptTask(msgspec.Struct, frozen=True, kw_only=True):
    """What a department sees of a task: the task, and the form fields and materials of its own matter."""

    id: UUID
    application_id: UUID
    bundle_code: str | None
    matter_code: str
    matter_name: str
    status: TaskStatus
    due_at: datetime | None
    overdue: bool
    claimed_by: str | None
    decided_at: datetime | None
    reasons: list[str]
    required_materials: list[str]
    result_certificate_id: UUID | None
    for_person_id: UUID
    form: dict[str, Any]
    materials: list[ProvidedMaterial]
    # An entity's application is signed with its e-seal; null for a person's (or an entity without a seal yet).
    entity_signature: SubmissionSignature | None = None


class DeptTaskPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DeptTask]
    next_cursor: str | None


class TaskMaterialFile(msgspec.Struct, frozen=True, kw_only=True):
    sha256: str
    content_type: str
    size: int


class TaskMaterial(msgspec.Struct, frozen=True, kw_only=True):
    """One material of the task's matter, and how the handling department reads it."""

    code: str
    name: str
    required: bool
    source: Literal["wallet", "blob", "department", "bundle", "deferred", "missing"]
    # "certificate": GET …/materials/{code}; "file": GET …/materials/{code}/file; null: nothing to read yet
    # (not handed in, deferred, not produced yet, or shared by the department that holds it).
    read: Literal["certificate", "file"] | None
    file: TaskMaterialFile | None = None
    blob_sha256: str | None = None
    held_by_department: DepartmentRef | None = None
    produced_by_matter: str | None = None


class TaskMaterialList(msgspec.Struct, frozen=True, kw_only=True):
    task_id: UUID
    matter_code: str
    items: list[TaskMaterial]


class TaskMaterialRead(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    source: Literal["wallet", "blob", "department", "bundle", "deferred", "missing"]
    certificate: Certificate
