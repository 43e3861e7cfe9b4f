"""Department webhooks over real HTTP: registration, Standard Webhooks signatures, retries, visibility."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import msgspec
import pytest
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from api.app import close_resources, create_app, open_resources
from api.config import Settings
from tests.auth.helpers import assert_problem, auth
from tests.matters.test_applications import MOTHER, maternity_allowance
from tests.notify.helpers import Pipeline, Receiver, add_webhook, deliveries
from tests.people import citizen, department_id, staff


async def _submit(client: AsyncTestClient, clerk: str) -> dict:
    me = await citizen(client, clerk, name="王芳", id_number=MOTHER)
    r = await client.post("/v1/applications", json=maternity_allowance(), headers=auth(me["access_token"]))
    assert r.status_code == 201, r.text
    return r.json()


async def test_registering_an_endpoint(client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str) -> None:
    admin = auth(await staff(client, op, conn, "yibao", ["dept_admin"]))
    body = {"url": "https://hooks.example.cn/zhangban", "events": ["task.assigned", "task.overdue", "task.assigned"]}
    r = await client.post("/v1/dept/webhooks", json=body, headers=admin | {"Idempotency-Key": "hook-1"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) == 6 + 44
    again = await client.post("/v1/dept/webhooks", json=body, headers=admin | {"Idempotency-Key": "hook-1"})
    assert again.status_code == 201 and again.json() == created and again.headers["idempotent-replayed"] == "true"
    other = await client.post(
        "/v1/dept/webhooks", json=body | {"events": ["task.overdue"]}, headers=admin | {"Idempotency-Key": "hook-1"}
    )
    assert_problem(other, 422, "idempotency_key_reused")
    # The secret is sealed at rest, and the replayable answer does not hold it either.
    raw = await conn.fetch("SELECT secret FROM notify_webhook UNION ALL SELECT response_body FROM idempotency_key")
    assert created["secret"].encode() not in b"".join(bytes(r[0]) for r in raw)

    listed = (await client.get("/v1/dept/webhooks", headers=admin)).json()["items"]
    assert [(w["id"], w["events"], w["disabled_at"]) for w in listed] == [
        (created["id"], ["task.assigned", "task.overdue"], None)
    ]

    for url in (
        "http://hooks.example.cn/x",
        "ftp://127.0.0.1/x",
        "https://user:pw@hooks.example.cn/",
        "/relative",
        "https://hooks.example.cn:99999/",
    ):
        assert_problem(
            await client.post("/v1/dept/webhooks", json={"url": url, "events": ["task.assigned"]}, headers=admin),
            422,
            "webhook_url_invalid",
        )
    bad = assert_problem(
        await client.post(
            "/v1/dept/webhooks", json={"url": body["url"], "events": ["application.received"]}, headers=admin
        ),
        422,
        "webhook_events_invalid",
    )
    assert bad["errors"][0]["field"] == "events[0]"
    assert_problem(
        await client.post("/v1/dept/webhooks", json={"url": body["url"], "events": []}, headers=admin),
        422,
        "validation_failed",
    )
    approver = auth(await staff(client, op, conn, "yibao", ["approver"]))
    assert_problem(await client.post("/v1/dept/webhooks", json=body, headers=approver), 403, "forbidden")
    me = await citizen(client, clerk, name="王芳", id_number=MOTHER)
    assert_problem(await client.get("/v1/dept/webhooks", headers=auth(me["access_token"])), 403, "forbidden")
    # Another department cannot see or touch it.
    gongan = auth(await staff(client, op, conn, "gongan", ["dept_admin"]))
    assert_problem(
        await client.get(f"/v1/dept/webhooks/{created['id']}/deliveries", headers=gongan), 404, "webhook_not_found"
    )
    assert_problem(await client.delete(f"/v1/dept/webhooks/{created['id']}", headers=gongan), 404, "webhook_not_found")
    assert (await client.delete(f"/v1/dept/webhooks/{created['id']}", headers=admin)).status_code == 204


async def test_a_department_system_with_the_scope_may_register(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    dept = await department_id(conn, "yibao")
    r = await client.post(
        f"/v1/admin/departments/{dept}/clients",
        json={"name": "医保业务系统", "scopes": ["webhooks:manage"]},
        headers=auth(op),
    )
    assert r.status_code == 201, r.text
    c = r.json()
    token = (
        await client.post(
            "/v1/auth/token",
            json={"grant_type": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"]},
        )
    ).json()["access_token"]
    r = await client.post(
        "/v1/dept/webhooks",
        json={"url": "https://yibao.example.cn/hooks", "events": ["task.assigned"]},
        headers=auth(token),
    )
    assert r.status_code == 201, r.text


async def test_events_arrive_signed_at_the_department_that_subscribed(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, pipeline: Pipeline, receiver: Receiver
) -> None:
    yibao = auth(await staff(client, op, conn, "yibao", ["dept_admin"]))
    hook = await add_webhook(client, yibao["Authorization"].split()[1], receiver, ["task.assigned"])
    gongan_receiver = Receiver(url=receiver.url.replace("/hooks/", "/other/"))
    app = await _submit(client, clerk)
    await pipeline.drain()
    [event] = receiver.verified()
    assert event["type"] == "task.assigned" and event["_id"].startswith("msg_")
    assert event["data"] == {
        "application_id": app["id"],
        "task_id": app["tasks"][0]["id"],
        "matter_code": "430200-YB-003",
        "department_id": await department_id(conn, "yibao"),
        "status": "pending",
    }
    assert datetime.fromisoformat(event["timestamp"]) <= datetime.now(UTC)
    assert gongan_receiver.received == []
    page = (await client.get(f"/v1/dept/webhooks/{hook['id']}/deliveries", headers=yibao)).json()
    assert [(d["event"], d["status"], d["attempts"], d["message_id"]) for d in page["items"]] == [
        ("task.assigned", "delivered", 1, event["_id"])
    ]


async def test_5xx_and_429_are_retried_with_backoff_under_the_same_id(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, pipeline: Pipeline, receiver: Receiver
) -> None:
    receiver.status = [500, 429, 204]
    yibao = auth(await staff(client, op, conn, "yibao", ["dept_admin"]))
    hook = await add_webhook(client, yibao["Authorization"].split()[1], receiver, ["task.assigned"])
    await _submit(client, clerk)
    t0 = datetime.now(UTC)
    await pipeline.drain(now=t0)
    [row] = await deliveries(conn, "webhook")
    assert row["status"] == "sending" and timedelta(seconds=4) <= row["not_before"] - t0 <= timedelta(seconds=6)
    await pipeline.drain(now=t0 + timedelta(seconds=3))  # not due yet
    assert len(receiver.received) == 1
    await pipeline.drain(now=t0 + timedelta(seconds=7))
    [row] = await deliveries(conn, "webhook")
    assert row["status"] == "sending" and timedelta(seconds=16) <= row["not_before"] - t0 - timedelta(
        seconds=7
    ) <= timedelta(seconds=24)
    await pipeline.drain(now=t0 + timedelta(seconds=40))
    ids = {e["_id"] for e in receiver.verified()}
    assert len(receiver.received) == 3 and len(ids) == 1
    page = (await client.get(f"/v1/dept/webhooks/{hook['id']}/deliveries", headers=yibao)).json()["items"]
    assert (page[0]["status"], page[0]["attempts"]) == ("delivered", 3)
    outcomes = await conn.fetch(
        "SELECT outcome, detail FROM notify_attempt WHERE delivery_id = $1 ORDER BY attempt", row["id"]
    )
    assert [(o["outcome"], o["detail"]) for o in outcomes] == [
        ("retry", "http 500"),
        ("retry", "http 429"),
        ("delivered", "http 204"),
    ]


async def test_a_4xx_is_final_and_eight_failures_end_as_failed_and_visible(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, pipeline: Pipeline, receiver: Receiver
) -> None:
    yibao = auth(await staff(client, op, conn, "yibao", ["dept_admin"]))
    token = yibao["Authorization"].split()[1]
    receiver.status = [410]
    gone = await add_webhook(client, token, receiver, ["task.assigned"])
    await _submit(client, clerk)
    await pipeline.drain()
    [row] = await deliveries(conn, "webhook")
    assert (row["status"], row["attempts"], row["reason"]) == ("permanent-failure", 1, "http 410")

    # An endpoint that is down: every attempt is refused, eight times over about six hours.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    await client.delete(f"/v1/dept/webhooks/{gone['id']}", headers=yibao)
    r = await client.post(
        "/v1/dept/webhooks",
        json={"url": f"http://127.0.0.1:{closed_port}/h", "events": ["task.assigned"]},
        headers=yibao,
    )
    down = r.json()
    await conn.execute(
        "DELETE FROM notify_attempt; DELETE FROM notify_delivery; DELETE FROM notify_other_notification;"
        " DELETE FROM notify_notification"
    )
    await _submit(client, clerk)
    t = datetime.now(UTC)
    for _ in range(10):
        await pipeline.drain(now=t)
        t += timedelta(hours=6, minutes=1)
    [row] = await deliveries(conn, "webhook")
    assert (row["status"], row["attempts"]) == ("temporary-failure", 8)
    assert row["reason"].startswith("network error")
    page = (await client.get(f"/v1/dept/webhooks/{down['id']}/deliveries", headers=yibao)).json()["items"]
    assert (page[0]["status"], page[0]["attempts"], page[0]["next_attempt_at"]) == ("temporary-failure", 8, None)
    assert await conn.fetchval("SELECT count(*) FROM notify_attempt WHERE outcome = 'retry'") == 7


async def test_a_disabled_endpoint_gets_nothing_more(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, pipeline: Pipeline, receiver: Receiver
) -> None:
    yibao = auth(await staff(client, op, conn, "yibao", ["dept_admin"]))
    hook = await add_webhook(client, yibao["Authorization"].split()[1], receiver, ["task.assigned"])
    assert (await client.delete(f"/v1/dept/webhooks/{hook['id']}", headers=yibao)).status_code == 204
    await _submit(client, clerk)
    await pipeline.drain()
    assert receiver.received == [] and await deliveries(conn, "webhook") == []


# --- where webhooks may point --------------------------------------------------------------------


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    """The app as production checks webhooks: https to public addresses only."""
    checked = msgspec.structs.replace(settings, webhook_allow_private=False)
    async with AsyncTestClient(app=create_app(checked), base_url="http://testserver.local") as c:
        yield c


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "https://10.0.0.8/hooks",
        "https://192.168.1.20/hooks",
        "https://172.16.5.4/hooks",
        "https://100.64.0.1/hooks",
        "https://127.0.0.1:8443/hooks",
        "https://[::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://[::ffff:10.0.0.8]/hooks",
        "https://0.0.0.0/hooks",
        "https://localhost/hooks",
    ],
)
async def test_a_webhook_must_lead_to_a_public_address(
    strict: AsyncTestClient, op: str, conn: asyncpg.Connection, url: str
) -> None:
    admin = auth(await staff(strict, op, conn, "yibao", ["dept_admin"]))
    body = assert_problem(
        await strict.post("/v1/dept/webhooks", json={"url": url, "events": ["task.assigned"]}, headers=admin),
        422,
        "webhook_url_not_public",
    )
    assert body["errors"][0]["field"] == "url"
    assert await conn.fetchval("SELECT count(*) FROM notify_webhook") == 0


async def test_a_name_is_resolved_and_checked_and_http_is_refused(
    strict: AsyncTestClient, op: str, conn: asyncpg.Connection, receiver: Receiver
) -> None:
    admin = auth(await staff(strict, op, conn, "yibao", ["dept_admin"]))

    async def register(url: str) -> httpx.Response:
        return await strict.post("/v1/dept/webhooks", json={"url": url, "events": ["task.assigned"]}, headers=admin)

    # localhost.localdomain is a name like any other; it resolves to loopback (the hosts file).
    hostname = next((n for n in ("localhost.localdomain", "ip6-localhost", "localhost") if _resolves(n)), "localhost")
    assert_problem(await register(f"https://{hostname}:8443/hooks"), 422, "webhook_url_not_public")
    assert_problem(await register("https://no-such-host.invalid/hooks"), 422, "webhook_url_invalid")
    # The local receiver the development tests use is refused here: plain http, and loopback.
    assert_problem(await register(receiver.url), 422, "webhook_url_invalid")
    assert_problem(await register(receiver.url.replace("http://", "https://")), 422, "webhook_url_not_public")
    r = await register("https://93.184.215.14/zhangban")  # a public address: accepted, nothing is sent yet
    assert r.status_code == 201, r.text


def _resolves(name: str) -> bool:
    try:
        socket.getaddrinfo(name, 443)
    except OSError:
        return False
    return True


async def test_each_delivery_checks_the_address_it_connects_to(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, settings: Settings, receiver: Receiver
) -> None:
    """Registered while the name led to a public address; by delivery its DNS answers a private one."""
    yibao = auth(await staff(client, op, conn, "yibao", ["dept_admin"]))
    moved = Receiver(url=receiver.url.replace("127.0.0.1", "localhost"))
    hook = await add_webhook(client, yibao["Authorization"].split()[1], moved, ["task.assigned"])
    state = State()
    await open_resources(state, msgspec.structs.replace(settings, webhook_allow_private=False))
    pipeline = Pipeline(state)
    try:
        await _submit(client, clerk)
        await pipeline.drain()
    finally:
        await pipeline.close()
        await close_resources(state, None)
    assert receiver.received == []  # nothing reached the address inside the network
    [row] = await deliveries(conn, "webhook")
    assert (row["status"], row["reason"]) == ("permanent-failure", "the endpoint's address is not public")
    page = (await client.get(f"/v1/dept/webhooks/{hook['id']}/deliveries", headers=yibao)).json()["items"]
    assert (page[0]["status"], page[0]["reason"]) == ("permanent-failure", "the endpoint's address is not public")


async def test_a_failed_delivery_does_not_say_what_answered(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, pipeline: Pipeline
) -> None:
    """Refused, reset or timed out: the department reads "network error", nothing it could map a network with."""
    yibao = auth(await staff(client, op, conn, "yibao", ["dept_admin"]))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    r = await client.post(
        "/v1/dept/webhooks",
        json={"url": f"http://127.0.0.1:{closed_port}/h", "events": ["task.assigned"]},
        headers=yibao,
    )
    hook = r.json()
    await _submit(client, clerk)
    await pipeline.drain()
    page = (await client.get(f"/v1/dept/webhooks/{hook['id']}/deliveries", headers=yibao)).json()["items"]
    assert page[0]["reason"] == "network error"
    [webhook] = await deliveries(conn, "webhook")
    assert (
        await conn.fetchval("SELECT detail FROM notify_attempt WHERE delivery_id = $1", webhook["id"])
        == "network error"
    )
