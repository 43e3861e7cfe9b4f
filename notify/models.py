"""Notification values: what the API reads and writes, and what the dispatcher passes along."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, China time")]

# --- inbox ---------------------------------------------------------------------------------------


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    """An inbox item. ``data`` carries the event's ids (application_id, certificate_id ...)."""

    id: UUID
    kind: str
    event: str
    title: str
    body: str
    data: dict[str, Any]
    urgent: bool
    created_at: datetime
    read_at: datetime | None


class NotificationPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Notification]
    next_cursor: str | None


class UnreadCount(msgspec.Struct, frozen=True, kw_only=True):
    unread: int  # inbox items not yet read


class ReadAllIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``up_to``: mark only items up to this one (the newest the device has shown), not those arriving meanwhile."""

    up_to: UUID | None = None


class ReadAllOut(msgspec.Struct, frozen=True, kw_only=True):
    marked: int  # items this call marked read (already-read ones are left as they were)


# --- WeChat grants and preferences ------------------------------------------------------------------


class GrantIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What ``wx.requestSubscribeMessage`` answered for one template."""

    template_key: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    accepted: bool
    always: bool = False


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    template_key: str
    status: Literal["granted", "none", "opted_out"]
    credits: int
    long_term: bool


class StreamTicketOut(msgspec.Struct, frozen=True, kw_only=True):
    ticket: str
    expires_in: int  # seconds


class GrantPage(msgspec.Struct, frozen=True, kw_only=True):
    """Every template of the catalogue: a short list, always one page."""

    items: list[Grant]
    next_cursor: str | None = None


class Channels(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    wechat: bool = True
    sms: bool = True


class QuietHours(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Non-urgent WeChat and SMS messages wait until ``to``; ``from`` may be later than ``to``."""

    from_: HHMM = msgspec.field(name="from")
    to: HHMM


class PreferencesIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    channels: Channels
    quiet_hours: QuietHours | None = None


class Preferences(msgspec.Struct, frozen=True, kw_only=True):
    channels: Channels
    quiet_hours: QuietHours | None


# --- department webhooks ----------------------------------------------------------------------------


class WebhookIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    events: Annotated[list[str], msgspec.Meta(min_length=1, max_length=50)]


class WebhookCreated(msgspec.Struct, frozen=True, kw_only=True):
    """``secret`` (``whsec_`` + base64 of 32 bytes) is shown here and on an idempotent replay only."""

    id: UUID
    secret: str | None


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    url: str
    events: list[str]
    created_at: datetime
    disabled_at: datetime | None


class WebhookPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Webhook]
    next_cursor: str | None


class WebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """One event sent (or being sent) to the endpoint; ``message_id`` is the ``webhook-id`` header."""

    id: UUID
    message_id: str
    event: str
    status: str
    attempts: int
    reason: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookDeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[WebhookDelivery]
    next_cursor: str | None


class RotateSecretIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # At least a minute: dispatchers reuse a webhook's secrets for up to 30 s before reading them again.
    overlap_seconds: Annotated[int, msgspec.Meta(ge=60, le=7 * 86400)] = 86400


class WebhookSecretRotated(msgspec.Struct, frozen=True, kw_only=True):
    """The new ``secret``; the one it replaces still signs (beside it) until ``previous_secret_expires_at``."""

    id: UUID
    secret: str | None
    previous_secret_expires_at: datetime


class WebhookTestSent(msgspec.Struct, frozen=True, kw_only=True):
    """The test event is on its way; its ``data.test_id`` is ``test_id``. Follow it under ``/deliveries``."""

    test_id: UUID


class DepartmentEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as a webhook delivers it: ``id`` is the ``webhook-id`` header, then the body's fields."""

    id: str
    type: str
    timestamp: datetime
    data: dict[str, Any]


class DepartmentEventPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DepartmentEvent]
    next_cursor: str | None


# --- operators ----------------------------------------------------------------------------------------


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    attempt: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    detail: str | None


class ChannelStatus(msgspec.Struct, frozen=True, kw_only=True):
    channel: Literal["inbox", "wechat", "sms", "webhook"]
    target: UUID | None  # the account (wechat, sms) or the webhook; None for the inbox
    status: str
    reason: str | None
    provider_ref: str | None
    next_attempt_at: datetime | None
    updated_at: datetime
    attempts: list[Attempt]


class AdminNotification(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    kind: str
    event: str
    dedup_key: str
    recipient: dict[str, UUID]  # one of person_id, account_id, department_id
    title: str
    body: str
    data: dict[str, Any]
    urgent: bool
    created_at: datetime
    read_at: datetime | None
    channels: list[ChannelStatus]


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """An entry the workers gave up on, as ``zb:{notify}:dead`` keeps it."""

    id: str  # its id in the dead-letter stream
    dead_at: datetime
    stream: str  # where it was read from
    entry_id: str  # its id there
    group: str
    reason: str
    fields: dict[str, str]  # the entry itself, each value as text


class DeadLetterPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DeadLetter]
    next_cursor: str | None


class DeadLetterRetried(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    entry_id: str  # the entry's new id on its stream


# --- what the dispatcher passes between its stages ------------------------------------------------------


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One emitted event, as read from its stream."""

    stream: str
    entry_id: str
    outbox_id: int
    name: str
    dedup_key: str
    lane: str
    payload: dict[str, Any]


class AccountInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A recipient account with its channel preferences and the WeChat templates it may receive now."""

    id: UUID
    person_id: UUID | None
    openid: str | None
    has_phone: bool
    wechat: bool = True
    sms: bool = True
    quiet_from: time | None = None
    quiet_to: time | None = None
    templates: frozenset[str] = frozenset()


class NotificationRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    dedup_key: str
    event: str
    kind: str
    person_id: UUID | None
    account_id: UUID | None
    department_id: UUID | None
    title: str
    body: str
    data: dict[str, Any]
    urgent: bool
    lane: str
    created_at: datetime


class DeliveryRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    notification_id: UUID
    channel: str
    target: UUID
    lane: str
    content: dict[str, Any] | None
    not_before: datetime | None  # set: held (quiet hours); None: queued at once
