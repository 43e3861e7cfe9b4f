"""SQL of the dispatcher: making notifications and deliveries, claiming, settling, requeueing.

Everything works on batches (``unnest`` arrays), because the dispatcher moves thousands of
messages a second. Every state change of a delivery is conditional on the state it expects
(``open``, that is ``status IN ('created', 'sending')``; the attempt number), so a duplicate
stream entry, a late answer or a second worker changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.db import Conn
from notify.models import DeliveryRow, NotificationRow

_encoder = msgspec.json.Encoder()


def _json(value: Any) -> str | None:
    # Arrays of JSON travel as text and are cast in SQL (asyncpg has no jsonb[] codec to reuse).
    return None if value is None else _encoder.encode(value).decode()


# A person's notifications go to their inbox table (its shard of a cluster); an account's or a department's to
# notify_other_notification (the coordinator).
INSERT_NOTIFICATIONS = """
INSERT INTO {table} (id, dedup_key, event, kind, person_id, account_id, department_id, title, body, data,
                     urgent, lane, created_at)
SELECT id, dedup_key, event, kind, person_id, account_id, department_id, title, body, data::jsonb, urgent, lane, created_at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::uuid[], $8::text[], $9::text[],
            $10::text[], $11::bool[], $12::text[], $13::timestamptz[])
    AS t(id, dedup_key, event, kind, person_id, account_id, department_id, title, body, data, urgent, lane, created_at)
ON CONFLICT ON CONSTRAINT {table}_dedup_key_key DO NOTHING
RETURNING id
"""


NOTIFICATION_COLUMNS = (
    "id",
    "dedup_key",
    "event",
    "kind",
    "person_id",
    "account_id",
    "department_id",
    "title",
    "body",
    "data",
    "urgent",
    "lane",
    "created_at",
)


async def insert_notifications(conn: Conn, rows: list[NotificationRow]) -> set[UUID]:
    """Insert what is new; return the ids inserted (an existing dedup key is skipped)."""
    personal = [r for r in rows if r.person_id is not None]
    other = [r for r in rows if r.person_id is None]
    return await _insert(conn, "notify_notification", personal) | await _insert(
        conn, "notify_other_notification", other
    )


async def _insert(conn: Conn, table: str, rows: list[NotificationRow]) -> set[UUID]:
    if not rows:
        return set()
    # One order for every writer, so two batches sharing keys never wait on each other in a cycle.
    rows = sorted(rows, key=lambda r: r.dedup_key)
    # By binary COPY (measured: half the client's CPU and a sixth less of the server's than an
    # INSERT ... ON CONFLICT over arrays). A key that exists already (a replayed batch, or another
    # expansion of the same event committing meanwhile) fails the COPY; the insert that skips
    # existing keys then settles which rows are new.
    try:
        async with conn.transaction():  # a savepoint: the fallback below must run in a live transaction
            await conn.copy_records_to_table(
                table,
                columns=NOTIFICATION_COLUMNS,
                records=[
                    (
                        r.id,
                        r.dedup_key,
                        r.event,
                        r.kind,
                        r.person_id,
                        r.account_id,
                        r.department_id,
                        r.title,
                        r.body,
                        r.data,
                        r.urgent,
                        r.lane,
                        r.created_at,
                    )
                    for r in rows
                ],
            )
    except asyncpg.UniqueViolationError:
        arrays = [[_json(r.data) if c == "data" else getattr(r, c) for r in rows] for c in NOTIFICATION_COLUMNS]
        return {r["id"] for r in await conn.fetch(INSERT_NOTIFICATIONS.format(table=table), *arrays)}
    return {r.id for r in rows}


# Rows that cannot exist yet (fresh ids, freshly reserved versions) go in by binary COPY: PostgreSQL
# writes them in bulk, and nothing is packed into per-column arrays on the way.
DELIVERY_COLUMNS = (
    "id",
    "notification_id",
    "channel",
    "target",
    "lane",
    "content",
    "not_before",
    "queued_at",
    "created_at",
    "updated_at",
)


async def insert_deliveries(conn: Conn, rows: list[DeliveryRow], *, now: datetime) -> None:
    """New deliveries: held ones wait for the requeue job; the others count as queued now."""
    if rows:
        await conn.copy_records_to_table(
            "notify_delivery",
            columns=DELIVERY_COLUMNS,
            records=[
                (
                    d.id,
                    d.notification_id,
                    d.channel,
                    d.target,
                    d.lane,
                    d.content,
                    d.not_before,
                    None if d.not_before else now,
                    now,
                    now,
                )
                for d in rows
            ],
        )


# Claiming and settling look rows up by primary key, so their other conditions are written in
# forms no index serves: with ``open`` or a bare ``not_before`` condition, a planner whose
# statistics lag behind the table (a bulk send adds a hundred thousand rows in seconds) walks the
# whole open-deliveries index to find the few hundred rows asked for.
NOT_OPEN = "('delivered', 'sent', 'temporary-failure', 'permanent-failure', 'technical-failure')"  # service.FINAL

CLAIM = f"""
WITH c AS (
    SELECT id, lease_until AS lost_lease
    FROM notify_delivery
    WHERE id = ANY($1::uuid[]) AND status NOT IN {NOT_OPEN}
      AND coalesce(not_before, '-infinity') <= $2 AND coalesce(lease_until, '-infinity') <= $2
    FOR UPDATE SKIP LOCKED
)
UPDATE notify_delivery d
SET status = 'sending', attempts = d.attempts + 1, lease_until = $3, not_before = NULL, queued_at = NULL,
    sending_since = coalesce(d.sending_since, $2), updated_at = $2
