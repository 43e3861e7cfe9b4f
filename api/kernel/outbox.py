"""Transactional outbox: events are rows written with the business change, relayed afterwards.

:func:`enqueue` runs inside the business transaction. :func:`relay_once` claims and marks a
batch (one relay at a time across processes, under an advisory lock), hands it to ``publish`` (a
Redis Stream in production) and commits. A crash before that commit releases the rows and they are
relayed again: delivery is at-least-once and consumers drop repeats by ``dedup_key``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from api.kernel import pgcopy
from api.kernel.db import Conn, json_text


class OutboxMessage(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    topic: str
    dedup_key: str
    partition_key: str
    payload: Any
    created_at: datetime
    attempts: int


INSERT_OUTBOX = """
INSERT INTO outbox (topic, dedup_key, partition_key, payload)
VALUES ($1, $2, $3, $4)
ON CONFLICT ON CONSTRAINT outbox_dedup_key_key DO NOTHING
RETURNING id
"""


async def enqueue(conn: Conn, topic: str, payload: Any, *, dedup_key: str, partition_key: str = "") -> int | None:
    """Queue an event in the caller's transaction; a repeated ``dedup_key`` is a no-op (returns None)."""
    if not conn.is_in_transaction():
        raise RuntimeError("enqueue must run inside the business transaction")
    return await conn.fetchval(INSERT_OUTBOX, topic, dedup_key, partition_key, json_text(payload))


EVENT_COLUMNS = ("topic", "dedup_key", "partition_key", "payload")
_EVENT_COUNT = pgcopy.count(len(EVENT_COLUMNS))


def encoded_event(topic: str, payload: bytes, *, dedup_key: str, partition_key: str = "") -> bytes:
    """An event as a binary COPY row for :func:`enqueue_encoded`; ``payload`` is its JSON text."""
    return _EVENT_COUNT + pgcopy.fields(topic, dedup_key, partition_key, payload)


async def enqueue_encoded(conn: Conn, events: list[bytes]) -> None:
    """Many :func:`encoded_event` rows (or runs of them, joined) by binary COPY, in the caller's transaction.

    For events whose dedup keys are new by construction (ids made in the same transaction): unlike
    :func:`enqueue`, a repeated key is an error here, not a no-op.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("enqueue_encoded must run inside the business transaction")
    await pgcopy.copy_rows(conn, "outbox", EVENT_COLUMNS, events)


# One relay at a time: relays in several processes that claim side by side each walk over the
# rows the other holds (SKIP LOCKED tries every one of them), which for a bulk send cost more than
# the relaying. The others find the lock taken and come back on their next poll; a relay that dies
# releases it with its transaction.
RELAY_LOCK = 0x7A62_6F75  # pg_try_advisory_xact_lock key ("zbou")

# Claimed and marked in one statement: the rows are locked until the commit, which follows the
# hand-off; if the hand-off fails they are put back with a back-off (MARK_FAILED).
CLAIM_BATCH = """
WITH c AS (
    SELECT id FROM outbox
    WHERE published_at IS NULL AND available_at <= now()
    ORDER BY available_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox o SET published_at = now(), attempts = o.attempts + 1
FROM c WHERE o.id = c.id
RETURNING o.id, o.topic, o.dedup_key, o.partition_key, o.payload::json AS payload, o.created_at,
          o.attempts - 1 AS attempts
"""

MARK_FAILED = """
UPDATE outbox
SET published_at = NULL, last_error = $2,
    available_at = now() + make_interval(secs => least(300, 2 ^ least(attempts - 1, 8)))
WHERE id = ANY($1::bigint[])
"""

Publish = Callable[[list[OutboxMessage]], Awaitable[None]]


async def relay_once(pool: asyncpg.Pool, publish: Publish, *, limit: int = 500) -> int:
    """Move one batch of pending rows to ``publish``; return how many were published (0 as well
    when another relay is at work)."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK):
            return 0
        rows = await conn.fetch(CLAIM_BATCH, limit)
        if not rows:
            return 0
        batch = sorted((OutboxMessage(**dict(r)) for r in rows), key=lambda m: m.id)
        try:
            await publish(batch)
        except Exception as exc:
            await conn.execute(MARK_FAILED, [m.id for m in batch], type(exc).__name__)
            return 0
        return len(batch)


def stream_publisher(redis: Any, *, maxlen: int = 1_000_000) -> Publish:
    """Publish each message to the Redis Stream ``zb:events:<topic>`` (the dispatcher reads it)."""

    async def publish(batch: list[OutboxMessage]) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for m in batch:
                fields = {
                    "outbox_id": m.id,
                    "dedup_key": m.dedup_key,
                    "partition_key": m.partition_key,
                    "payload": msgspec.json.encode(m.payload),
                }
                pipe.xadd(f"zb:events:{m.topic}", fields, maxlen=maxlen, approximate=True)
            await pipe.execute()

    return publish
