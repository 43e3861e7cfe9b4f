"""The live channel over a WebSocket (mini-programs' wx.connectSocket): one-time tickets, the same
events as the SSE stream, resume by last event id, and a clean close when the server stops."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from notify.live import RECONNECT_AFTER_MS
from tests.auth.helpers import auth
from tests.notify.helpers import Pipeline
from tests.notify.test_live import _expiring, _servers, listening
from tests.people import citizen, id_number


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/v1/notifications/socket"


async def next_frame(ws: ClientConnection, event: str, seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The next frame of ``event`` (others are kept in ``seen``)."""
    async with asyncio.timeout(10):
        while True:
            got = msgspec.json.decode(await ws.recv())
            if seen is not None:
                seen.append(got)
            if got["event"] == event:
                return got


async def closed_with(ws: ClientConnection) -> int | None:
    async with asyncio.timeout(10):
        with pytest.raises(ConnectionClosed):
            while True:
                await ws.recv()
    return ws.close_code


async def test_a_mini_program_hears_the_stream_over_a_socket_opened_with_a_ticket(
    client: AsyncTestClient, clerk: str, database_url: str, redis_url: str, pool: asyncpg.Pool, pipeline: Pipeline
) -> None:
    me = await citizen(client, clerk, name="王芳", id_number=id_number("19920306", 9, male=False))
    person = me["account"]["person_id"]
    await pipeline.drain()  # the alert of her proof at the window comes before the socket opens

    async def ticket() -> str:
        r = await client.post("/v1/notifications/stream-tickets", headers=auth(me["access_token"]))
        assert r.status_code == 201, r.text
        return r.json()["ticket"]

    with _servers(database_url, redis_url, 1) as (one,):
        first = await ticket()
        async with connect(f"{ws_url(one)}?ticket={first}") as ws:
            frames: list[dict[str, Any]] = []
            sync = await next_frame(ws, "sync", frames)
            assert isinstance(sync["data"]["version"], int)
            await _expiring(pool, person, 41)
            await pipeline.drain()
            note = await next_frame(ws, "notification", frames)
            assert note["data"]["kind"] == "certificate.expiring" and note["id"] == note["data"]["id"]
            assert (await next_frame(ws, "sync", frames))["data"]["version"] > sync["data"]["version"]
            await next_frame(ws, "ping", frames)  # heartbeats every 0.5 s
            await ws.send("ping")  # what the client sends is read and ignored
            await next_frame(ws, "ping")

        # A spent ticket, an unknown one, or none at all: the socket is closed with 4401.
        for url in (f"{ws_url(one)}?ticket={first}", f"{ws_url(one)}?ticket=not-a-ticket", ws_url(one)):
            async with connect(url) as ws:
                assert await closed_with(ws) == 4401
                assert ws.close_reason == "unauthorized"
        # An app may send its access token instead of a ticket.
        async with connect(ws_url(one), additional_headers=auth(me["access_token"])) as ws:
            await next_frame(ws, "sync")

        # Offline a while (a mini-program's socket closes in the background): two notifications came.
        await _expiring(pool, person, 42)
        await _expiring(pool, person, 43)
        await pipeline.drain()
        async with connect(f"{ws_url(one)}?ticket={await ticket()}&last_event_id={note['id']}") as ws:
            frames = []
            await next_frame(ws, "sync", frames)
        replayed = [f for f in frames if f["event"] == "notification"]
        assert len(replayed) == 2 and note["id"] not in {f["id"] for f in replayed}
        assert frames[-1]["event"] == "sync"  # replay first, then where the change log stands


async def test_stopping_the_server_closes_its_sockets_and_streams(
    client: AsyncTestClient, clerk: str, database_url: str, redis_url: str
) -> None:
    me = await citizen(client, clerk, name="王芳", id_number=id_number("19920307", 1, male=False))
    with _servers(database_url, redis_url, 1, with_procs=True) as ((one,), (proc,)):
        r = await client.post("/v1/notifications/stream-tickets", headers=auth(me["access_token"]))
        async with (
            connect(f"{ws_url(one)}?ticket={r.json()['ticket']}") as ws,
            listening(one, me["access_token"]) as sse,
        ):
            await next_frame(ws, "sync")
            proc.send_signal(signal.SIGTERM)  # what systemd or a container runtime sends to the main process
            # The server says goodbye before it drops its connections: the socket closes with 1012
            # (service restart: reconnect with a new ticket and the last event id), not 1006 (no frame).
            assert await closed_with(ws) == 1012
            assert ws.close_reason == "restarting"
            async with asyncio.timeout(10):
                await sse.ended.wait()
            assert sse.log[-1] == {"retry": str(RECONNECT_AFTER_MS)}  # the stream's last words: when to come back
        assert await asyncio.to_thread(proc.wait, 30) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{one}/health", timeout=1)
