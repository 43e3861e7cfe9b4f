"""代办 authorisations: a principal lets an agent act for them, scoped, expiring, revocable."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

Action = Literal["apply", "supplement", "collect"]
MatterCode = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class DelegationStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class AgentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id_number: Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="The agent's ID number.")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50, description="The agent's name as on the ID card.")]


class CreateDelegation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    agent: AgentIn
    matters: Annotated[
        list[MatterCode],
        msgspec.Meta(
            min_length=1,
            max_length=50,
            description="Matter or bundle codes the agent may act on; `*` for every one.",
            examples=[["retirement"]],
        ),
    ]
    actions: Annotated[
        list[Action],
        msgspec.Meta(
            min_length=1,
            max_length=3,
            description="`apply` (take an application for the principal), `supplement` "
            "(hand in 补正 materials), `collect` (pick results up at a window).",
        ),
    ]
    expires_at: Annotated[datetime, msgspec.Meta(description="At most a year ahead.")]
    note: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["person", "organisation"]
    id: UUID
    name_masked: str


class Agent(msgspec.Struct, frozen=True, kw_only=True):
    person_id: UUID
    name_masked: str
    id_number_masked: str


class Delegation(msgspec.Struct, frozen=True, kw_only=True):
    """One authorisation, as both the principal and the agent see it."""

    id: UUID
    principal: Principal
    agent: Agent
    matters: list[str]
    actions: list[str]
    note: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: DelegationStatus
    uses: int


class DelegationPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Delegation]
    next_cursor: str | None = None


class DelegationUse(msgspec.Struct, frozen=True, kw_only=True):
    """One use of an authorisation (or a refused attempt), logged for both sides."""

    at: datetime
    action: str
    outcome: Literal["served", "refused"]
    reason: str | None
    matter_code: str | None
    application_id: UUID | None
    department_id: UUID | None
    actor: str


class DelegationUsePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DelegationUse]
    next_cursor: str | None = None
