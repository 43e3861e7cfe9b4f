"""Redis Streams plumbing: consumer groups, reading, acknowledging, reclaiming and dead letters.

Two stages read streams through consumer groups. The expander (group ``notify``) reads
``zb:{notify}:events``, where the outbox relay puts every event of a topic notifications are made
from (other topics go to ``zb:events:<topic>`` as ``api.kernel.outbox.stream_publisher`` writes them). An
entry there is one field holding the whole outbox message: redis-py spends most of its time per
field, and this stream carries every event of every bulk send. The deliverer (group ``deliver``) reads one
stream per *lane* (``zb:{notify}:out:<lane>``, a lane being the department an event came from), so a
department's bulk send fills its own lane and every other lane is still read in the same round.

An entry stays pending until it is acknowledged after its work committed. Entries a dead worker
left pending are taken over with ``XAUTOCLAIM`` once idle for the claim timeout; an entry read
``MAX_READS`` times without being acknowledged is a poison message and goes to the dead-letter
stream ``zb:{notify}:dead`` (with where it came from and why), so it cannot block or crash workers
forever. PostgreSQL stays the record of every delivery; the streams only carry work.

Every key here carries the hash tag ``{notify}``: on a Redis Cluster they sit in one slot, so one
``XREADGROUP`` still reads every lane, and a dead letter leaves its stream in one transaction. The
dispatch then runs on one master of the cluster, as it runs on one server now.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec
from redis.exceptions import ResponseError, WatchError

from api.kernel import outbox

PREFIX = "zb:{notify}:"  # every key of the dispatch: one hash slot on a cluster
EVENTS = PREFIX + "events"
EVENT_GROUP = "notify"
DELIVER_GROUP = "deliver"
LANES = PREFIX + "lanes"
DEAD = PREFIX + "dead"
MAX_READS = 5
MAXLEN = 1_000_000
NO_LANE = "_"
ENTRY_SIZE = 50  # deliveries per lane stream entry

Entry = tuple[str, str, dict[bytes, bytes]]  # (stream, entry id, fields)


class Message(msgspec.Struct, array_like=True, frozen=True):
    """An outbox message on ``zb:{notify}:events``."""

    outbox_id: int
    topic: str
    dedup_key: str
    partition_key: str
    payload: Any


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Message).decode


# Many entries in one command: redis-py spends tens of microseconds packing each command of a
# pipeline and parsing its reply in Python, which for the relay's thousand XADDs a batch cost more
# than everything else it does. Same entries, same order, same trimming as one XADD each.
XADD_MANY = """
for i = 2, #ARGV do
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[i])
end
return #ARGV - 1
"""
XADD_CHUNK = 100  # entries per script call: Redis runs a script to its end before anything else


def publisher(redis: Any, *, topics: Iterable[str], maxlen: int = MAXLEN) -> outbox.Publish:
    """The relay's hand-off: ``topics`` to ``zb:{notify}:events``, anything else as the outbox writes it."""
    wanted = frozenset(topics)
    others = outbox.stream_publisher(redis)
    xadd_many = redis.register_script(XADD_MANY)

    async def publish(batch: list[outbox.OutboxMessage]) -> None:
        ours = [m for m in batch if m.topic in wanted]
        if len(ours) < len(batch):
            await others([m for m in batch if m.topic not in wanted])
        records = [_encode(Message(m.id, m.topic, m.dedup_key, m.partition_key, m.payload)) for m in ours]
        for start in range(0, len(records), XADD_CHUNK):
            await xadd_many(keys=[EVENTS], args=[maxlen, *records[start : start + XADD_CHUNK]])

    return publish


def lane_stream(lane: str) -> str:
    return f"{PREFIX}out:{lane or NO_LANE}"


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
            answer = await self.redis.xreadgroup(
                self.group, self.consumer, dict.fromkeys(streams, ">"), count=count, block=block_ms
            )
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
            _, claimed, *_ = await self.redis.xautoclaim(
                stream, self.group, self.consumer, min_idle_ms, "0-0", count=count
            )
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
        live: list[Entry] = []
        dead: list[Entry] = []
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


