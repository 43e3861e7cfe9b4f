"""The notification jobs, run inside ``zhangban serve`` and by ``zhangban worker`` (``api/kernel/jobs.py``).

- ``notify.relay`` (every process): outbox rows → Redis Streams (``zb:{notify}:events`` for the
  topics notifications come from, ``zb:events:<topic>`` for any other), batch by batch; every
  process polls, and one at a time holds the relay's advisory lock (``api.kernel.outbox.relay_once``);
- ``notify.expand`` (every process): events → notifications, inbox items, deliveries;
- ``notify.deliver`` (every process): deliveries → WeChat, SMS, webhooks;
- ``notify.requeue`` (one process per tick): held deliveries now due, retries due, attempts whose
  lease ran out, and queued deliveries whose stream entry was lost → back into their lane streams;
- ``notify.sweep`` (one process per tick): deliveries stuck in ``sending`` past
  ``ZB_NOTIFY_SENDING_TIMEOUT`` → ``temporary-failure``;
- ``notify.reconcile`` (one process per tick): events published but never consumed (Redis lost
  them) → published again;
- ``notify.prune`` (one process per tick): outbox rows consumed and older than
  ``ZB_OUTBOX_RETENTION_DAYS`` → deleted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from api.kernel import outbox
from api.kernel.jobs import Job, now_of
from notify import catalogue, dispatch_store, reconcile, streams
from notify.deliver import TRANSIENT, Deliverer
from notify.expand import Expander

log = logging.getLogger("zhangban.notify")

RELAY_BATCH = 1000
RELAY_IDLE = 0.1  # seconds between polls when the outbox is empty
REQUEUE_BATCH = 5000


async def relay(state: Any) -> None:
    """Move committed outbox rows to the event streams, for as long as the process runs."""
    publish = streams.publisher(state.redis, topics=catalogue.TOPICS)
    while True:
        try:
            moved = await outbox.relay_once(state.pool, publish, limit=RELAY_BATCH)
        except TRANSIENT as exc:
            log.warning("outbox relay failed (%s); trying again", type(exc).__name__)
            moved = 0
            await asyncio.sleep(1)
        if moved < RELAY_BATCH:
            await asyncio.sleep(RELAY_IDLE)


async def expand(state: Any) -> None:
    """Expand events into notifications; every half claim timeout, take over abandoned entries."""
    expander = Expander(state)
    every = max(1.0, state.settings.notify_claim_timeout / 2)
    reclaimed_at = time.monotonic()
    while True:
        try:
            await expander.step()
            if time.monotonic() - reclaimed_at > every:
                reclaimed_at = time.monotonic()
                await expander.reclaim()
        except TRANSIENT as exc:
            log.warning("expanding failed (%s); trying again", type(exc).__name__)
            await asyncio.sleep(1)


async def deliver(state: Any) -> None:
    await Deliverer(state).run()


async def requeue_due(state: Any, *, now: datetime | None = None) -> int:
    """Hand due deliveries to their lanes again; return how many."""
    now = now or now_of(state)
    async with state.pool.acquire() as conn, conn.transaction():
        rows = await dispatch_store.take_due(
            conn, now=now, lost_after=timedelta(seconds=state.settings.notify_claim_timeout), limit=REQUEUE_BATCH
        )
    # After the commit: a crash here leaves them marked queued, and they are taken again once
    # the claim timeout has passed.
    await streams.push_deliveries(state.redis, [(r["id"], r["lane"]) for r in rows])
    return len(rows)


CONSUMER_IDLE_MS = 24 * 3600 * 1000


async def sweep(state: Any, *, now: datetime | None = None) -> int:
    """Deliveries in ``sending`` past the time limit become ``temporary-failure``; return how many.

    Also forgets stream consumers of workers gone for a day with nothing left pending.
    """
    now = now or now_of(state)
    async with state.pool.acquire() as conn:
        stuck = await dispatch_store.sweep_stuck(
            conn, now=now, limit=timedelta(seconds=state.settings.notify_sending_timeout)
        )
    if stuck:
        log.warning("%d deliveries stuck in sending marked temporary-failure", stuck)
    groups = [(streams.EVENTS, streams.EVENT_GROUP)]
    groups += [(streams.lane_stream(lane), streams.DELIVER_GROUP) for lane in await streams.lanes(state.redis)]
    for stream, group in groups:
        await streams.forget_idle_consumers(state.redis, stream, group, idle_ms=CONSUMER_IDLE_MS)
    return stuck


JOBS = [
    Job("notify.relay", relay),
    Job("notify.expand", expand),
    Job("notify.deliver", deliver),
    Job("notify.requeue", requeue_due, every=1.0),
    Job("notify.sweep", sweep, every=60.0),
    Job("notify.reconcile", reconcile.reconcile, every=30.0),
    Job("notify.prune", reconcile.prune, every=3600.0),
]
