"""The live channel over a WebSocket, for mini-programs (``wx.connectSocket``) and apps.

The same events as ``GET /v1/notifications/stream`` (:func:`notify.live.events` makes both), one JSON
text frame each:

- ``{"event": "notification", "id": "<notification id>", "data": {...the inbox item}}``
- ``{"event": "sync", "data": {"version": <n>}}`` — the change log moved: pull ``/v1/sync/pull``
- ``{"event": "ping"}`` — the heartbeat, every ``ZB_NOTIFY_HEARTBEAT_SECONDS``

The caller is named by ``?ticket=`` (from ``POST /v1/notifications/stream-tickets``, spent by the
first socket or stream that uses it) or by an ``Authorization`` header. ``?last_event_id=`` replays
the notifications after that one first. Frames the client sends are read and ignored (a client may
send its own keep-alive). Close codes: 4401 no valid ticket or token (the socket is accepted first so
that the client can see the code), 1012 the server is restarting (reconnect with a new ticket and the
last event id), 1011 the server's live feed broke (the same).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from uuid import UUID

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.response import ServerSentEventMessage

from api.kernel.problems import Problem
from auth import Principal, authenticate
from notify import live

PATH = "/v1/notifications/socket"
UNAUTHORIZED = 4401
RESTARTING = 1012
FEED_BROKEN = 1011


DESCRIPTION = f"""\
**The live channel over a WebSocket** (`wx.connectSocket`, a browser's `WebSocket`): \
`GET {PATH}?ticket=<ticket>[&last_event_id=<notification id>]` upgraded to a WebSocket (an app may send \
`Authorization: Bearer` instead of the ticket). The server sends the events of `GET /v1/notifications/stream`, \
one JSON text frame each:

- `{{"event": "notification", "id": "<notification id>", "data": {{...the inbox item, as in GET /v1/notifications}}}}`
- `{{"event": "sync", "data": {{"version": <n>}}}}`: the change log moved; pull `/v1/sync/pull`. One comes right \
after the replay, saying where the change log stands.
- `{{"event": "ping"}}`: the heartbeat, every `ZB_NOTIFY_HEARTBEAT_SECONDS` (15 s by default).

`last_event_id` (the `id` of the last notification frame the client saw) replays the notifications after it \
first, as `Last-Event-ID` does for the stream. Frames the client sends are read and ignored. Close codes: \
`4401` (reason `unauthorized`) no valid ticket or token: a spent, unknown or expired ticket (the socket is \
accepted first so that the client sees the code); `1012` (reason `restarting`) the server is stopping; `1011` \
its live feed broke. After `1012` or `1011`, or when the platform closed the socket (a mini-program in the \
background), open a new one with a new ticket and the last event id."""


class Frame(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    event: str
    id: str | None = None
    data: msgspec.Raw | None = None


_encode = msgspec.json.Encoder().encode


def frame(message: ServerSentEventMessage) -> str | None:
    """One SSE message of :func:`live.events` as a socket frame (a comment is the heartbeat; a
    reconnection hint has no frame: the close code says it)."""
    if message.event is None:
        return None if message.retry is not None else _encode(Frame(event="ping")).decode()
    data = message.data if isinstance(message.data, str) else None
    event_id = None if message.id is None else str(message.id)  # live.events sets text ids
    return _encode(Frame(event=message.event, id=event_id, data=msgspec.Raw(data) if data else None)).decode()


async def _caller(socket: WebSocket, redis: Any) -> Principal | None:
    try:
        principal = await authenticate(socket, required=False)
    except Problem:
        return None
    ticket = socket.query_params.get("ticket")
    if principal is None and ticket and len(ticket) <= 64:
        principal = await live.redeem_ticket(redis, ticket)
    return principal if principal is not None and principal.account_id is not None else None


def _resume(socket: WebSocket) -> UUID | None:
    try:
        return UUID(socket.query_params.get("last_event_id") or "") or None
    except ValueError:
        return None  # not one of our ids: nothing to replay


@websocket(PATH, name="notification-socket")
async def notification_socket(socket: WebSocket) -> None:
    state = socket.app.state
    principal = await _caller(socket, state.redis)
    await socket.accept()
    if principal is None:
        await socket.close(code=UNAUTHORIZED, reason="unauthorized")
        return
    async with live.hub_of(state).connection():  # a stopping server waits for the close frame below
        await _serve(socket, state, principal)


async def _serve(socket: WebSocket, state: Any, principal: Principal) -> None:
    # _caller admits accounts only.
    events = live.events(
        state,
        person_id=principal.person_id,
        account_id=principal.require_account(),
        last_event_id=_resume(socket),
        heartbeat=state.settings.notify_heartbeat_seconds,
    )

    async def send() -> int:
        async for message in events:
            text = frame(message)
            if text is not None:
                await socket.send_text(text)
        return RESTARTING if getattr(live.hub_of(state), "stopping", False) else FEED_BROKEN

    sender = asyncio.create_task(send())
    receiver = asyncio.create_task(_drain(socket))
    done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    for task in (sender, receiver):
        if task not in done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    await events.aclose()
    if sender in done and sender.exception() is None:
        with contextlib.suppress(Exception):  # the client may be gone already
            await socket.close(code=sender.result(), reason="restarting" if sender.result() == RESTARTING else "")


async def _drain(socket: WebSocket) -> None:
    """Read what the client sends until it goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while (await socket.receive())["type"] != "websocket.disconnect":
            pass
