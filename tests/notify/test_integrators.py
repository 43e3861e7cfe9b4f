"""What a department's integrators do with their webhooks, over real HTTP to a receiver on loopback:
replay a failed delivery, catch up on every event since a time, send a test event, rotate the secret
with an overlap in which both secrets sign. And a citizen's unread count and mark-all-read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from notify import service
from tests.auth.helpers import assert_problem, auth
from tests.matters.test_applications import MOTHER, maternity_allowance
from tests.notify.helpers import Pipeline, Receiver, add_webhook, inbox
from tests.people import citizen, staff
from tests.sync.helpers import apply, mutation, pull_all, pushed


async def _submit(client: AsyncTestClient, clerk: str) -> dict[str, Any]:
    me = await citizen(client, clerk, name="王芳", id_number=MOTHER)
    r = await client.post("/v1/applications", json=maternity_allowance(), headers=auth(me["access_token"]))
    assert r.status_code == 201, r.text
    return me


async def _deliveries(client: AsyncTestClient, headers: dict[str, str], hook_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/dept/webhooks/{hook_id}/deliveries", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    return service.verify_webhook(secret, headers, body, now=datetime.now(UTC))


async def test_a_failed_delivery_is_replayed_with_the_same_id(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, pipeline: Pipeline, receiver: Receiver
) -> None:
    token = await staff(client, op, conn, "yibao", ["dept_admin"])
    yibao = auth(token)
    hook = await add_webhook(client, token, receiver, ["task.assigned"])
    receiver.status = [410]  # the endpoint refuses: final at once, no retries
    await _submit(client, clerk)
    await pipeline.drain()
    [failed] = await _deliveries(client, yibao, hook["id"])
    assert (failed["status"], failed["attempts"], failed["reason"]) == ("permanent-failure", 1, "http 410")
    # Delivered, sending or unknown deliveries are not replayed; another department's webhook is not found.
    url = f"/v1/dept/webhooks/{hook['id']}/deliveries/{failed['id']}/replay"
    other = auth(await staff(client, op, conn, "gongan", ["dept_admin"]))
    assert_problem(await client.post(url, headers=other), 404, "webhook_not_found")
    assert_problem(
        await client.post(f"/v1/dept/webhooks/{hook['id']}/deliveries/{hook['id']}/replay", headers=yibao),
        404,
        "webhook_delivery_not_found",
    )
    assert_problem(
        await client.post(url, headers=auth(await staff(client, op, conn, "yibao", ["approver"]))), 403, "forbidden"
    )

    receiver.status = [204]
    r = await client.post(url, headers=yibao)
    assert r.status_code == 202, r.text
    assert (r.json()["id"], r.json()["status"], r.json()["message_id"]) == (
        failed["id"],
        "created",
        failed["message_id"],
    )
    await pipeline.drain()
    [done] = await _deliveries(client, yibao, hook["id"])
    assert (done["status"], done["attempts"], done["reason"]) == ("delivered", 2, "http 204")
    first, again = receiver.received
    assert first[0]["webhook-id"] == again[0]["webhook-id"] == failed["message_id"] and first[1] == again[1]
    assert _verifies(receiver.secret, *again)
    assert_problem(await client.post(url, headers=yibao), 409, "webhook_delivery_not_failed")
    actions = await conn.fetch("SELECT action FROM audit_log WHERE action LIKE 'notify.webhook%' ORDER BY seq")
    assert [a["action"] for a in actions][-1] == "notify.webhook_delivery_replayed"

    # A disabled webhook replays nothing.
    receiver.status = [410]
    await _submit(client, clerk)
    await pipeline.drain()
    newest = (await _deliveries(client, yibao, hook["id"]))[0]
    assert newest["status"] == "permanent-failure"
    assert (await client.delete(f"/v1/dept/webhooks/{hook['id']}", headers=yibao)).status_code == 204
    assert_problem(
        await client.post(f"/v1/dept/webhooks/{hook['id']}/deliveries/{newest['id']}/replay", headers=yibao),
        409,
        "webhook_disabled",
    )


async def test_every_event_since_a_time_as_the_webhook_sent_it(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, pipeline: Pipeline, receiver: Receiver
) -> None:
    token = await staff(client, op, conn, "yibao", ["dept_admin"])
    yibao = auth(token)
    await add_webhook(client, token, receiver, ["task.assigned"])
    start = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(3):
        await _submit(client, clerk)
    await pipeline.drain()
    sent = sorted(
        receiver.verified(), key=lambda s: s["_id"]
    )  # deliveries may arrive in any order; ids are in time order
    assert len(sent) == 3

    pages, cursor = [], None
    while True:
        params = {"since": start.isoformat(), "limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/v1/dept/events", params=params, headers=yibao)
        assert r.status_code == 200, r.text
        pages.append(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    events = [e for page in pages for e in page]
    assert [len(p) for p in pages] == [2, 1]
    # The same ids, types, times and data the endpoint received.
    assert [(e["id"], e["type"], e["data"]) for e in events] == [(s["_id"], s["type"], s["data"]) for s in sent]
    assert [datetime.fromisoformat(e["timestamp"]) for e in events] == [
        datetime.fromisoformat(s["timestamp"]) for s in sent
    ]
    # Nothing before a time after them; nothing of another department's; the time is required.
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert (await client.get("/v1/dept/events", params={"since": later}, headers=yibao)).json()["items"] == []
    gongan = auth(await staff(client, op, conn, "gongan", ["dept_admin"]))
    assert (await client.get("/v1/dept/events", params={"since": start.isoformat()}, headers=gongan)).json()[
        "items"
    ] == []
    assert_problem(await client.get("/v1/dept/events", headers=yibao), 400, "malformed_request")


async def test_a_test_event_reaches_the_endpoint_signed(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, pipeline: Pipeline, receiver: Receiver
) -> None:
    token = await staff(client, op, conn, "yibao", ["dept_admin"])
    yibao = auth(token)
    hook = await add_webhook(client, token, receiver, ["task.overdue"])
    r = await client.post(f"/v1/dept/webhooks/{hook['id']}/test", headers=yibao | {"Idempotency-Key": "test-1"})
    assert r.status_code == 202, r.text
    test_id = r.json()["test_id"]
    again = await client.post(f"/v1/dept/webhooks/{hook['id']}/test", headers=yibao | {"Idempotency-Key": "test-1"})
    assert again.status_code == 202 and again.json() == {"test_id": test_id}
    await pipeline.drain()
    [event] = receiver.verified()  # one event, though asked twice with one key
    assert event["type"] == "webhook.test"
    assert event["data"] == {
        "department_id": event["data"]["department_id"],
        "webhook_id": hook["id"],
        "test_id": test_id,
    }
    [delivery] = await _deliveries(client, yibao, hook["id"])
    assert (delivery["event"], delivery["status"], delivery["message_id"]) == (
        "webhook.test",
        "delivered",
        event["_id"],
    )
    other = auth(await staff(client, op, conn, "gongan", ["dept_admin"]))
    assert_problem(await client.post(f"/v1/dept/webhooks/{hook['id']}/test", headers=other), 404, "webhook_not_found")


async def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, worker_state: Any, receiver: Receiver
) -> None:
    token = await staff(client, op, conn, "yibao", ["dept_admin"])
    yibao = auth(token)
    hook = await add_webhook(client, token, receiver, ["task.overdue"])
    old = hook["secret"]
    url = f"/v1/dept/webhooks/{hook['id']}/rotate-secret"
    assert_problem(await client.post(url, json={"overlap_seconds": 10}, headers=yibao), 422, "validation_failed")
    r = await client.post(url, json={"overlap_seconds": 3600}, headers=yibao | {"Idempotency-Key": "rotate-1"})
    assert r.status_code == 200, r.text
    rotated = r.json()
    new = rotated["secret"]
    assert new.startswith("whsec_") and new != old
    until = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    # A retried rotation (its answer lost) rotates nothing more: the old secret still has its overlap.
    again = await client.post(url, json={"overlap_seconds": 3600}, headers=yibao | {"Idempotency-Key": "rotate-1"})
    assert again.json() == rotated

    async def send_test(now: datetime | None = None) -> tuple[dict[str, str], bytes]:
        r = await client.post(f"/v1/dept/webhooks/{hook['id']}/test", headers=yibao)
        assert r.status_code == 202, r.text
        p = Pipeline(worker_state)  # a fresh dispatcher: nothing it read before the rotation
        try:
            await p.drain(now=now)
        finally:
            await p.close()
        return receiver.received[-1]

    headers, body = await send_test()
    assert len(headers["webhook-signature"].split()) == 2
    assert _verifies(new, headers, body) and _verifies(old, headers, body)
    # Once the overlap is over, only the new secret signs.
    headers, body = await send_test(now=until + timedelta(seconds=1))
    assert len(headers["webhook-signature"].split()) == 1
    assert _verifies(new, headers, body) and not _verifies(old, headers, body)
    # Sealed at rest like the first secret; the rotation is audited.
    raw = await conn.fetch("SELECT secret, previous_secret FROM notify_webhook")
    assert all(new.encode() not in bytes(v) and old.encode() not in bytes(v) for row in raw for v in row if v)
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'notify.webhook_secret_rotated'") == 1
    assert (await client.delete(f"/v1/dept/webhooks/{hook['id']}", headers=yibao)).status_code == 204
    assert_problem(await client.post(url, headers=yibao), 409, "webhook_disabled")


async def test_unread_count_and_mark_all_read_reach_every_device(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, pipeline: Pipeline
) -> None:
    me = await _submit(client, clerk)
    token = me["access_token"]
    h = auth(token)
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    app = (await client.get("/v1/applications", headers=h)).json()["items"][0]
    task = (await client.get(f"/v1/applications/{app['id']}", headers=h)).json()["tasks"][0]["id"]
    r = await client.post(
        f"/v1/dept/tasks/{task}/request-supplement",
        headers=yibao,
        json={"required_materials": ["hospital_invoice"], "note": "请补充清晰的票据"},
    )
    assert r.status_code == 200, r.text
    await pipeline.drain()
    # The two steps of the application, and the alert of her proof at the window.
    assert (await client.get("/v1/notifications/unread-count", headers=h)).json() == {"unread": 3}
    _, cursor, _ = await pull_all(client, token)  # a second device, up to date

    items = await inbox(client, token)
    newest, older, oldest = items[0]["id"], items[1]["id"], items[2]["id"]
    # Up to the older item only: the newest stays unread.
    r = await client.post("/v1/notifications/read-all", json={"up_to": older}, headers=h)
    assert r.status_code == 200 and r.json() == {"marked": 2}
    assert (await client.get("/v1/notifications/unread-count", headers=h)).json() == {"unread": 1}
    r = await client.post("/v1/notifications/read-all", headers=h)
    assert r.status_code == 200 and r.json() == {"marked": 1}
    assert (await client.post("/v1/notifications/read-all", json={}, headers=h)).json() == {"marked": 0}
    assert (await client.get("/v1/notifications/unread-count", headers=h)).json() == {"unread": 0}
    assert all(i["read_at"] for i in await inbox(client, token))

    # The other device learns it from its next pull.
    changes, _, _ = await pull_all(client, token, cursor)
    state = apply({}, changes)
    assert {i for (e, i) in state if e == "notification"} == {newest, older, oldest}
    assert all(d["read_at"] for (e, _), d in state.items() if e == "notification")
    assert_problem(await client.get("/v1/notifications/unread-count"), 401, "unauthorized")


async def test_mark_all_read_made_offline(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, clerk: str, pipeline: Pipeline
) -> None:
    me = await _submit(client, clerk)
    token = me["access_token"]
    await pipeline.drain()
    assert (await client.get("/v1/notifications/unread-count", headers=auth(token))).json() == {"unread": 2}
    out = await pushed(client, token, str(uuid.uuid4()), [mutation(1, "notification.read_all", {})])
    assert [(r["status"], r["data"]) for r in out["results"]] == [("applied", {"marked": 2})]
    assert (await client.get("/v1/notifications/unread-count", headers=auth(token))).json() == {"unread": 0}
    state = apply({}, (await pull_all(client, token))[0])
    assert [d["read_at"] is not None for (e, _), d in state.items() if e == "notification"] == [True, True]