async def forget_idle_consumers(redis: Any, stream: str, group: str, *, idle_ms: int) -> int:
    """Drop consumers with nothing pending that were not seen for ``idle_ms`` (every restart of a
    worker is a new consumer; the group would otherwise list them all forever)."""
    try:
        consumers = await redis.xinfo_consumers(stream, group)
    except ResponseError:
        return 0  # no such stream or group yet
    gone = [c["name"] for c in consumers if c["pending"] == 0 and c["idle"] > idle_ms]
    for name in gone:
        await redis.xgroup_delconsumer(stream, group, name)
    return len(gone)


async def push_deliveries(redis: Any, rows: Iterable[tuple[Any, str]]) -> None:
    """Hand ``(delivery id, lane)`` pairs to their lane streams (after the rows committed).

    An entry carries up to ``ENTRY_SIZE`` deliveries of one lane: a bulk send of ten thousand is
    two hundred entries, not ten thousand, for Redis and for the readers.
    """
    by_lane: dict[str, list[str]] = {}
    for delivery_id, lane in rows:
        by_lane.setdefault(lane or NO_LANE, []).append(str(delivery_id))
    if not by_lane:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for lane, ids in by_lane.items():
            for start in range(0, len(ids), ENTRY_SIZE):
                pipe.xadd(
                    lane_stream(lane), {"d": ",".join(ids[start : start + ENTRY_SIZE])}, maxlen=MAXLEN, approximate=True
                )
        pipe.sadd(LANES, *by_lane)
        await pipe.execute()


def delivery_ids(entry: Entry) -> list[uuid.UUID]:
    """The deliveries a lane stream entry carries."""
    return [uuid.UUID(d) for d in entry[2][b"d"].decode().split(",")]


async def lanes(redis: Any) -> list[str]:
    """Every lane that ever had work (a handful of departments; cheap to read each round)."""
    return sorted(_text(m) for m in await redis.smembers(LANES))


def decode_event(entry: Entry) -> Message:
    """The outbox message of a ``zb:{notify}:events`` entry."""
    return _decode(entry[2][b"m"])


# --- dead letters, for operators ----------------------------------------------------------------

ORIGIN = (b"stream", b"entry_id", b"group", b"reason")  # what ``dead_letter`` adds to an entry


async def dead_letters(redis: Any, *, before: str | None, limit: int) -> list[Entry]:
    """Dead letters newest first, those older than the entry id ``before`` when it is given."""
    rows = await redis.xrevrange(DEAD, max=f"({before}" if before else "+", min="-", count=limit)
    return [(DEAD, _text(i), f) for i, f in rows]


async def retry_dead_letter(redis: Any, letter_id: str) -> tuple[str, str] | None:
    """Put a dead letter back on the stream it was read from, as it was, and out of the dead letters, both
    or neither; return ``(stream, new entry id)``, or None when there is no such letter."""
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(DEAD)  # another operator's retry or a new dead letter: read again
                found = await pipe.xrange(DEAD, letter_id, letter_id)
                stream = _text(found[0][1].get(b"stream", b"")) if found else ""
                if not stream.startswith(PREFIX):  # only ours are taken back
                    return None
                pipe.multi()
                pipe.xadd(
                    stream, {k: v for k, v in found[0][1].items() if k not in ORIGIN}, maxlen=MAXLEN, approximate=True
                )
                pipe.xdel(DEAD, letter_id)
                new_id, _ = await pipe.execute()
                return stream, _text(new_id)
            except WatchError:
                continue


async def discard_dead_letter(redis: Any, letter_id: str) -> bool:
    """Remove a dead letter; False when there was none."""
    return bool(await redis.xdel(DEAD, letter_id))
