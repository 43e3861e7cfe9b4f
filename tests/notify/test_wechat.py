"""WeChat subscribe messages through the simulator: only while a grant is held, and WeChat's refusals."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth
from tests.matters.test_applications import maternity_allowance
from tests.notify.helpers import (
    EVERY_NOTIFICATION,
    Pipeline,
    deliveries,
    register_templates,
    sim_messages,
    wechat_citizen,
)
from tests.people import id_number, staff


def _application(number: str) -> dict[str, Any]:
    return maternity_allowance(form={"mother_id_number": number, "bank_account_no": "6222020202020202"})


async def _grant(client: AsyncTestClient, token: str, key: str = "application_progress", **over: Any) -> dict[str, Any]:
    r = await client.post(
        "/v1/notifications/wechat-grants",
        headers=auth(token),
        json={"template_key": key, "accepted": True, "always": False} | over,
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_granted_users_get_exactly_their_messages_and_others_none(
    client: AsyncTestClient, sim: httpx.AsyncClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    await register_templates(sim)
    once = await wechat_citizen(client, sim, clerk, name="王芳", id_number=id_number("19920304", 7, male=False))
    always = await wechat_citizen(client, sim, clerk, name="李娜", id_number=id_number("19930405", 8, male=False))
    never = await wechat_citizen(client, sim, clerk, name="赵敏", id_number=id_number("19940506", 9, male=False))
    assert (await _grant(client, once["access_token"]))["credits"] == 1
    assert (await _grant(client, always["access_token"], always=True))["long_term"] is True

    apps = {}
    for who, seq in ((once, 7), (always, 8), (never, 9)):
        number = id_number({7: "19920304", 8: "19930405", 9: "19940506"}[seq], seq, male=False)
        r = await client.post("/v1/applications", json=_application(number), headers=auth(who["access_token"]))
        assert r.status_code == 201, r.text
        apps[seq] = r.json()
    await pipeline.drain()

    first = await sim_messages(sim, once["openid"])
    assert len(first) == 1
    message = first[0]
    assert message["template_id"] == "zb-application-progress" and message["page"].startswith(
        "pages/notifications/index?id="
    )
    assert message["data"]["thing1"]["value"] == "生育津贴申领" and message["data"]["phrase2"]["value"] == "已受理"
    assert len(await sim_messages(sim, always["openid"])) == 1
    assert await sim_messages(sim, never["openid"]) == []

    # The one-time grant is spent; the long-term one is kept.
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    for app in apps.values():
        r = await client.post(f"/v1/dept/tasks/{app['tasks'][0]['id']}/approve", json={}, headers=yibao)
        assert r.status_code == 200, r.text
    await pipeline.drain()
    assert len(await sim_messages(sim, once["openid"])) == 1
    done = await sim_messages(sim, always["openid"])
    assert [m["data"]["phrase2"]["value"] for m in done] == ["已受理", "已办结"]
    assert await sim_messages(sim, never["openid"]) == []
    # Everyone's inbox has both, whatever happened on WeChat (and the alert of their proof at the window).
    assert await conn.fetchval(f"SELECT count(*) FROM {EVERY_NOTIFICATION} WHERE kind <> 'auth.identity_login'") == 6
    grants = (await client.get("/v1/notifications/wechat-grants", headers=auth(once["access_token"]))).json()
    assert grants["next_cursor"] is None
    assert grants["items"] == [
        {"template_key": "application_progress", "status": "none", "credits": 0, "long_term": False}
    ]


async def test_a_refusal_at_wechat_is_a_permanent_opt_out_until_accepted_again(
    client: AsyncTestClient, sim: httpx.AsyncClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    await register_templates(sim)
    number = id_number("19920304", 7, male=False)
    me = await wechat_citizen(client, sim, clerk, name="王芳", id_number=number)
    await _grant(client, me["access_token"], always=True)
    # The user switched the template off in WeChat's settings: WeChat answers 43101.
    await sim.post(
        "/_sim/subscriptions",
        json={"openid": me["openid"], "template_id": "zb-application-progress", "accepted": False},
    )
    r = await client.post("/v1/applications", json=_application(number), headers=auth(me["access_token"]))
    await pipeline.drain()
    [wechat] = await deliveries(conn, "wechat")
    assert (wechat["status"], wechat["reason"], wechat["attempts"]) == ("permanent-failure", "wechat errcode 43101", 1)
    grants = (await client.get("/v1/notifications/wechat-grants", headers=auth(me["access_token"]))).json()["items"]
    assert grants[0]["status"] == "opted_out"

    # Nothing more is tried while opted out...
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    await client.post(
        f"/v1/dept/tasks/{r.json()['tasks'][0]['id']}/request-supplement",
        headers=yibao,
        json={"required_materials": ["hospital_invoice"], "note": "请补充"},
    )
    await pipeline.drain()
    assert len(await deliveries(conn, "wechat")) == 1
    # ...until the user accepts again.
    await sim.post(
        "/_sim/subscriptions", json={"openid": me["openid"], "template_id": "zb-application-progress", "accepted": True}
    )
    assert (await _grant(client, me["access_token"]))["status"] == "granted"
    await client.post(
        f"/v1/applications/{r.json()['id']}/supplement",
        headers=auth(me["access_token"]),
        json={"materials": [{"code": "hospital_invoice", "blob_sha256": "cd" * 32}]},
    )
    await client.post(f"/v1/dept/tasks/{r.json()['tasks'][0]['id']}/approve", json={}, headers=yibao)
    await pipeline.drain()
    assert [m["data"]["phrase2"]["value"] for m in await sim_messages(sim, me["openid"])] == ["已办结"]


async def test_a_message_wechat_rejects_as_invalid_is_a_technical_failure_and_gives_the_grant_back(
    client: AsyncTestClient, sim: httpx.AsyncClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    # The template in WeChat's console has a field we do not fill: WeChat answers 47003.
    await register_templates(sim, application_progress=["thing1", "phrase2", "time3", "thing4", "amount5"])
    number = id_number("19920304", 7, male=False)
    me = await wechat_citizen(client, sim, clerk, name="王芳", id_number=number)
    await _grant(client, me["access_token"])
    await client.post("/v1/applications", json=_application(number), headers=auth(me["access_token"]))
    await pipeline.drain()
    [wechat] = await deliveries(conn, "wechat")
    assert (wechat["status"], wechat["reason"]) == ("technical-failure", "wechat errcode 47003")
    grants = (await client.get("/v1/notifications/wechat-grants", headers=auth(me["access_token"]))).json()["items"]
    assert grants[0]["credits"] == 1  # WeChat never took the message: the acceptance counts again

    # The operators see every attempt.
    r = await client.get(f"/v1/admin/notifications/{wechat['notification_id']}", headers=auth(op))
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["kind"] == "application.received" and view["recipient"]["person_id"]
    channels = {c["channel"]: c for c in view["channels"]}
    assert channels["inbox"]["status"] == "delivered"
    assert channels["wechat"]["status"] == "technical-failure"
    assert [(a["attempt"], a["outcome"], a["detail"]) for a in channels["wechat"]["attempts"]] == [
        (1, "technical-failure", "wechat errcode 47003")
    ]
    assert_problem(
        await client.get(f"/v1/admin/notifications/{wechat['notification_id']}", headers=auth(me["access_token"])),
        403,
        "forbidden",
    )
    assert_problem(
        await client.get(f"/v1/admin/notifications/{uuid.uuid4()}", headers=auth(op)), 404, "notification_not_found"
    )


async def test_grants_are_checked(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    from tests.auth.helpers import sms_login, wechat_login

    pair = await wechat_login(client, sim)
    r = await client.post(
        "/v1/notifications/wechat-grants",
        headers=auth(pair["access_token"]),
        json={"template_key": "nope", "accepted": True, "always": False},
    )
    assert_problem(r, 422, "wechat_template_unknown")
    r = await client.post(
        "/v1/notifications/wechat-grants", headers=auth(pair["access_token"]), json={"template_key": "x"}
    )
    assert_problem(r, 422, "validation_failed")
    app_user = await sms_login(client, "13900009999")
    r = await client.post(
        "/v1/notifications/wechat-grants",
        headers=auth(app_user["access_token"]),
        json={"template_key": "security_alert", "accepted": True},
    )
    assert_problem(r, 409, "wechat_not_bound")
    refused = await client.post(
        "/v1/notifications/wechat-grants",
        headers=auth(pair["access_token"]),
        json={"template_key": "security_alert", "accepted": False, "always": True},
    )
    assert refused.json() == {"template_key": "security_alert", "status": "none", "credits": 0, "long_term": False}
