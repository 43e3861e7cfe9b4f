"""Live push: new inbox items and sync pokes to every connected device, across server processes.

Whoever writes inbox items publishes them on the owner's Redis pub/sub channel (a person's, or an
account's when it has no person), when some process marked the channel as listened to. Every server process holds one subscription connection (the
:class:`Hub`), shared by all event streams open in it, so a device connected to any process hears
what any process or worker wrote. Pub/sub may drop messages (a reconnect); the stream's replay
from the database on ``Last-Event-ID`` and the change log cover that.

On a Redis Cluster the channels are shard channels (``SPUBLISH``/``SSUBSCRIBE``, Redis 7): a message
goes to the one master owning the channel's slot instead of every node, and each channel carries its
person's (or account's) hash tag, so a channel and its listened-to mark share a slot. One server
keeps plain ``PUBLISH``/``SUBSCRIBE``, which every Redis has (the embedded one is 6.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any
from uuid import UUID

import msgspec
from litestar.response import ServerSentEventMessage

from api.kernel import changelog, redis_client
from auth import Principal
from notify import store
from notify.models import Notification, NotificationRow

log = logging.getLogger("zhangban.notify")

QUEUE_SIZE = 256
# The ``retry:`` hint a stream ends with when the server stops or the subscription breaks: the
# client's EventSource reconnects after this many milliseconds (to the restarted or another process).
RECONNECT_AFTER_MS = 2000
# A process marks each channel it listens on (refreshed while it does); writers publish only to
# marked channels, so a bulk send to a hundred thousand people offline publishes nothing.
HERE_TTL = 90
HERE_REFRESH = 30.0
# How long the pump waits for a message per round (seconds). A cluster's reader polls one connection
# per master and holds each while it waits, which delays a new subscription there: a shorter round.
POLL = {False: 1.0, True: 0.3}


def _here(name: str) -> str:
    return f"zb:notify:here:{name}"


# --- stream tickets: browsers' EventSource cannot send an Authorization header -----------------------

TICKET_TTL = 60


def _ticket(ticket: str) -> str:
    return f"zb:notify:ticket:{ticket}"


async def open_ticket(redis: Any, principal: Principal) -> str:
    """A one-time ticket standing for ``principal`` at ``GET /v1/notifications/stream`` for a minute."""
    ticket = secrets.token_urlsafe(24)
    await redis.set(_ticket(ticket), msgspec.json.encode(principal), ex=TICKET_TTL)
    return ticket


async def redeem_ticket(redis: Any, ticket: str) -> Principal | None:
    """The principal a ticket stands for, once (None when unknown, used or expired)."""
    raw = await redis.getdel(_ticket(ticket))  # one key, one command: atomic on a cluster too
    return None if raw is None else msgspec.json.decode(raw, type=Principal)


def channel(person_id: UUID | None, account_id: UUID | None) -> str:
    """The owner's channel; the braces are its hash tag (one slot per person or account on a cluster)."""
    return f"zb:notify:live:{{p:{person_id}}}" if person_id else f"zb:notify:live:{{a:{account_id}}}"


def _publish(redis: Any, name: str, message: bytes, *, sharded: bool) -> Any:
    """``SPUBLISH`` on a cluster (to the channel's shard only), ``PUBLISH`` on one server; ``redis`` may
    be a pipeline of either."""
    return redis.spublish(name, message) if sharded else redis.publish(name, message)


async def _marks(redis: Any, keys: list[str]) -> list[Any]:
    """The values of ``keys``: one ``MGET``, or one per node on a cluster (the keys span slots)."""
    return await (redis.mget_nonatomic(keys) if redis_client.is_cluster(redis) else redis.mget(keys))


