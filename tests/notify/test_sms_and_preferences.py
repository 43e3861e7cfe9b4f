"""SMS through auth's provider, channel preferences and quiet hours (China time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from notify.render import CHINA
from tests.auth.helpers import assert_problem, auth
from tests.matters.test_applications import MOTHER, maternity_allowance
from tests.notify.helpers import Pipeline, app_citizen, deliveries, inbox, texts
from tests.people import staff

PHONE = "13812345678"


# The alerts of the proofs at the window (the citizen's and the clerk's own) go by text too; they are
# tested in test_window_and_not_me.py. Here: what the application's steps send.
async def _texts(client: AsyncTestClient, phone: str) -> list[str]:
    return [t for t in await texts(client, phone) if "/not-me/" not in t]


async def _sms(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return [d for d in await deliveries(conn, "sms") if d["kind"] != "auth.identity_login"]


async def _ask_for_supplement(client: AsyncTestClient, op: str, conn: asyncpg.Connection, token: str) -> dict:
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=auth(token))).json()
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    r = await client.post(
        f"/v1/dept/tasks/{app['tasks'][0]['id']}/request-supplement",
        headers=yibao,
        json={"required_materials": ["hospital_invoice"], "note": "请补充清晰的票据"},
    )
    assert r.status_code == 200, r.text
    return app


async def test_a_text_goes_to_the_phone_for_what_needs_action(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    me = await app_citizen(client, clerk, phone=PHONE, name="王芳", id_number=MOTHER)
    await _ask_for_supplement(client, op, conn, me["access_token"])
    await pipeline.drain()
    # Received: inbox only; supplement asked: inbox and a text message.
    assert await _texts(client, PHONE) == ["【掌办】您的「生育津贴申领」申请需补正材料，请登录掌办查看并提交。"]
    [sms] = await _sms(conn)
    assert (sms["status"], sms["attempts"], sms["reason"]) == ("sent", 1, "sms provider accepted")
    # The phone number is nowhere in the notification tables.
    for table in ("notify_notification", "notify_other_notification", "notify_delivery", "notify_attempt"):
        assert PHONE not in str(await conn.fetch(f"SELECT * FROM {table}"))


async def test_preferences_turn_sms_off_and_are_validated(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    me = await app_citizen(client, clerk, phone=PHONE, name="王芳", id_number=MOTHER)
    h = auth(me["access_token"])
    assert (await client.get("/v1/notifications/preferences", headers=h)).json() == {
        "channels": {"wechat": True, "sms": True},
        "quiet_hours": None,
    }
    r = await client.put("/v1/notifications/preferences", headers=h, json={"channels": {"wechat": True, "sms": False}})
    assert r.status_code == 200 and r.json()["channels"] == {"wechat": True, "sms": False}
    for bad in (
        {"channels": {"sms": "no"}},
        {"channels": {}, "quiet_hours": {"from": "24:00", "to": "07:00"}},
        {"channels": {}, "quiet_hours": {"from": "22:00"}},
        {"channels": {}, "colour": "red"},
    ):
        assert_problem(await client.put("/v1/notifications/preferences", headers=h, json=bad), 422, "validation_failed")
    await _ask_for_supplement(client, op, conn, me["access_token"])
    await pipeline.drain()
    assert await _texts(client, PHONE) == []
    assert await _sms(conn) == []
    assert [i["kind"] for i in await inbox(client, me["access_token"])] == [
        "application.supplement_requested",
        "application.received",
        "auth.identity_login",
    ]


async def test_quiet_hours_hold_texts_but_not_the_inbox(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    me = await app_citizen(client, clerk, phone=PHONE, name="王芳", id_number=MOTHER)
    h = auth(me["access_token"])
    now = datetime.now(CHINA)
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=1)).strftime("%H:%M")
    r = await client.put(
        "/v1/notifications/preferences",
        headers=h,
        json={"channels": {"wechat": True, "sms": True}, "quiet_hours": {"from": start, "to": end}},
    )
    assert r.json()["quiet_hours"] == {"from": start, "to": end}
    await _ask_for_supplement(client, op, conn, me["access_token"])
    await pipeline.drain()
    assert next(i["kind"] for i in await inbox(client, me["access_token"])) == "application.supplement_requested"
    assert await _texts(client, PHONE) == []
    [sms] = await _sms(conn)
    held_until = sms["not_before"]
    assert sms["status"] == "created" and timedelta(minutes=55) < held_until - datetime.now(UTC) <= timedelta(hours=1)
    # When quiet hours end, the requeue job hands it on and it goes out.
    await pipeline.drain(now=held_until + timedelta(seconds=1))
    assert await _texts(client, PHONE) == ["【掌办】您的「生育津贴申领」申请需补正材料，请登录掌办查看并提交。"]
