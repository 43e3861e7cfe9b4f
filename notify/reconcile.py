"""Rebuilding what Redis lost: events the relay published but the expansion never consumed.

The outbox marks an event published once it is on the stream; from then until the expansion
commits, the stream is its only copy. Redis may lose it (a restart without persistence, a
failover, a flush), and DESIGN.md allows Redis only what can be rebuilt. So the expansion records
every event it consumes (``notify_event``, in its own transaction), and this job walks the outbox
in id order behind a mark: an event of a notification topic that was published a while ago and
never consumed is published again. Expansion is idempotent, so an event that was only slow
costs a repeat read, never a second notification.

The mark moves only over events that are consumed (or of other topics) and old enough that no
transaction holding a smaller outbox id can still commit; the consumed rows behind it are pruned.
Outbox rows behind it are kept ``ZB_OUTBOX_RETENTION_DAYS`` for looking into what happened, then
deleted (``prune``). A repeat of a deleted event would still be shown once: notifications are
deduplicated by event and recipient in their own table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.kernel import outbox
from api.kernel.db import Conn
from api.kernel.jobs import now_of
from notify import catalogue, streams

MARK = "expand"
BATCH = 5000
MAX_BATCHES = 20  # per prune tick: a backlog goes over several ticks, never in one long transaction

MARK_CONSUMED = """
INSERT INTO notify_event (outbox_id, consumed_at) SELECT unnest($1::bigint[]), $2
ON CONFLICT ON CONSTRAINT notify_event_pkey DO NOTHING
"""


async def mark_consumed(conn: Conn, outbox_ids: list[int], *, now: datetime) -> None:
    """Record events as consumed (in the transaction that consumed them)."""
    if outbox_ids:
        await conn.execute(MARK_CONSUMED, outbox_ids, now)


SCAN = """
SELECT o.id, o.topic, o.dedup_key, o.partition_key, o.payload::json AS payload, o.created_at, o.published_at, o.attempts,
       e.outbox_id IS NOT NULL AS consumed
FROM outbox o LEFT JOIN notify_event e ON e.outbox_id = o.id
WHERE o.id > $1
ORDER BY o.id
LIMIT $2
"""

MOVE_MARK = """
INSERT INTO notify_reconcile_mark (name, outbox_id) VALUES ($1, $2)
ON CONFLICT ON CONSTRAINT notify_reconcile_mark_pkey DO UPDATE SET outbox_id = EXCLUDED.outbox_id
"""


async def _mark(conn: Conn) -> int:
    """The outbox id the reconciling has moved past (0 before it first moved)."""
    return await conn.fetchval("SELECT outbox_id FROM notify_reconcile_mark WHERE name = $1", MARK) or 0


def grace_of(state: Any) -> timedelta:
    """How long an event may sit between publication and consumption before it counts as lost."""
    return timedelta(seconds=max(60.0, 3 * state.settings.notify_claim_timeout))


async def reconcile(state: Any, *, now: datetime | None = None) -> int:
    """Publish again what was published but never consumed; return how many."""
    now = now or now_of(state)
    cutoff = now - grace_of(state)
    async with state.pool.acquire() as conn:
        mark = await _mark(conn)
        rows = await conn.fetch(SCAN, mark, BATCH)
    lost: list[outbox.OutboxMessage] = []
    moved_to = mark
    for r in rows:
        if r["created_at"] > cutoff:
            break  # a transaction with a smaller id may still commit: look again next time
        if r["consumed"] or r["topic"] not in catalogue.TOPICS:
            if not lost:
                moved_to = r["id"]
            continue
        if r["published_at"] is None or r["published_at"] > cutoff:
            break  # the relay has it, or the expansion is only slow
        lost.append(
            outbox.OutboxMessage(
                id=r["id"],
                topic=r["topic"],
                dedup_key=r["dedup_key"],
                partition_key=r["partition_key"],
                payload=r["payload"],
                created_at=r["created_at"],
                attempts=r["attempts"],
            )
        )
    if lost:
        await streams.publisher(state.redis, topics=catalogue.TOPICS)(lost)
    if moved_to != mark:
        async with state.pool.acquire() as conn, conn.transaction():
            await conn.execute(MOVE_MARK, MARK, moved_to)
            await conn.execute("DELETE FROM notify_event WHERE outbox_id <= $1", moved_to)
    return len(lost)


PRUNE = """
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox
    WHERE id <= $1 AND published_at IS NOT NULL AND created_at < $2
    ORDER BY id
    LIMIT $3
)
"""


async def prune(state: Any, *, now: datetime | None = None) -> int:
    """Delete published outbox rows behind the mark older than the retention; return how many."""
    now = now or now_of(state)
    before = now - timedelta(days=state.settings.outbox_retention_days)
    async with state.pool.acquire() as conn:
        mark = await _mark(conn)  # it only moves forward: read once, it stays safe for the whole tick
    removed = 0
    for _ in range(MAX_BATCHES):
        async with state.pool.acquire() as conn:
            n = int((await conn.execute(PRUNE, mark, before, BATCH)).split()[-1])
        removed += n
        if n < BATCH:
            break
    return removed
