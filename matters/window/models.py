"""The window's requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from matters.applications.models import Code, MaterialRef


class CitizenIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id_number: Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="Keyed in from the ID card.")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50, description="As on the ID card.")]


class AgentAtWindow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    delegation_id: UUID
    id_number: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=32, description="The agent's own ID number, keyed in from their card."),
    ]


class OpenIntake(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    citizen: CitizenIn
    window: Annotated[str, msgspec.Meta(max_length=40, examples=["3号综合受理窗口"])] | None = None
    agent: AgentAtWindow | None = None
    phone: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^1[3-9][0-9]{9}$",
                description="A mobile number for text messages about this application, for a "
                "citizen without the app (kept sealed, used only until they have "
                "an account).",
            ),
        ]
        | None
    ) = None
    ticket_issued_at: Annotated[
        datetime | None,
        msgspec.Meta(description="When the citizen drew their queue ticket (the window's waiting time starts there)."),
    ] = None


class WindowConsentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    purpose: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "窗口综合受理：调取本人电子证照（免提交）"


class WindowSubmit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: UUID
    bundle_code: Code | None = None
    matter_code: Code | None = None
    form: dict[str, Any] = {}
    materials: Annotated[list[MaterialRef], msgspec.Meta(max_length=100)] = []
    deferred_materials: Annotated[list[Code], msgspec.Meta(max_length=100)] = []


class Ref(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str


class PersonAtWindow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name_masked: str
    id_number_masked: str
    has_app: bool


class AgentView(msgspec.Struct, frozen=True, kw_only=True):
    delegation_id: UUID
    person_id: UUID


class ConsentAtWindow(msgspec.Struct, frozen=True, kw_only=True):
    given_at: datetime
    consent_id: UUID | None  # None: the wallet held no certificate to read


class Intake(msgspec.Struct, frozen=True, kw_only=True):
    """One visit at a window: who came, who took it, where, the consent given there and the application taken."""

    id: UUID
    department: Ref
    window: str | None
    clerk_account_id: UUID
    person: PersonAtWindow
    agent: AgentView | None
    ticket_issued_at: datetime | None
    opened_at: datetime
    consent: ConsentAtWindow | None
    application_id: UUID | None
    submitted_at: datetime | None


class ResultRef(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    type_name: str
    licence_id: str


class Pickup(msgspec.Struct, frozen=True, kw_only=True):
    """An application of this centre whose tasks are all done, waiting to be handed over (统一窗口出件)."""

    application_id: UUID
    intake_id: UUID
    title: str
    status: str
    person: PersonAtWindow
    window: str | None
    submitted_at: datetime | None
    ready_at: datetime
    results: list[ResultRef]


class PickupPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Pickup]
    next_cursor: str | None = None


class HandoverIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    recipient: CitizenIn
    id_checked: Annotated[bool, msgspec.Meta(description="The clerk checked the recipient's ID card (must be true).")]
    delegation_id: Annotated[
        UUID | None, msgspec.Meta(description="When a 代办人 collects: their authorisation (it must allow `collect`).")
    ] = None


class Handover(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    application_id: UUID
    department: Ref
    clerk_account_id: UUID
    recipient_person_id: UUID
    by_agent: bool
    id_checked: bool
    certificate_ids: list[UUID]
    handed_at: datetime
