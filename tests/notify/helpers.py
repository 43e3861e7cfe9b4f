"""Driving the notification jobs in a test, a webhook receiver on loopback, and common steps."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from api.kernel import outbox
from notify import catalogue, jobs, service, streams
from notify.deliver import Deliverer
from notify.expand import Expander
from tests.auth.helpers import auth, sms_login, wechat_login


class Pipeline:
    """Relay, expansion, requeue and delivery of one process, run until nothing moves."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.expander = Expander(state)
        self.deliverer = Deliverer(state)
        self.publish = streams.publisher(state.redis, topics=catalogue.TOPICS)

    async def drain(self, *, now: datetime | None = None) -> None:
        """Run every stage until two rounds in a row move nothing; ``now`` pins the jobs' clock."""
        self.state.clock = (lambda: now) if now else None
        idle = 0
        while idle < 2:
            moved = await outbox.relay_once(self.state.pool, self.publish, limit=1000)
            moved += await self.expander.step(block_ms=1)
            moved += await jobs.requeue_due(self.state)
            moved += await self.deliverer.step(block_ms=1)
            while self.deliverer.tasks:
                await asyncio.gather(*list(self.deliverer.tasks))
            moved += await self.deliverer.record_waiting()
            idle = 0 if moved else idle + 1

    async def close(self) -> None:
        await self.deliverer.senders.aclose()


@dataclass
class Receiver:
    """A department system's webhook endpoint: records what arrives, answers ``status``."""

    url: str
    secret: str = ""
    status: list[int] = field(default_factory=lambda: [204])  # answers in turn; the last one repeats
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0  # seconds each answer takes

    def verified(self) -> list[dict[str, Any]]:
        """The bodies whose signature checks out with ``secret`` (all of them, or the test fails)."""
        import msgspec

        with self.lock:
            got = list(self.received)
        now = datetime.now(UTC)
        assert all(service.verify_webhook(self.secret, h, b, now=now) for h, b in got), "a signature did not verify"
        return [msgspec.json.decode(b) | {"_id": h["webhook-id"]} for h, b in got]


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections beyond it: a real endpoint accepts more
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold the stop


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/zhangban")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as department systems answer

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if receiver.delay:
                time.sleep(receiver.delay)
            with receiver.lock:
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.status.pop(0) if len(receiver.status) > 1 else receiver.status[0]
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


async def inbox(client: AsyncTestClient, token: str, **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/v1/notifications", headers=auth(token), params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def add_webhook(client: AsyncTestClient, token: str, receiver: Receiver, events: list[str]) -> dict[str, Any]:
    r = await client.post("/v1/dept/webhooks", json={"url": receiver.url, "events": events}, headers=auth(token))
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    return r.json()


# Every notification: a person's inbox and the rest (an account's without a person, a department's).
EVERY_NOTIFICATION = "(SELECT * FROM notify_notification UNION ALL SELECT * FROM notify_other_notification) n"


async def deliveries(conn: asyncpg.Connection, channel: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT d.*, n.kind FROM notify_delivery d JOIN {EVERY_NOTIFICATION} ON n.id = d.notification_id"
        " WHERE $1::text IS NULL OR d.channel = $1 ORDER BY d.created_at, d.id",
        channel,
    )


async def attested(
    client: AsyncTestClient, clerk: str, pair: dict[str, Any], *, name: str, id_number: str
) -> dict[str, Any]:
    """The login of ``pair`` after a window clerk saw the person and their ID card (L3): a fresh TokenPair.

    ``tests.people.citizen`` does the same for a login of its own choosing; these tests need to know
    the phone (to read its texts) or to start from a WeChat login.
    """
    r = await client.post(
        "/v1/auth/realname/sessions",
        headers=auth(pair["access_token"]),
        json={"name": name, "id_number": id_number, "method": "counter"},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/dept/realname/attest",
        json={"session_id": r.json()["session_id"], "id_number": id_number},
        headers=auth(clerk),
    )
    assert r.status_code == 200, r.text
    r = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200, r.text
    return r.json()


async def app_citizen(client: AsyncTestClient, clerk: str, *, phone: str, name: str, id_number: str) -> dict[str, Any]:
    """An app user (SMS login on ``phone``) who proved who they are at a service window (L3)."""
    return await attested(client, clerk, await sms_login(client, phone), name=name, id_number=id_number)


async def texts(client: AsyncTestClient, phone: str) -> list[str]:
    """SMS texts the sink provider kept for ``phone``, oldest first, login codes left out."""
    r = await client.get("/v1/dev/sms", params={"phone": phone})
    assert r.status_code == 200, r.text
    return [m["text"] for m in reversed(r.json()["items"]) if "验证码" not in m["text"]]


async def wechat_citizen(client: AsyncTestClient, sim: Any, clerk: str, *, name: str, id_number: str) -> dict[str, Any]:
    """A mini-program user who proved who they are at a service window (L3): TokenPair plus ``openid``."""
    pair = await wechat_login(client, sim)
    return await attested(client, clerk, pair, name=name, id_number=id_number) | {"openid": pair["openid"]}


async def register_templates(sim: Any, **keys: list[str]) -> None:
    """Tell the simulator our subscribe-message templates (their WeChat ids and keys)."""
    from notify import catalogue

    for t in catalogue.WECHAT_TEMPLATES.values():
        r = await sim.post(
            "/_sim/templates", json={"template_id": t.default_id, "keys": keys.get(t.key, [k for k, _ in t.fields])}
        )
        assert r.status_code == 200, r.text


async def sim_messages(sim: Any, openid: str) -> list[dict[str, Any]]:
    r = await sim.get("/_sim/messages", params={"touser": openid})
    assert r.status_code == 200, r.text
    return r.json()["messages"]