FROM c
WHERE d.id = c.id
RETURNING d.id, d.channel, d.target, d.lane, d.attempts, d.content, d.credit_spent, c.lost_lease, d.notification_id
"""

# What the senders need of the claimed deliveries' notifications: those of an account or a department on the
# coordinator, a person's on their shards (by id: one multi-shard query per claimed batch on a cluster, in the
# background workers).
CLAIMED_NOTIFICATIONS = """
SELECT id, kind, data::text AS data, created_at FROM {table} WHERE id = ANY($1::uuid[])
"""


async def claim(conn: Conn, ids: list[UUID], *, now: datetime, lease: timedelta) -> list[dict[str, Any]]:
    """Take the deliveries that may be attempted now (not final, not held, no live attempt), each with its
    notification's ``kind``, ``data`` and ``created_at``."""
    claimed = await conn.fetch(CLAIM, ids, now, now + lease)
    if not claimed:
        return []
    wanted = list({r["notification_id"] for r in claimed})
    notes = {
        n["id"]: n
        for table in ("notify_other_notification", "notify_notification")
        for n in await conn.fetch(CLAIMED_NOTIFICATIONS.format(table=table), wanted)
    }
    # A delivery without its notification cannot be (nothing deletes one before its deliveries); skip it if so.
    return [
        {**dict(r), "kind": n["kind"], "data": n["data"], "created_at": n["created_at"]}
        for r in claimed
        if (n := notes.get(r["notification_id"])) is not None
    ]


SPEND_CREDIT = """
UPDATE notify_wechat_grant SET credits = CASE WHEN long_term THEN credits ELSE credits - 1 END, updated_at = $3
WHERE account_id = $1 AND template_key = $2 AND opted_out_at IS NULL AND (long_term OR credits > 0)
RETURNING long_term
"""


async def spend_grant(conn: Conn, delivery_id: UUID, account_id: UUID, template_key: str, *, now: datetime) -> bool:
    """Use the account's grant for one message: a one-time credit is spent, a long-term grant kept."""
    long_term = await conn.fetchval(SPEND_CREDIT, account_id, template_key, now)
    if long_term is None:
        return False
    if not long_term:
        await conn.execute("UPDATE notify_delivery SET credit_spent = true WHERE id = $1", delivery_id)
    return True


async def opt_out(conn: Conn, account_id: UUID, template_key: str, *, now: datetime) -> None:
    """WeChat said the user refuses the template (43101): drop every grant until they accept again."""
    await conn.execute(
        "UPDATE notify_wechat_grant SET credits = 0, long_term = false, opted_out_at = $3, updated_at = $3"
        " WHERE account_id = $1 AND template_key = $2",
        account_id,
        template_key,
        now,
    )


