"""Redis Streams plumbing: consumer groups, reading, acknowledging, reclaiming and dead letters.

Two stages read streams through consumer groups. The expander (group ``notify``) reads the event
streams the outbox relay writes (``zb:events:<topic>``). The deliverer (group ``deliver``) reads one
stream per *lane* (``zb:notify:out:<lane>``, a lane being the department an event came from), so a
department's bulk send fills its own lane and every other lane is still read in the same round.

An entry stays pending until it is acknowledged after its work committed. Entries a dead worker
left pending are taken over with ``XAUTOCLAIM`` once idle for the claim timeout; an entry read
``MAX_READS`` times without being acknowledged is a poison message and goes to the dead-letter
stream ``zb:notify:dead`` (with where it came from and why), so it cannot block or crash workers
forever. PostgreSQL stays the record of every delivery; the streams only carry work.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec
from redis.exceptions import ResponseError

EVENT_GROUP = "notify"
DELIVER_GROUP = "deliver"
LANES = "zb:notify:lanes"
DEAD = "zb:notify:dead"
MAX_READS = 5
MAXLEN = 1_000_000
NO_LANE = "_"

Entry = tuple[str, str, dict[bytes, bytes]]  # (stream, entry id, fields)


def event_stream(topic: str) -> str:
    return f"zb:events:{topic}"


def lane_stream(lane: str) -> str:
    return f"zb:notify:out:{lane or NO_LANE}"


def consumer_name(stage: str) -> str:
    """Unique per process and stage; a restarted worker is a new consumer and reclaims the old one's work."""
    return f"{stage}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Group:
    """One consumer of one group, over any number of streams (groups are made on first use)."""

    def __init__(self, redis: Any, group: str, consumer: str) -> None:
        self.redis = redis
        self.group = group
        self.consumer = consumer
        self._ready: set[str] = set()

    async def _ensure(self, streams: Iterable[str]) -> None:
        for stream in streams:
            if stream in self._ready:
                continue
            try:
                # From the start: entries written before any worker ran are work too.
                await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._ready.add(stream)

    async def read(self, streams: list[str], *, count: int, block_ms: int) -> list[Entry]:
        """New entries for this consumer; ``count`` is per stream, which is what makes lanes fair."""
        if not streams:
            return []
        await self._ensure(streams)
        try:
            answer = await self.redis.xreadgroup(self.group, self.consumer, dict.fromkeys(streams, ">"),
                                                 count=count, block=block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._ready.clear()  # Redis lost its data (restart without persistence): make the groups again
            return []
        return [(_text(s), _text(i), f) for s, entries in answer or [] for i, f in entries]

    async def ack(self, entries: Iterable[tuple[str, str]], *, delete: bool = False) -> None:
        """Acknowledge ``(stream, id)`` pairs; ``delete`` also drops them (streams only this group reads)."""
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id in entries:
            by_stream.setdefault(stream, []).append(entry_id)
        if not by_stream:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream, ids in by_stream.items():
                pipe.xack(stream, self.group, *ids)
                if delete:
                    pipe.xdel(stream, *ids)
            await pipe.execute()

    async def reclaim(self, stream: str, *, min_idle_ms: int, count: int = 200) -> tuple[list[Entry], list[Entry]]:
        """Take over entries idle longer than ``min_idle_ms``; return (to retry, dead-lettered)."""
        await self._ensure([stream])
        try:
            _, claimed, *_ = await self.redis.xautoclaim(stream, self.group, self.consumer, min_idle_ms, "0-0", count=count)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._ready.discard(stream)
            return [], []
        entries = [(stream, _text(i), f) for i, f in claimed if f is not None]
        if not entries:
            return [], []
        async with self.redis.pipeline(transaction=False) as pipe:
            for _, entry_id, _ in entries:
                pipe.xpending_range(stream, self.group, min=entry_id, max=entry_id, count=1)
            pending = await pipe.execute()
        live, dead = [], []
        for entry, info in zip(entries, pending, strict=True):
            reads = info[0]["times_delivered"] if info else 0
            (dead if reads > MAX_READS else live).append(entry)
        for entry in dead:
            await self.dead_letter(entry, f"read {MAX_READS} times without being acknowledged")
        return live, dead

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        """Park ``entry`` in the dead-letter stream with its origin and reason, and acknowledge it."""
        stream, entry_id, fields = entry
        record = {b"stream": stream, b"entry_id": entry_id, b"group": self.group, b"reason": reason, **fields}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(DEAD, record, maxlen=MAXLEN, approximate=True)
            pipe.xack(stream, self.group, entry_id)
            await pipe.execute()


async def push_deliveries(redis: Any, rows: Iterable[tuple[Any, str]]) -> None:
    """Hand ``(delivery id, lane)`` pairs to their lane streams (after the rows committed)."""
    lanes: set[str] = set()
    async with redis.pipeline(transaction=False) as pipe:
        for delivery_id, lane in rows:
            lane = lane or NO_LANE
            lanes.add(lane)
            pipe.xadd(lane_stream(lane), {"d": str(delivery_id)}, maxlen=MAXLEN, approximate=True)
        if lanes:
            pipe.sadd(LANES, *lanes)
            await pipe.execute()


async def lanes(redis: Any) -> list[str]:
    """Every lane that ever had work (a handful of departments; cheap to read each round)."""
    return sorted(_text(m) for m in await redis.smembers(LANES))


def decode_event(entry: Entry) -> dict[str, Any]:
    """The outbox message fields of an event stream entry (see ``api.outbox.stream_publisher``)."""
    _, _, f = entry
    return {
        "outbox_id": int(f.get(b"outbox_id", 0)),
        "dedup_key": _text(f[b"dedup_key"]),
        "partition_key": _text(f.get(b"partition_key", b"")),
        "payload": msgspec.json.decode(f[b"payload"]),
    }
