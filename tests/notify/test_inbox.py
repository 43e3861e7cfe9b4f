"""The in-app inbox through HTTP: every step of an application reaches the applicant, once."""

from __future__ import annotations

import uuid

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth
from tests.matters.test_applications import MOTHER, maternity_allowance
from tests.notify.helpers import EVERY_NOTIFICATION, Pipeline, inbox
from tests.people import citizen, id_number, staff


async def test_an_application_s_steps_reach_the_applicant_s_inbox(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    me = await citizen(client, clerk, name="王芳", id_number=MOTHER)
    h = auth(me["access_token"])
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    await pipeline.drain()
    items = await inbox(client, me["access_token"])
    # Oldest: the alert that her proof at the window bound her login to her identity.
    assert [i["title"] for i in items] == ["申请已受理", "实名身份登录提醒"]
    assert items[0]["body"] == "您提交的「生育津贴申领」申请已受理，我们将在承诺时限内办结并通知您。"
    assert items[0]["data"]["application_id"] == app["id"] and items[0]["read_at"] is None

    task_id = app["tasks"][0]["id"]
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    r = await client.post(
        f"/v1/dept/tasks/{task_id}/request-supplement",
        headers=yibao,
        json={"required_materials": ["hospital_invoice"], "note": "请补充清晰的票据"},
    )
    assert r.status_code == 200, r.text
    await client.post(
        f"/v1/applications/{app['id']}/supplement",
        headers=h,
        json={"materials": [{"code": "hospital_invoice", "blob_sha256": "cd" * 32}]},
    )
    await client.post(f"/v1/dept/tasks/{task_id}/approve", json={}, headers=yibao)
    await pipeline.drain()
    await pipeline.drain()  # a second run finds nothing new: the inbox does not grow

    items = await inbox(client, me["access_token"])
    assert [i["kind"] for i in items] == [
        "application.completed",
        "application.supplement_requested",
        "application.received",
        "auth.identity_login",
    ]
    assert items[0]["body"] == "您的「生育津贴申领」申请已办结，结果：办理完成。欢迎对本次服务作出评价。"
    # Hers, and the window clerk's own proof alert.
    assert await conn.fetchval(f"SELECT count(*) FROM {EVERY_NOTIFICATION}") == 5


async def test_reading_paging_and_privacy(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    me = await citizen(client, clerk, name="王芳", id_number=MOTHER)
    h = auth(me["access_token"])
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    await client.post(f"/v1/dept/tasks/{app['tasks'][0]['id']}/approve", json={}, headers=yibao)
    await pipeline.drain()

    page = (await client.get("/v1/notifications", params={"limit": 1}, headers=h)).json()
    assert [i["kind"] for i in page["items"]] == ["application.completed"] and page["next_cursor"]
    rest = (await client.get("/v1/notifications", params={"limit": 1, "cursor": page["next_cursor"]}, headers=h)).json()
    assert [i["kind"] for i in rest["items"]] == ["application.received"]
    assert_problem(await client.get("/v1/notifications", params={"cursor": "!!"}, headers=h), 400, "cursor_invalid")

    newest = page["items"][0]
    r = await client.post(f"/v1/notifications/{newest['id']}/read", headers=h)
    assert r.status_code == 200 and r.json()["read_at"]
    again = await client.post(f"/v1/notifications/{newest['id']}/read", headers=h)
    assert again.json()["read_at"] == r.json()["read_at"]
    unread = (await client.get("/v1/notifications", params={"unread": "true"}, headers=h)).json()["items"]
    assert [i["kind"] for i in unread] == ["application.received", "auth.identity_login"]
    # Devices learn of it through the change log: one entry when it arrived, one when it was read.
    changes = await conn.fetch(
        "SELECT data::json AS data FROM sync_change WHERE entity = 'notification' AND entity_id = $1 ORDER BY version",
        uuid.UUID(newest["id"]),
    )
    assert [c["data"]["read_at"] is not None for c in changes] == [False, True]

    other = await citizen(client, clerk, name="李娜", id_number=id_number("19930405", 8, male=False))
    assert_problem(
        await client.post(f"/v1/notifications/{newest['id']}/read", headers=auth(other["access_token"])),
        404,
        "notification_not_found",
    )
    assert await inbox(client, other["access_token"]) == []  # her own identity alert is not drained yet
    assert_problem(await client.get("/v1/notifications"), 401, "unauthorized")
    assert_problem(await client.get("/v1/notifications/stream"), 401, "unauthorized")


async def test_the_wallet_export_carries_the_inbox(
    client: AsyncTestClient, clerk: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    me = await citizen(client, clerk, name="王芳", id_number=MOTHER)
    h = auth(me["access_token"])
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    await pipeline.drain()
    doc = (await client.get("/v1/wallet/export", headers=h)).json()
    assert [(n["kind"], n["data"].get("application_id")) for n in doc["notifications"]] == [
        ("auth.identity_login", None),
        ("application.received", app["id"]),
    ]


async def test_a_phone_offline_marks_read_through_sync(
    client: AsyncTestClient, clerk: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    me = await citizen(client, clerk, name="王芳", id_number=MOTHER)
    h = auth(me["access_token"])
    await client.post("/v1/applications", json=maternity_allowance(), headers=h)
    await pipeline.drain()
    item = (await inbox(client, me["access_token"]))[0]
    mutation = {"id": str(uuid.uuid4()), "seq": 1, "name": "notification.read", "args": {"notification_id": item["id"]}}
    r = await client.post("/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": [mutation]}, headers=h)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "applied", r.text
    assert (await inbox(client, me["access_token"]))[0]["read_at"] is not None