async def poke_new(
    redis: Any, rows: Sequence[NotificationRow], views: Sequence[Notification], versions: dict[UUID, int]
) -> None:
    """Publish each new inbox item to its owner's channel (if anyone listens), with the new sync version."""
    if not rows:
        return
    names = [channel(row.person_id, row.account_id) for row in rows]
    listened = {name for name, mark in zip(names, await _marks(redis, [_here(n) for n in names]), strict=True) if mark}
    if not listened:
        return
    sharded = redis_client.is_cluster(redis)
    async with redis.pipeline(transaction=False) as pipe:
        for name, row, view in zip(names, rows, views, strict=True):
            if name in listened:
                message = {"t": "n", "n": view, "v": versions.get(row.person_id) if row.person_id else None}
                _publish(pipe, name, msgspec.json.encode(message), sharded=sharded)
        await pipe.execute()


async def poke_sync(redis: Any, person_id: UUID, version: int) -> None:
    """Tell the person's devices that their change log moved (they pull ``/v1/sync/pull``)."""
    await _publish(
        redis,
        channel(person_id, None),
        msgspec.json.encode({"t": "s", "v": version}),
        sharded=redis_client.is_cluster(redis),
    )


class Hub:
    """One pub/sub connection per process; each open stream listens through a queue.

    The connection opens with the first listener and closes with the last, so an idle process
    holds none and a shutdown leaves nothing running.
    """

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.sharded = redis_client.is_cluster(redis)
        self.queues: dict[str, set[asyncio.Queue[bytes | None]]] = {}
        self.pubsub: Any = None
        self.pump: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        self.stopping = False
        # Streams and sockets still open: a stopping process waits for them to say goodbye (the
        # stream's ``retry:`` hint, the socket's close frame) before the server drops connections.
        self.open = 0
        self.all_closed = asyncio.Event()
        self.all_closed.set()

    def end_all(self) -> None:
        """The process is stopping: every open stream ends (with a ``retry:`` hint), new ones at once."""
        self.stopping = True
        for listeners in list(self.queues.values()):
            for queue in listeners:
                _put_end(queue)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        """Count a stream or socket as open until it has sent its last word."""
        self.open += 1
        self.all_closed.clear()
        try:
            yield
        finally:
            self.open -= 1
            if self.open == 0:
                self.all_closed.set()

    async def closed(self, timeout: float) -> bool:
        """Wait (up to ``timeout`` seconds) until every stream and socket of this process has ended."""
        try:
            async with asyncio.timeout(timeout):
                await self.all_closed.wait()
        except TimeoutError:
            return False
        return True

    @contextlib.asynccontextmanager
    async def listen(self, channels: list[str]) -> AsyncIterator[asyncio.Queue[bytes | None]]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SIZE)
        async with self.lock:
            new = [c for c in channels if c not in self.queues]
            for c in channels:
                self.queues.setdefault(c, set()).add(queue)
            if self.pubsub is None:
                self.pubsub = self.redis.pubsub()
            if new:
                await (self.pubsub.ssubscribe if self.sharded else self.pubsub.subscribe)(*new)
                await self._mark(new)
            if self.pump is None or self.pump.done():
                self.pump = asyncio.create_task(self._pump(self.pubsub), name="notify:live-hub")
        try:
            yield queue
        finally:
            async with self.lock:
                gone = []
                for c in channels:
                    listeners = self.queues.get(c, set())
                    listeners.discard(queue)
                    if not listeners:
                        self.queues.pop(c, None)
                        gone.append(c)
                await self._close_idle(gone)

    async def _close_idle(self, gone: list[str]) -> None:
        with contextlib.suppress(Exception):  # a broken connection is closed below anyway
            if gone and self.queues:
                await (self.pubsub.sunsubscribe if self.sharded else self.pubsub.unsubscribe)(*gone)
        if not self.queues and self.pubsub is not None:
            if self.pump is not None:
                self.pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.pump
            with contextlib.suppress(Exception):
                await self.pubsub.aclose()
            self.pubsub, self.pump = None, None

    async def _mark(self, channels: list[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in channels:
                pipe.set(_here(name), 1, ex=HERE_TTL)
            await pipe.execute()

    async def _pump(self, pubsub: Any) -> None:
        read = pubsub.get_sharded_message if self.sharded else pubsub.get_message
        marked = time.monotonic()
        try:
            while True:
                if time.monotonic() - marked > HERE_REFRESH:
                    marked = time.monotonic()
                    await self._mark(list(self.queues))
                message = await read(ignore_subscribe_messages=True, timeout=POLL[self.sharded])
                if message is None:
                    continue
                name = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
                for queue in list(self.queues.get(name, ())):
                    with contextlib.suppress(asyncio.QueueFull):  # a stalled reader loses pokes, not the process
                        queue.put_nowait(message["data"])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("live push subscription failed", exc_info=True)
            for listeners in list(self.queues.values()):
                for queue in listeners:
                    _put_end(queue)


def _put_end(queue: asyncio.Queue[bytes | None]) -> None:
    """Tell a stream to end, even when its queue is full (it loses a poke it would replay anyway)."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(None)


def end_streams(state: Any) -> None:
    """End every live stream of this process, each with a ``retry:`` hint (on SIGTERM: see api/app.py)."""
    hub_of(state).end_all()


async def say_goodbye(state: Any, timeout: float) -> bool:
    """End every stream and socket of this process and wait (up to ``timeout`` seconds) until each has
    sent its last word: the stream's ``retry:`` hint, the socket's close frame 1012. False on timeout."""
    hub = hub_of(state)
    hub.end_all()
    return await hub.closed(timeout)


def hub_of(state: Any) -> Hub:
    hub = state.get("notify_hub")
    if hub is None:
        hub = state.notify_hub = Hub(state.redis)
    return hub


def _notification_message(view: Any) -> ServerSentEventMessage:
    data = view if isinstance(view, dict) else msgspec.to_builtins(view)
    return ServerSentEventMessage(id=str(data["id"]), event="notification", data=msgspec.json.encode(data).decode())


def _reconnect_message() -> ServerSentEventMessage:
    return ServerSentEventMessage(data=None, comment="reconnect", retry=RECONNECT_AFTER_MS)


def _sync_message(version: int) -> ServerSentEventMessage:
    return ServerSentEventMessage(event="sync", data=msgspec.json.encode({"version": version}).decode())


async def events(
    state: Any, *, person_id: UUID | None, account_id: UUID, last_event_id: UUID | None, heartbeat: float
) -> AsyncGenerator[ServerSentEventMessage, None]:
    """The event stream of one device: replay after ``last_event_id``, then live items, heartbeats
    (a comment line, so proxies keep the connection) and ``sync`` pokes when the change log moves."""
    channels = [channel(None, account_id)] + ([channel(person_id, None)] if person_id else [])
    seen: deque[str] = deque(maxlen=1024)
    hub = hub_of(state)
    # The generator's end comes after the consumer sent what it yielded last (the ``retry:`` hint).
    async with hub.connection(), hub.listen(channels) as queue:
        if hub.stopping:  # the process began to stop before this queue was there for end_all to reach
            yield _reconnect_message()
            return
        async with state.pool.acquire() as conn:
            missed = await store.inbox_after(conn, person_id, account_id, last_event_id) if last_event_id else []
            version = await changelog.head_version(conn, person_id) if person_id else 0
        for view in missed:
            seen.append(str(view.id))
            yield _notification_message(view)
        yield _sync_message(version)
        while True:
            try:
                raw = await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                yield ServerSentEventMessage(comment="ping", data=None)
                if person_id:
                    async with state.pool.acquire() as conn:
                        current = await changelog.head_version(conn, person_id)
                    if current != version:
                        version = current
                        yield _sync_message(version)
                continue
            if raw is None:
                # The process is stopping or the subscription broke: end the stream; the client
                # reconnects after the hint (with Last-Event-ID) and replays what it missed.
                yield _reconnect_message()
                return
            message = msgspec.json.decode(raw)
            if message.get("t") == "n" and message["n"]["id"] not in seen:
                seen.append(message["n"]["id"])
                yield _notification_message(message["n"])
            if message.get("v") and message["v"] > version:
                version = message["v"]
                yield _sync_message(version)
