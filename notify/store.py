"""SQL of the inbox, preferences, WeChat grants and the operators' view of a notification.

An inbox belongs to a person (seen from every account of theirs) or, for an account without a
person (an operator, an L1 login), to the account; a caller reads both. A person's are in
``notify_notification`` (on the person's shard of a cluster: every statement names the person),
an account's and a department's in ``notify_other_notification`` (on the coordinator).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal
from uuid import UUID

import asyncpg

from api.kernel.db import Conn, one
from notify.errors import NotificationNotFound
from notify.models import (
    AdminNotification,
    Attempt,
    Channels,
    ChannelStatus,
    Grant,
    Notification,
    Preferences,
    PreferencesIn,
    QuietHours,
)

_VIEW = "id, kind, event, title, body, data, urgent, created_at, read_at"


def _inboxes(person_id: UUID | None, account_id: UUID) -> list[dict[str, Any]]:
    """The inboxes a caller reads, their person's (if any) and their account's: the table, the column naming the
    owner and the owner, which each statement below takes as ``$1``."""
    mine = [{"table": "notify_other_notification", "owner": "account_id", "id": account_id}]
    if person_id is not None:
        mine.insert(0, {"table": "notify_notification", "owner": "person_id", "id": person_id})
    return mine


def _view(row: asyncpg.Record) -> Notification:
    return Notification(
        **{k: row[k] for k in ("id", "kind", "event", "title", "body", "data", "urgent", "created_at", "read_at")}
    )


LIST_INBOX = """
SELECT {view} FROM {table}
WHERE {owner} = $1 AND ($2::uuid IS NULL OR id < $2) AND ($3::bool IS NOT TRUE OR read_at IS NULL)
ORDER BY id DESC LIMIT $4
"""
# A person's page, one shard of a cluster (tests/cluster).
LIST_PERSON_INBOX = LIST_INBOX.format(view=_VIEW, table="notify_notification", owner="person_id")


async def list_inbox(
    conn: Conn, person_id: UUID | None, account_id: UUID, *, before: UUID | None, unread: bool, limit: int
) -> list[Notification]:
    """Newest first (ids are UUIDv7); ``before`` is the last id of the previous page."""
    rows = [
        r
        for i in _inboxes(person_id, account_id)
        for r in await conn.fetch(LIST_INBOX.format(view=_VIEW, **i), i["id"], before, unread, limit)
    ]
    return [_view(r) for r in sorted(rows, key=lambda r: r["id"], reverse=True)[:limit]]


INBOX_AFTER = "SELECT {view} FROM {table} WHERE {owner} = $1 AND id > $2 ORDER BY id LIMIT $3"


async def inbox_after(
    conn: Conn, person_id: UUID | None, account_id: UUID, after: UUID, *, limit: int = 500
) -> list[Notification]:
    """What a reconnecting stream missed, oldest first."""
    rows = [
        r
        for i in _inboxes(person_id, account_id)
        for r in await conn.fetch(INBOX_AFTER.format(view=_VIEW, **i), i["id"], after, limit)
    ]
    return [_view(r) for r in sorted(rows, key=lambda r: r["id"])[:limit]]


MARK_READ = """
UPDATE {table} SET read_at = coalesce(read_at, $2)
WHERE {owner} = $1 AND id = $3
RETURNING {view}, person_id, (read_at = $2) AS changed
"""


async def mark_read(
    conn: Conn, person_id: UUID | None, account_id: UUID, notification_id: UUID, *, now: datetime
) -> tuple[Notification, UUID | None, bool]:
    """Mark read once; return the item, its owner person and whether this call changed it."""
    for i in _inboxes(person_id, account_id):
        row = await conn.fetchrow(MARK_READ.format(view=_VIEW, **i), i["id"], now, notification_id)
        if row is not None:
            return _view(row), row["person_id"], row["changed"]
    raise NotificationNotFound()


COUNT_UNREAD = "SELECT count(*) FROM {table} WHERE {owner} = $1 AND read_at IS NULL"


async def count_unread(conn: Conn, person_id: UUID | None, account_id: UUID) -> int:
    return sum([await conn.fetchval(COUNT_UNREAD.format(**i), i["id"]) for i in _inboxes(person_id, account_id)])


MARK_ALL_READ = """
UPDATE {table} SET read_at = $2
WHERE {owner} = $1 AND read_at IS NULL AND ($3::uuid IS NULL OR id <= $3)
RETURNING {view}, person_id
"""


async def mark_all_read(
    conn: Conn, person_id: UUID | None, account_id: UUID, *, up_to: UUID | None, now: datetime
) -> list[tuple[Notification, UUID | None]]:
    """Mark every unread item of the caller (up to ``up_to``) read; return each with its owner person."""
    return [
        (_view(r), r["person_id"])
        for i in _inboxes(person_id, account_id)
        for r in await conn.fetch(MARK_ALL_READ.format(view=_VIEW, **i), i["id"], now, up_to)
    ]


# --- preferences -----------------------------------------------------------------------------------

UPSERT_PREFERENCES = """
INSERT INTO notify_preference (account_id, wechat, sms, quiet_from, quiet_to, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT ON CONSTRAINT notify_preference_pkey DO UPDATE
SET wechat = EXCLUDED.wechat, sms = EXCLUDED.sms, quiet_from = EXCLUDED.quiet_from, quiet_to = EXCLUDED.quiet_to,
    updated_at = EXCLUDED.updated_at
"""


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


async def put_preferences(conn: Conn, account_id: UUID, data: PreferencesIn, *, now: datetime) -> Preferences:
    q = data.quiet_hours
    await conn.execute(
        UPSERT_PREFERENCES,
        account_id,
        data.channels.wechat,
        data.channels.sms,
        _hhmm(q.from_) if q else None,
        _hhmm(q.to) if q else None,
        now,
    )
    return Preferences(channels=data.channels, quiet_hours=q)


async def get_preferences(conn: Conn, account_id: UUID) -> Preferences:
    """The account's preferences; no row means both channels on and no quiet hours."""
    row = await conn.fetchrow(
        "SELECT wechat, sms, quiet_from, quiet_to FROM notify_preference WHERE account_id = $1", account_id
    )
    if row is None:
        return Preferences(channels=Channels(), quiet_hours=None)
    quiet = None
    if row["quiet_from"] is not None:
        quiet = QuietHours(from_=row["quiet_from"].strftime("%H:%M"), to=row["quiet_to"].strftime("%H:%M"))
    return Preferences(channels=Channels(wechat=row["wechat"], sms=row["sms"]), quiet_hours=quiet)


# --- WeChat grants -----------------------------------------------------------------------------------

# accepted: a one-time acceptance adds a credit, "always" keeps a long-term grant; either ends an
# opt-out. Refused: every grant of the template is dropped.
UPSERT_GRANT = """
INSERT INTO notify_wechat_grant AS g (account_id, template_key, credits, long_term, opted_out_at, updated_at)
VALUES ($1, $2, CASE WHEN $3 AND NOT $4 THEN 1 ELSE 0 END, $3 AND $4, NULL, $5)
ON CONFLICT ON CONSTRAINT notify_wechat_grant_pkey DO UPDATE
SET credits = CASE WHEN NOT $3 THEN 0 WHEN $4 THEN g.credits ELSE g.credits + 1 END,
    long_term = CASE WHEN NOT $3 THEN false ELSE g.long_term OR $4 END,
    opted_out_at = NULL, updated_at = $5
RETURNING credits, long_term, opted_out_at
"""


async def record_grant(
    conn: Conn, account_id: UUID, template_key: str, *, accepted: bool, always: bool, now: datetime
) -> Grant:
    row = one(await conn.fetchrow(UPSERT_GRANT, account_id, template_key, accepted, always, now), "upserted grant")
    status: Literal["granted", "none"] = "granted" if row["long_term"] or row["credits"] > 0 else "none"
    return Grant(template_key=template_key, status=status, credits=row["credits"], long_term=row["long_term"])


async def list_grants(conn: Conn, account_id: UUID) -> list[Grant]:
    rows = await conn.fetch(
        "SELECT template_key, credits, long_term, opted_out_at FROM notify_wechat_grant"
        " WHERE account_id = $1 ORDER BY template_key",
        account_id,
    )
    return [
        Grant(
            template_key=r["template_key"],
            credits=r["credits"],
            long_term=r["long_term"],
            status="opted_out" if r["opted_out_at"] else "granted" if r["long_term"] or r["credits"] else "none",
        )
        for r in rows
    ]


# --- the operators' view ------------------------------------------------------------------------------

# An operator knows a notification by its id: a person's is looked for on every shard of a cluster, one index probe
# each, at operator rates.
NOTIFICATION = "SELECT {view}, dedup_key, person_id, account_id, department_id FROM {table} WHERE id = $1"

DELIVERIES = """
SELECT id, channel, target, status, reason, provider_ref, not_before, updated_at
FROM notify_delivery WHERE notification_id = $1 ORDER BY channel, created_at
"""

ATTEMPTS = """
SELECT delivery_id, attempt, started_at, finished_at, outcome, detail
FROM notify_attempt WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt
"""


async def get_for_operator(conn: Conn, notification_id: UUID) -> AdminNotification:
    """The notification with every channel's status and every attempt."""
    n = await conn.fetchrow(NOTIFICATION.format(view=_VIEW, table="notify_other_notification"), notification_id)
    n = n or await conn.fetchrow(NOTIFICATION.format(view=_VIEW, table="notify_notification"), notification_id)
    if n is None:
        raise NotificationNotFound()
    deliveries = await conn.fetch(DELIVERIES, notification_id)
    attempts: dict[UUID, list[Attempt]] = {}
    for a in await conn.fetch(ATTEMPTS, [d["id"] for d in deliveries]):
        attempts.setdefault(a["delivery_id"], []).append(
            Attempt(
                attempt=a["attempt"],
                started_at=a["started_at"],
                finished_at=a["finished_at"],
                outcome=a["outcome"],
                detail=a["detail"],
            )
        )
    channels = []
    if n["department_id"] is None:
        # The inbox is delivered by the commit that made the notification.
        channels.append(
            ChannelStatus(
                channel="inbox",
                target=None,
                status="delivered",
                reason=None,
                provider_ref=None,
                next_attempt_at=None,
                updated_at=n["created_at"],
                attempts=[],
            )
        )
    channels += [
        ChannelStatus(
            channel=d["channel"],
            target=d["target"],
            status=d["status"],
            reason=d["reason"],
            provider_ref=d["provider_ref"],
            next_attempt_at=d["not_before"],
            updated_at=d["updated_at"],
            attempts=attempts.get(d["id"], []),
        )
        for d in deliveries
    ]
    recipient = {k: n[k] for k in ("person_id", "account_id", "department_id") if n[k] is not None}
    return AdminNotification(
        id=n["id"],
        kind=n["kind"],
        event=n["event"],
        dedup_key=n["dedup_key"],
        recipient=recipient,
        title=n["title"],
        body=n["body"],
        data=n["data"],
        urgent=n["urgent"],
        created_at=n["created_at"],
        read_at=n["read_at"],
        channels=channels,
    )
