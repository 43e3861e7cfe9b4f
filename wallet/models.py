"""Request and response shapes of the wallet (API.md, "Wallet").

Input types are strict (unknown fields refused); read types are frozen. Times are RFC 3339 UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from auth import AccountOut
from esign import Certificate
from matters import DepartmentRef  # one schema for "a department, by id and name"
from notify import Notification

AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Kind = Literal["certificate", "record", "event", "application"]
LifeEvent = Literal[
    "born",
    "enrolled",
    "started_business",
    "bought_home",
    "married",
    "retired",
    "died",
    "business_opened",
    "business_changed",
    "business_closed",
]
ExternalRef = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=128, description="The department's own reference; unique per department."),
]

# --- items -------------------------------------------------------------------------------------------


class Links(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    application_id: UUID | None = None
    bundle_code: str | None = None
    certificate_id: UUID | None = None


class RecordOut(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    data: dict[str, Any]
    occurred_at: datetime
    department: DepartmentRef
    external_ref: str


class EventOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: LifeEvent
    source: Literal["certificate", "bundle", "department"]
    detail: dict[str, Any] = {}


class ApplicationOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    status: str
    bundle_code: str | None = None
    matter_code: str | None = None
    applicant_person_id: UUID | None = None
    for_person_id: UUID | None = None


class ItemToken(msgspec.Struct, frozen=True, kw_only=True):
    """A certificate item's signed token, as a device keeps it (sync carries only its ``token_sha256``)."""

    item_id: UUID
    token: str
    token_sha256: str


class WalletItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One thing in a wallet. ``masked`` says sensitive values were replaced by ``***``."""

    id: UUID
    kind: Kind
    person_id: UUID
    title: str
    at: datetime
    summary: dict[str, Any]
    links: Links
    masked: bool = False
    certificate: Certificate | None = None
    record: RecordOut | None = None
    event: EventOut | None = None
    application: ApplicationOut | None = None


class WalletItemPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[WalletItem]
    next_cursor: str | None


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A life event (``event`` is its type) or a milestone (``record``, ``certificate``)."""

    at: datetime
    kind: Literal["event", "record", "certificate"]
    title: str
    item_id: UUID
    links: Links
    event: LifeEvent | None = None


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    person_id: UUID
    closed_at: datetime | None
    items: list[TimelineEntry]
    next_cursor: str | None


# --- dependents ----------------------------------------------------------------------------------------


class Dependent(msgspec.Struct, frozen=True, kw_only=True):
    person_id: UUID
    name_masked: str
    id_number_masked: str | None
    relation: Literal["guardian", "family_of_deceased"]
    source: str
    since: datetime
    until: datetime | None
    wallet_closed: bool


class DependentList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Dependent]
    next_cursor: str | None = None


class PersonRefIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A person by ID number and name, or by person id (a newborn without an ID number yet)."""

    id_number: Annotated[str, msgspec.Meta(max_length=32, description="GB 11643.")] | None = None
    person_id: UUID | None = None
    name: (
        Annotated[
            str,
            msgspec.Meta(min_length=1, max_length=100, description="Required with `id_number`: the name it is for."),
        ]
        | None
    ) = None


class GuardianshipIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    guardian: PersonRefIn
    dependent: PersonRefIn
    basis: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["出生登记"])]
    since: AwareTime | None = None
    until: Annotated[
        AwareTime | None, msgspec.Meta(description="End of the guardianship; a time not after now ends it now.")
    ] = None
    beyond_majority: Annotated[
        bool, msgspec.Meta(description="Keep it past the dependent's 18th birthday (成年监护).")
    ] = False


class Guardianship(msgspec.Struct, frozen=True, kw_only=True):
    guardian_person_id: UUID
    dependent_person_id: UUID
    source: str
    basis: str | None
    since: datetime
    until: datetime | None
    beyond_majority: bool


# --- presentations ---------------------------------------------------------------------------------------


class PresentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    fields: Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=50)]
    ttl_seconds: Annotated[int, msgspec.Meta(ge=1, le=300)] = 120
    png: Annotated[bool, msgspec.Meta(description="Also return the QR code as a PNG (base64).")] = False


class Presentation(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    qr: Annotated[str, msgspec.Meta(description="The presentation's ZB1: token.")]
    qr_url: Annotated[
        str,
        msgspec.Meta(
            description='What its QR code holds: QR_BASE + "/V/" + the token (space, % and / escaped), all QR '
            "alphanumeric characters, which a phone camera or WeChat scan opens."
        ),
    ]
    expires_at: datetime
    png_base64: str | None = None


# --- consents ---------------------------------------------------------------------------------------------


class ConsentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    grantee_department_id: UUID
    item_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=100)]
    purpose: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["产科住院登记"])]
    expires_at: AwareTime
    matter_code: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    max_uses: Annotated[int, msgspec.Meta(ge=1, le=10000)] | None = None
    fields: Annotated[
        dict[UUID, Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=50)]],
        msgspec.Meta(
            max_length=100,
            description=(
                "The fields granted per item (item id → keys of a certificate's fields or a record's data), as a "
                "presentation (亮证) names them: the grantee sees exactly those, sensitive ones included, and a "
                "certificate's `token` is then a presentation of just those fields. An item not "
                "named here is shown without its sensitive values (`***`, `masked: true`)."
            ),
            examples=[{"01890000-0000-7000-8000-000000000001": ["name", "address"]}],
        ),
    ] = {}


class Consent(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    person_id: UUID
    grantee: DepartmentRef
    item_ids: list[UUID]
    purpose: str
    matter_code: str | None
    expires_at: datetime
    max_uses: int | None
    uses: int
    status: Literal["active", "expired", "used_up", "revoked"]
    fields: dict[UUID, list[str]]
    created_at: datetime
    revoked_at: datetime | None


class ConsentPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Consent]
    next_cursor: str | None


class ConsentItems(msgspec.Struct, frozen=True, kw_only=True):
    consent: Consent
    items: list[WalletItem]


class AccessEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One read of a holder's items: under a consent (``consent_id``), or by the department handling a task of an
    application (``task_id``, and the ``material`` read: a certificate the application stands on, or an upload),
    or one use of a 代办 authorisation by the holder's 代办人 (``delegation_id``; ``department`` only at a window)."""

    id: int
    at: datetime
    consent_id: UUID | None
    task_id: UUID | None = None
    material: str | None = None
    delegation_id: UUID | None = None
    department: DepartmentRef | None
    actor: str
    purpose: str
    item_ids: list[UUID]
    outcome: Literal["served", "refused"]
    reason: str | None


class AccessLogPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AccessEntry]
    next_cursor: str | None


# --- department pushes ------------------------------------------------------------------------------------


class WalletHolderIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A person by ID number, or a business entity (经营主体) by credit code: exactly one of the two."""

    id_number: Annotated[str, msgspec.Meta(max_length=32, description="GB 11643.")] | None = None
    name: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=100,
            description="The holder's name as on the ID card (an entity's "
            "registered name); a holder the platform knows under another name → 422 `holder_mismatch`.",
        ),
    ]
    credit_code: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=32,
                description="GB 32100, of an entity the registry (市场监管's 营业执照) knows; else 422 "
                "`holder_unknown`.",
            ),
        ]
        | None
    ) = None


class RecordIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    holder: WalletHolderIn
    kind: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[a-z][a-z0-9_]{1,39}$", examples=["social_insurance_payment", "housing_fund", "real_estate"]
        ),
    ]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["2026年1月 城镇职工养老保险缴费"])]
    data: dict[str, Any]
    occurred_at: AwareTime
    external_ref: ExternalRef
    sensitive: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=64)]],
        msgspec.Meta(max_length=100, description="Keys of `data` kept sealed and shown only to the holder at L3."),
    ] = []


class LifeEventIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    holder: WalletHolderIn
    event: LifeEvent
    occurred_at: AwareTime
    external_ref: ExternalRef
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    detail: dict[str, Any] = {}


# --- export ------------------------------------------------------------------------------------------------


class PersonOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str | None
    id_number: str | None
    born_on: str | None
    sex: str | None


class Export(msgspec.Struct, frozen=True, kw_only=True):
    """Everything held about the caller's own person (PIPL art. 45, right of access)."""

    exported_at: datetime
    person: PersonOut
    items: list[WalletItem]
    timeline: list[TimelineEntry]
    applications: list[Any]
    consents: list[Consent]
    access_log: list[AccessEntry]
    guardians: list[UUID]
    dependents: list[Dependent]
    closed_at: datetime | None
    # The person's own export only (empty when a guardian or relative exports someone else's).
    accounts: list[AccountOut] = []
    notifications: list[Notification] = []