async def refund_grant(conn: Conn, delivery_id: UUID, account_id: UUID, template_key: str, *, now: datetime) -> None:
    """WeChat never took the message: the one-time credit spent on it counts again."""
    if await conn.fetchval(
        "UPDATE notify_delivery SET credit_spent = false WHERE id = $1 AND credit_spent RETURNING true", delivery_id
    ):
        await conn.execute(
            "UPDATE notify_wechat_grant SET credits = credits + 1, updated_at = $3"
            " WHERE account_id = $1 AND template_key = $2 AND opted_out_at IS NULL",
            account_id,
            template_key,
            now,
        )


SETTLE = f"""
WITH o AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::text[])
        AS o(id, attempt, status, not_before, reason, provider_ref)
)
UPDATE notify_delivery d
SET status = o.status, not_before = o.not_before, lease_until = NULL, reason = o.reason,
    provider_ref = coalesce(o.provider_ref, d.provider_ref), updated_at = $7
FROM o
WHERE d.id = o.id AND d.attempts = o.attempt AND d.status NOT IN {NOT_OPEN} AND d.status <> 'created'
RETURNING d.id
"""

INSERT_ATTEMPTS = """
INSERT INTO notify_attempt (delivery_id, attempt, started_at, finished_at, outcome, detail)
SELECT * FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[])
ON CONFLICT ON CONSTRAINT notify_attempt_pkey DO NOTHING
"""


async def settle(conn: Conn, rows: list[tuple[Any, ...]], *, now: datetime) -> set[UUID]:
    """Apply ``(id, attempt, status, not_before, reason, provider_ref)``; return the ids that moved.

    A row that moved on meanwhile (a later attempt, a sweep) is left alone: the answer came late.
    """
    if not rows:
        return set()
    columns = list(zip(*rows, strict=True))
    return {r["id"] for r in await conn.fetch(SETTLE, *columns, now)}


async def insert_attempts(conn: Conn, rows: list[tuple[Any, ...]]) -> None:
    """``(delivery_id, attempt, started_at, finished_at, outcome, detail)`` rows."""
    if rows:
        await conn.execute(INSERT_ATTEMPTS, *zip(*rows, strict=True))


DUE = """
WITH due AS (
    SELECT id FROM notify_delivery
    WHERE open
      AND coalesce(not_before, '-infinity') <= $1 AND coalesce(lease_until, '-infinity') <= $1
      AND coalesce(queued_at, '-infinity') <= $2
    ORDER BY not_before NULLS FIRST
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE notify_delivery d SET queued_at = $1 FROM due WHERE d.id = due.id
RETURNING d.id, d.lane
"""


async def take_due(conn: Conn, *, now: datetime, lost_after: timedelta, limit: int) -> list[asyncpg.Record]:
    """Deliveries to hand to the stream again: held ones now due, retries due, attempts whose lease
    ran out, and queued ones whose stream entry was apparently lost (queued longer than ``lost_after``)."""
    return await conn.fetch(DUE, now, now - lost_after, limit)


SWEEP = """
UPDATE notify_delivery
SET status = 'temporary-failure', reason = 'no outcome within the time limit', lease_until = NULL, not_before = NULL,
    updated_at = $1
WHERE open AND status = 'sending' AND sending_since < $2
RETURNING id
"""


async def sweep_stuck(conn: Conn, *, now: datetime, limit: timedelta) -> int:
    """Deliveries in ``sending`` for longer than ``limit`` become ``temporary-failure``."""
    return len(await conn.fetch(SWEEP, now, now - limit))


async def fail_poisoned(conn: Conn, delivery_id: UUID, reason: str, *, now: datetime) -> None:
    """A delivery whose stream entry went to the dead letters: technical failure, so nobody retries it."""
    await conn.execute(
        "UPDATE notify_delivery SET status = 'technical-failure', reason = $2, lease_until = NULL, not_before = NULL,"
        " updated_at = $3 WHERE id = $1 AND status IN ('created', 'sending')",
        delivery_id,
        reason,
        now,
    )
