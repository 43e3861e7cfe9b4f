"""Delivery, the dispatcher's second stage: fair reading of lanes, attempts in flight, batched outcomes.

Each round reads up to ``READ_COUNT`` entries from every lane that has room (at most ``PER_LANE``
attempts in flight per lane, ``TOTAL`` per process), so a department's bulk send of ten thousand
messages occupies its own lane's slots while another department's single message is read in the
very next round. Claimed deliveries are attempted concurrently; outcomes are written in batches
(one transaction for up to a thousand) and only then are the stream entries acknowledged.

At-least-once, shown once: a worker that dies mid-attempt leaves its entries pending and its
leases running; after the claim timeout another worker reclaims the entries (``XAUTOCLAIM``), the
lease has run out, the lost attempt is recorded and the delivery tried again. Webhook receivers
see the same ``webhook-id``; inbox items were never at risk (they committed with the event).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from redis.exceptions import RedisError

from api.kernel.jobs import now_of
from notify import dispatch_store, service, streams
from notify.channels import Job, Senders
from notify.service import Outcome

log = logging.getLogger("zhangban.notify")

PER_LANE = 100  # deliveries in flight per lane
TOTAL = 600  # deliveries in flight per process
READ_COUNT = 2  # entries (of up to streams.ENTRY_SIZE deliveries) read per lane and round
RECORD_BATCH = 1000
RECORD_LINGER = 0.02  # seconds an outcome may wait for others to be recorded with
# Failures of the database or Redis themselves: wait and try the same work again.
TRANSIENT = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    RedisError,
)


@dataclass
class Done:
    job: Job
    outcome: Outcome
    finished_at: datetime


class Deliverer:
    """The delivery loop of one process."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.group = streams.Group(state.redis, streams.DELIVER_GROUP, streams.consumer_name("deliver"))
        self.senders = Senders(state)
        self.lease = timedelta(seconds=state.settings.notify_claim_timeout)
        self.inflight: Counter[str] = Counter()
        self.entries: dict[tuple[str, str], int] = {}  # stream entries in flight here: deliveries left
        self.done: asyncio.Queue[Done] = asyncio.Queue()
        self.freed = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Read, attempt and record until cancelled."""
        helpers = [asyncio.create_task(self._record_forever()), asyncio.create_task(self._reclaim_forever())]
        try:
            while True:
                try:
                    await self.step()
                except TRANSIENT as exc:
                    log.warning("delivery round failed (%s); trying again", type(exc).__name__)
                    await asyncio.sleep(1)
                except Exception:
                    log.exception("delivery round failed")
                    await asyncio.sleep(1)
        finally:
            for task in [*helpers, *self.tasks]:
                task.cancel()
            await asyncio.gather(*helpers, *self.tasks, return_exceptions=True)
            await self.senders.aclose()

    async def step(self, *, block_ms: int = 1000) -> int:
        """One round: read every lane with room, claim and start the attempts; return entries read."""
        open_lanes = [lane for lane in await streams.lanes(self.state.redis) if self.inflight[lane] < PER_LANE]
        if not open_lanes or sum(self.inflight.values()) >= TOTAL:
            self.freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.freed.wait(), block_ms / 1000)
            return 0
        entries = await self.group.read(
            [streams.lane_stream(lane) for lane in open_lanes], count=READ_COUNT, block_ms=block_ms
        )
        await self.start(entries)
        return len(entries)

    async def start(self, entries: list[streams.Entry]) -> None:
        """Claim the deliveries of ``entries`` and start their attempts; acknowledge what is done.

        An entry carries several deliveries; it is acknowledged once every one of them has an
        outcome recorded (or could not be claimed: already final, held, or leased elsewhere).
        """
        wanted: dict[UUID, tuple[str, str]] = {}
        counts: dict[tuple[str, str], int] = {}
        for entry in entries:
            pair = (entry[0], entry[1])
            if pair in self.entries:
                continue  # our own entry, still in flight, reclaimed by ourselves
            try:
                ids = streams.delivery_ids(entry)
            except (KeyError, ValueError, AttributeError):
                await self.group.dead_letter(entry, "not a delivery entry")
                continue
            counts[pair] = 0
            for delivery_id in ids:
                if delivery_id not in wanted:  # the same delivery twice in one read: once is enough
                    wanted[delivery_id] = pair
                    counts[pair] += 1
        rows: list[Any] = []
        now = now_of(self.state)
        if wanted:
            async with self.state.pool.acquire() as conn, conn.transaction():
                rows = await dispatch_store.claim(conn, list(wanted), now=now, lease=self.lease)
                await dispatch_store.insert_attempts(
                    conn,
                    [
                        (
                            r["id"],
                            r["attempts"] - 1,
                            r["lost_lease"] - self.lease,
                            now,
                            "lost",
                            "no outcome before the lease ran out",
                        )
                        for r in rows
                        if r["lost_lease"] is not None
                    ],
                )
                ready, settled = await self.senders.prepare(conn, rows, wanted, now=now)
        claimed = {r["id"] for r in rows}
        for delivery_id, pair in wanted.items():
            if delivery_id not in claimed:
                counts[pair] -= 1
        await self.group.ack([pair for pair, n in counts.items() if n == 0], delete=True)
        self.entries.update({pair: n for pair, n in counts.items() if n > 0})
        if not rows:
            return
        for job in [*ready, *(j for j, _ in settled)]:
            self.inflight[job.lane] += 1
        for job, outcome in settled:
            self.done.put_nowait(Done(job, outcome, now))
        for job in ready:
            task = asyncio.create_task(self._attempt(job))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _attempt(self, job: Job) -> None:
        try:
            outcome = await self.senders.send(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("delivery %s failed unexpectedly", job.id)
            outcome = Outcome("technical-failure", f"dispatcher error {type(exc).__name__}")
        self.done.put_nowait(Done(job, outcome, now_of(self.state)))

    async def _record_forever(self) -> None:
        while True:
            await self.record_waiting(block=True)

    async def record_waiting(self, *, block: bool = False) -> int:
        """Write the outcomes waiting (one transaction), then acknowledge their entries."""
        if not block and self.done.empty():
            return 0
        batch = [await self.done.get()]
        if block and self.done.qsize() < RECORD_BATCH // 4:
            # Let more outcomes join: one transaction (and one commit) for hundreds instead of dozens.
            await asyncio.sleep(RECORD_LINGER)
        while len(batch) < RECORD_BATCH and not self.done.empty():
            batch.append(self.done.get_nowait())
        delay = 0.5
        while True:
            try:
                await self._record(batch)
                break
            except TRANSIENT as exc:
                # Outcomes wait in memory; if this process dies meanwhile, the leases run out and
                # the deliveries are attempted again.
                log.warning("recording %d outcomes failed (%s); retrying", len(batch), type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
            except Exception:
                log.exception("recording %d outcomes failed; recording them one by one", len(batch))
                for d in batch:
                    with contextlib.suppress(Exception):  # left pending: reclaimed, dead-lettered in the end
                        await self._record([d])
                break
        finished = []
        for d in batch:
            self.inflight[d.job.lane] -= 1
            left = self.entries.get(d.job.entry, 1) - 1
            if left > 0:
                self.entries[d.job.entry] = left
            else:
                self.entries.pop(d.job.entry, None)
                finished.append(d.job.entry)
        await self.group.ack(finished, delete=True)
        self.freed.set()
        return len(batch)

    async def _record(self, batch: list[Done]) -> None:
        now = now_of(self.state)
        settled = [service.settle(d.job.channel, d.job.attempt, d.outcome, now=d.finished_at) for d in batch]
        async with self.state.pool.acquire() as conn, conn.transaction():
            moved = await dispatch_store.settle(
                conn,
                [
                    (d.job.id, d.job.attempt, s.status, s.not_before, d.outcome.detail, d.outcome.provider_ref)
                    for d, s in zip(batch, settled, strict=True)
                ],
                now=now,
            )
            await dispatch_store.insert_attempts(
                conn,
                [
                    (d.job.id, d.job.attempt, d.job.started_at, d.finished_at, s.attempt_outcome, d.outcome.detail)
                    for d, s in zip(batch, settled, strict=True)
                ],
            )
            for d, s in zip(batch, settled, strict=True):
                if d.job.channel == "wechat" and d.job.id in moved and s.status in service.FINAL:
                    await self._grant_aftermath(conn, d, s.status, now=now)

    async def _grant_aftermath(self, conn: Any, d: Done, status: str, *, now: datetime) -> None:
        template = (d.job.content or {}).get("template", "")
        if d.outcome.detail == f"wechat errcode {service.WECHAT_OPT_OUT}":
            await dispatch_store.opt_out(conn, d.job.target, template, now=now)
        elif status != "delivered":
            await dispatch_store.refund_grant(conn, d.job.id, d.job.target, template, now=now)

    async def _reclaim_forever(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.lease.total_seconds() / 2))
            try:
                await self.reclaim()
            except Exception:
                log.exception("reclaiming failed")

    async def reclaim(self) -> int:
        """Take over entries other (dead) consumers left pending; dead-letter the poison ones."""
        taken = 0
        for lane in await streams.lanes(self.state.redis):
            live, dead = await self.group.reclaim(
                streams.lane_stream(lane), min_idle_ms=int(self.lease.total_seconds() * 1000)
            )
            if dead:
                await self._fail_dead(dead)
            await self.start(live)
            taken += len(live)
        return taken

    async def _fail_dead(self, dead: list[streams.Entry]) -> None:
        now = now_of(self.state)
        async with self.state.pool.acquire() as conn:
            for entry in dead:
                with contextlib.suppress(KeyError, ValueError, AttributeError):
                    for delivery_id in streams.delivery_ids(entry):
                        await dispatch_store.fail_poisoned(
                            conn, delivery_id, "dead-lettered after repeated failures", now=now
                        )
