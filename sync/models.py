"""Sync and blobs on the wire (FORMATS.md §sync, API.md: Sync and blobs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from matters import Code, MaterialRef

Entity = Literal["wallet_item", "application", "draft", "notification", "consent", "device_credential"]
Status = Literal["applied", "duplicate", "rejected", "conflict", "gap"]

MAX_PULL = 500
DEFAULT_PULL = 200
MAX_BATCH = 500


class Change(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of a pull: a record's latest state (``put``) or its deletion (``del``, no data)."""

    entity: Entity
    id: UUID
    op: Literal["put", "del"]
    version: int
    data: Any = None


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The state a reset's pages add up to: how many records, and the SHA-256 (lower-case hex) of their
    sorted ``entity:id:version`` lines, each ending in a newline (see ``sync.service.checkpoint``)."""

    count: int
    digest: str


class PullPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    changes: list[Change]
    cursor: str
    has_more: bool
    reset: bool
    # Only when the pull names a client_id: the seq of the last mutation of that client (of the
    # caller's login) the server has processed; the client drops its queued mutations up to it.
    last_seq: int | None = None
    # Only on the last page of a reset: what the client's copy must add up to.
    checkpoint: Checkpoint | None = None


class MutationIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: UUID
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**62)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    args: dict[str, Any] = {}
    base_version: Annotated[int, msgspec.Meta(ge=0)] | None = None


class PushIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    client_id: UUID
    mutations: Annotated[list[MutationIn], msgspec.Meta(max_length=MAX_BATCH)]


class MutationResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: UUID
    status: Status
    code: str | None = None
    version: int | None = None
    data: Any = None


class PushOut(msgspec.Struct, frozen=True, kw_only=True):
    results: list[MutationResult]
    last_seq: int


# --- mutation arguments ------------------------------------------------------------------------------


class DraftSaveArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    draft_id: UUID
    bundle_code: Code | None = None
    matter_code: Code | None = None
    for_person_id: UUID | None = None
    form: Annotated[dict[str, Any], msgspec.Meta(max_length=200)] = {}
    materials: Annotated[list[MaterialRef], msgspec.Meta(max_length=100)] = []
    deferred_materials: Annotated[list[Code], msgspec.Meta(max_length=100)] = []


class DraftDeleteArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    draft_id: UUID


class ApplicationRef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    application_id: UUID


class ConsentRef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    consent_id: UUID


class SubmitRefs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``application.submit`` names the application, and the draft it came from (removed on success)."""

    application_id: UUID
    draft_id: UUID | None = None


class DraftView(msgspec.Struct, frozen=True, kw_only=True):
    """A draft as devices see it (entity ``draft``): the form in full, it is the person's own."""

    id: UUID
    bundle_code: str | None
    matter_code: str | None
    for_person_id: UUID | None
    form: dict[str, Any]
    materials: list[dict[str, Any]]
    deferred_materials: list[str]
    version: int
    updated_at: datetime


# --- blobs ---------------------------------------------------------------------------------------------


class BlobInfo(msgspec.Struct, frozen=True, kw_only=True):
    sha256: str
    content_type: str
    size: int
    created_at: datetime
