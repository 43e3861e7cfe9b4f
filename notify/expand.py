"""Expansion, the dispatcher's first stage: events become notifications, inbox items and deliveries.

A batch of event stream entries is planned and written in one transaction: notification rows
(deduplicated by key, so an event relayed twice shows once), the inbox items' change-log entries
(the inbox is delivered by that commit), and one delivery row per outside channel. After the
commit the deliveries go to their lane streams, the owners' devices get a live poke, and the
entries are acknowledged. A crash before the acknowledgement replays the batch: the inserts skip
what exists, and deliveries whose stream hand-off was lost are requeued by ``requeue_due``.

A batch that fails is retried entry by entry, so one poison event holds back only itself; it
stays pending, is reclaimed, and after ``MAX_READS`` reads goes to the dead letters.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import msgspec

from api.kernel import changelog
from api.kernel.jobs import now_of
from notify import catalogue, dispatch_store, live, plan, recipients, reconcile, streams
from notify.deliver import TRANSIENT
from notify.models import DeliveryRow, Event, Notification, NotificationRow

log = logging.getLogger("zhangban.notify")

READ_COUNT = 500


def to_event(entry: streams.Entry) -> Event:
    """The event of a stream entry (the topic names the event when the payload does not)."""
    m = streams.decode_event(entry)
    payload = m.payload if isinstance(m.payload, dict) else {}
    return Event(
        stream=entry[0],
        entry_id=entry[1],
        outbox_id=m.outbox_id,
        name=str(payload.get("event") or m.topic),
        dedup_key=m.dedup_key,
        lane=m.partition_key or streams.NO_LANE,
        payload=payload,
    )


def inbox_view(row: NotificationRow) -> Notification:
    return Notification(
        id=row.id,
        kind=row.kind,
        event=row.event,
        title=row.title,
        body=row.body,
        data=row.data,
        urgent=row.urgent,
        created_at=row.created_at,
        read_at=None,
    )


async def expand(state: Any, events: list[Event], *, now: datetime | None = None) -> int:
    """Write the notifications of ``events`` in one transaction; return how many were new."""
    if not events:
        return 0
    now = now or now_of(state)
    # Several relays may interleave their batches; the outbox id is the order events were written
    # in, which is the order the inbox shows them.
    events = sorted(events, key=lambda e: e.outbox_id)
    known = [e for e in events if catalogue.kind_of(e.name, e.payload) is not None]
    fresh: list[NotificationRow] = []
    inbox: list[NotificationRow] = []
    views: list[Notification] = []
    deliveries: list[DeliveryRow] = []
    versions: dict[Any, int] = {}
    async with state.pool.acquire() as conn, conn.transaction():
        await reconcile.mark_consumed(conn, [e.outbox_id for e in events], now=now)
        if known:
            batch = [(e, kind) for e in known if (kind := catalogue.kind_of(e.name, e.payload)) is not None]
            ctx = await recipients.load(conn, batch, now=now)
            notes, deliveries = plan.plan(known, ctx, now=now)
            new = await dispatch_store.insert_notifications(conn, notes)
            fresh = [n for n in notes if n.id in new]
            deliveries = [d for d in deliveries if d.notification_id in new]
            inbox = [n for n in fresh if n.department_id is None]
            views = [inbox_view(n) for n in inbox]
            people = [(v, n.person_id) for v, n in zip(views, inbox, strict=True) if n.person_id is not None]
            versions = await changelog.record_puts(conn, [(p, "notification", v.id, v) for v, p in people])
            await dispatch_store.insert_deliveries(conn, deliveries, now=now)
    if fresh:
        await streams.push_deliveries(state.redis, [(d.id, d.lane) for d in deliveries if d.not_before is None])
        await live.poke_new(state.redis, inbox, views, versions)
    return len(fresh)


def _decoded(entry: streams.Entry) -> streams.Message | None:
    try:
        return streams.decode_event(entry)
    except (KeyError, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        return None


class Expander:
    """The expansion loop of one process (runs in ``serve`` and ``zhangban worker``)."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.group = streams.Group(state.redis, streams.EVENT_GROUP, streams.consumer_name("expand"))
        self.idle_ms = int(state.settings.notify_claim_timeout * 1000)

    async def step(self, *, block_ms: int = 1000) -> int:
        """Read and expand one batch; return how many entries were handled."""
        entries = await self.group.read([streams.EVENTS], count=READ_COUNT, block_ms=block_ms)
        await self.handle(entries)
        return len(entries)

    async def reclaim(self) -> int:
        """Take over what dead or stuck consumers left pending, and expand it."""
        live_entries, dead = await self.group.reclaim(streams.EVENTS, min_idle_ms=self.idle_ms)
        if dead:
            # Poison: dead-lettered for operators to look at, and consumed as far as reconciling goes.
            ids = [m.outbox_id for m in map(_decoded, dead) if m is not None]
            async with self.state.pool.acquire() as conn:
                await reconcile.mark_consumed(conn, ids, now=now_of(self.state))
        await self.handle(live_entries)
        return len(live_entries)

    async def handle(self, entries: list[streams.Entry]) -> None:
        if not entries:
            return
        good, events = [], []
        for entry in entries:
            try:
                events.append(to_event(entry))
                good.append(entry)
            except (KeyError, ValueError, msgspec.DecodeError, msgspec.ValidationError):
                await self.group.dead_letter(entry, "not an outbox message")
        try:
            await expand(self.state, events)
            await self.group.ack((e[0], e[1]) for e in good)
            return
        except TRANSIENT:
            raise  # the database or Redis is away: the loop waits; the entries stay pending and are reclaimed
        except Exception:
            log.exception("expanding a batch of %d events failed; retrying one by one", len(events))
        for entry, event in zip(good, events, strict=True):
            try:
                await expand(self.state, [event])
            except Exception:
                log.exception("event %s (%s) could not be expanded", event.name, event.entry_id)
                continue
            await self.group.ack([(entry[0], entry[1])])
