"""Real name at the window, and "not me": who may attest, what they key in, and what the person can undo."""

from __future__ import annotations

import logging
import re
import uuid

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests import at_rest
from tests.auth.helpers import assert_problem, auth, claims, sms_login, wechat_login
from tests.notify.helpers import Pipeline, app_citizen, attested, inbox, register_templates, sim_messages
from tests.people import id_number, next_phone, staff

ATTEST = "/v1/dept/realname/attest"
VICTIM, OTHER = id_number("19750505", 31, male=False), id_number("19810707", 32)
LINK = re.compile(r"(https?://\S+/not-me/(zbn_[A-Za-z0-9_-]+))")


async def _counter(client: AsyncTestClient, token: str, id_no: str, name: str = "柳青") -> str:
    r = await client.post(
        "/v1/auth/realname/sessions", headers=auth(token), json={"name": name, "id_number": id_no, "method": "counter"}
    )
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


async def alerts_texted(client: AsyncTestClient, phone: str) -> list[str]:
    """The texts to ``phone`` that carry a "not me" link, oldest first."""
    r = await client.get("/v1/dev/sms", params={"phone": phone})
    assert r.status_code == 200, r.text
    return [m["text"] for m in reversed(r.json()["items"]) if "/not-me/" in m["text"]]


async def _forget_sms_limits(pipeline: Pipeline) -> None:
    # One code a minute per phone: a second login on the same phone in one test waits for nobody.
    for key in await pipeline.state.redis.keys("zb:rl:{phone:*"):
        await pipeline.state.redis.delete(key)


async def test_only_a_freshly_proven_competent_clerk_attests_and_only_the_number_on_the_card(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
) -> None:
    person = await sms_login(client, next_phone())
    session = await _counter(client, person["access_token"], VICTIM)
    body = {"session_id": session, "id_number": VICTIM}

    # A clerk whose login is all they have proved (L1) may not make anyone L3.
    unproven = await staff(client, op, conn, "shenpi", ["clerk"])
    problem = assert_problem(await client.post(ATTEST, json=body, headers=auth(unproven)), 403, "assurance_required")
    assert (problem["required_level"], problem["max_age_seconds"]) == ("L3", 900)
    # Proven, but of a department whose windows do not do real-name checks (医保局).
    elsewhere = await staff(client, op, conn, "yibao", ["clerk"], proven=True)
    problem = assert_problem(await client.post(ATTEST, json=body, headers=auth(elsewhere)), 403, "authority_required")
    assert problem["power"] == "realname_proofing"
    # Proven 16 minutes ago: the clerk proves again first (the proof's time counts, not the token's).
    stale = await staff(client, op, conn, "shenpi", ["clerk"], proven=True)
    await conn.execute(
        "UPDATE auth_account SET verified_at = verified_at - interval '16 minutes' WHERE id = $1",
        uuid.UUID(claims(stale)["sub"]),
    )
    assert_problem(await client.post(ATTEST, json=body, headers=auth(stale)), 403, "assurance_required")

    # The number keyed in from the card must be a citizen ID number, and the session's.
    bad = assert_problem(
        await client.post(ATTEST, json=body | {"id_number": "123"}, headers=auth(clerk)), 422, "id_number_invalid"
    )
    assert bad["errors"][0]["field"] == "id_number"
    wrong = assert_problem(
        await client.post(ATTEST, json=body | {"id_number": OTHER}, headers=auth(clerk)),
        422,
        "realname_id_number_mismatch",
    )
    assert wrong["tries_left"] == 2 and OTHER not in str(wrong) and VICTIM not in str(wrong)
    # The refusal is audited although nothing else changed, and the session stays open for the correction.
    logged = await conn.fetch("SELECT actor, data FROM audit_log WHERE action = 'realname.id_number_mismatch'")
    assert [(r["actor"], r["data"]["session"], r["data"]["mismatches"]) for r in logged] == [
        (f"account:{claims(clerk)['sub']}", session, 1)
    ]
    r = await client.post(ATTEST, json=body | {"id_number": VICTIM.lower()}, headers=auth(clerk))
    assert r.status_code == 200 and r.json()["assurance_level"] == "L3", r.text

    # Three wrong numbers close the session: a guessing clerk gets nowhere.
    other = await sms_login(client, next_phone())
    session = await _counter(client, other["access_token"], OTHER)
    for left in (2, 1, 0):
        problem = assert_problem(
            await client.post(ATTEST, json={"session_id": session, "id_number": VICTIM}, headers=auth(clerk)),
            422,
            "realname_id_number_mismatch",
        )
        assert problem["tries_left"] == left
    assert_problem(
        await client.post(ATTEST, json={"session_id": session, "id_number": OTHER}, headers=auth(clerk)),
        409,
        "realname_session_closed",
    )
    failed = await conn.fetchval("SELECT data FROM audit_log WHERE action = 'realname.failed'")
    assert failed["reason"] == "id_number_mismatch"
    me = (await client.get("/v1/me", headers=auth(other["access_token"]))).json()
    assert me["assurance_level"] == "L1"


async def test_every_login_bound_to_an_identity_is_told_and_not_me_from_another_login_ends_it(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pipeline: Pipeline,
) -> None:
    phone = next_phone()
    first = await app_citizen(client, clerk, phone=phone, name="柳青", id_number=VICTIM)
    await pipeline.drain()
    # The proof that created the identity is told too: whoever stood at the window may not be them.
    [bound] = await inbox(client, first["access_token"])
    assert bound["kind"] == "auth.identity_login" and bound["urgent"] is True
    assert bound["data"]["method"] == "counter" and bound["data"]["login_id"] == claims(first["access_token"])["sid"]
    assert "窗口实名核验" in bound["body"] and "not_me_url" not in bound["data"]
    [text] = await alerts_texted(client, phone)
    assert "窗口实名核验" in text and LINK.search(text)

    # A new login of the account (another phone's app) is told; a refresh is not.
    await _forget_sms_limits(pipeline)
    second = await sms_login(client, phone)
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).status_code == 200
    await pipeline.drain()
    items = await inbox(client, first["access_token"])
    assert [(i["kind"], i["data"]["method"]) for i in items] == [
        ("auth.identity_login", "sms"),
        ("auth.identity_login", "counter"),
    ]
    second_login = claims(second["access_token"])["sid"]
    assert items[0]["data"]["login_id"] == second_login
    assert len(await alerts_texted(client, phone)) == 2

    # The login in use cannot be reported; a stranger cannot report this one.
    assert_problem(
        await client.post(f"/v1/auth/logins/{second_login}/not-me", headers=auth(second["access_token"])),
        409,
        "not_me_own_login",
    )
    stranger = await app_citizen(client, clerk, phone=next_phone(), name="石磊", id_number=OTHER)
    assert_problem(
        await client.post(f"/v1/auth/logins/{second_login}/not-me", headers=auth(stranger["access_token"])),
        404,
        "login_not_found",
    )
    assert (await client.get("/v1/me", headers=auth(second["access_token"]))).status_code == 200

    # From the first login: "not me" ends the second at once; the first goes on.
    r = await client.post(f"/v1/auth/logins/{second_login}/not-me", headers=auth(first["access_token"]))
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["login_id"], done["logins_ended"], done["identity_unbound"]) == (second_login, 1, False)
    assert_problem(await client.get("/v1/me", headers=auth(second["access_token"])), 401, "unauthorized")
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}),
        401,
        "refresh_token_invalid",
    )
    assert (await client.get("/v1/me", headers=auth(first["access_token"]))).status_code == 200
    again = await client.post(f"/v1/auth/logins/{second_login}/not-me", headers=auth(first["access_token"]))
    assert again.status_code == 200 and again.json()["case_id"] == done["case_id"]

    # The operators get a case (and an inbox item), and close it with what they found.
    await pipeline.drain()
    assert [i["kind"] for i in await inbox(client, op)] == ["identity_case.opened"]
    [case] = (await client.get("/v1/admin/identity-cases", headers=auth(op))).json()["items"]
    assert (case["id"], case["status"], case["reported_via"], case["method"]) == (done["case_id"], "open", "app", "sms")
    assert case["name_masked"] == "柳*" and case["id_number_masked"].endswith(VICTIM[-4:]) and VICTIM not in str(case)
    assert_problem(await client.get("/v1/admin/identity-cases", headers=auth(first["access_token"])), 403, "forbidden")
    r = await client.post(
        f"/v1/admin/identity-cases/{case['id']}/close", json={"resolution": "本人确认为家人代为登录"}, headers=auth(op)
    )
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["closed_at"], r.text
    assert_problem(
        await client.post(
            f"/v1/admin/identity-cases/{case['id']}/close", json={"resolution": "再次"}, headers=auth(op)
        ),
        409,
        "identity_case_closed",
    )
    assert (await client.get("/v1/admin/identity-cases", params={"status": "open"}, headers=auth(op))).json()[
        "items"
    ] == []
    actions = [
        r["action"]
        for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE action IN ('auth.not_me', 'auth.identity_case_closed') ORDER BY seq"
        )
    ]
    assert actions == ["auth.not_me", "auth.identity_case_closed"]

    # Cases page by cursor, oldest first.
    await _forget_sms_limits(pipeline)
    third = await sms_login(client, phone)
    r = await client.post(
        f"/v1/auth/logins/{claims(third['access_token'])['sid']}/not-me", headers=auth(first["access_token"])
    )
    assert r.status_code == 200, r.text
    page = (await client.get("/v1/admin/identity-cases", params={"limit": 1}, headers=auth(op))).json()
    assert [c["id"] for c in page["items"]] == [case["id"]] and page["next_cursor"]
    page = (
        await client.get(
            "/v1/admin/identity-cases", params={"limit": 1, "cursor": page["next_cursor"]}, headers=auth(op)
        )
    ).json()
    assert [c["id"] for c in page["items"]] == [r.json()["case_id"]]
    assert_problem(
        await client.get("/v1/admin/identity-cases", params={"cursor": "%%%"}, headers=auth(op)), 400, "cursor_invalid"
    )


async def test_the_link_in_the_text_undoes_an_impersonation_at_the_window(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pipeline: Pipeline,
) -> None:
    victim_phone, impostor_phone = next_phone(), next_phone()
    victim = await app_citizen(client, clerk, phone=victim_phone, name="柳青", id_number=VICTIM)
    await pipeline.drain()  # the victim's own alert first, so the newest text is the impostor's
    # Someone with a forged card passes the window as the victim, from an account of their own.
    impostor = await app_citizen(client, clerk, phone=impostor_phone, name="柳青", id_number=VICTIM)
    assert impostor["account"]["person_id"] == victim["account"]["person_id"]
    await pipeline.drain()
    url, token = LINK.search((await alerts_texted(client, victim_phone))[-1]).groups()
    assert url.startswith("http") and token not in str(await conn.fetch("SELECT token_hash FROM auth_login_alert"))

    # Opening the link only shows what happened (link previewers open it too).
    page = await client.get(f"/not-me/{token}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "窗口实名核验" in page.text and 'method="post"' in page.text
    assert (await client.get("/v1/me", headers=auth(impostor["access_token"]))).status_code == 200

    done = await client.post(f"/not-me/{token}")
    assert done.status_code == 200 and "已结束这次登录" in done.text
    # The impostor's login ends, and the proof with it: logging in again gives them nobody's identity.
    assert_problem(await client.get("/v1/me", headers=auth(impostor["access_token"])), 401, "unauthorized")
    await _forget_sms_limits(pipeline)
    again = await sms_login(client, impostor_phone)
    me = (await client.get("/v1/me", headers=auth(again["access_token"]))).json()
    assert me["assurance_level"] == "L1" and me.get("person") is None
    assert (await client.get("/v1/me", headers=auth(victim["access_token"]))).status_code == 200
    # The link works once; an unknown one says the same.
    for used in (token, "zbn_" + "A" * 43):
        assert "链接已失效" in (await client.post(f"/not-me/{used}")).text
        assert "链接已失效" in (await client.get(f"/not-me/{used}")).text

    # The victim pressing "not me" in the app about the same binding finds the same case.
    impostor_login = claims(impostor["access_token"])["sid"]
    r = await client.post(f"/v1/auth/logins/{impostor_login}/not-me", headers=auth(victim["access_token"]))
    assert r.status_code == 200, r.text
    [case] = (await client.get("/v1/admin/identity-cases", headers=auth(op))).json()["items"]
    assert r.json()["case_id"] == case["id"]
    assert (case["reported_via"], case["identity_unbound"], case["method"]) == ("link", True, "counter")
    assert (case["account_id"], case["login_id"]) == (impostor["account"]["id"], impostor_login)


async def test_a_mini_program_user_hears_of_the_binding_by_subscribe_message(
    client: AsyncTestClient,
    sim: httpx.AsyncClient,
    clerk: str,
    pipeline: Pipeline,
) -> None:
    await register_templates(sim)
    pair = await wechat_login(client, sim)
    r = await client.post(
        "/v1/notifications/wechat-grants",
        headers=auth(pair["access_token"]),
        json={"template_key": "security_alert", "accepted": True, "always": False},
    )
    assert r.status_code == 200, r.text
    proven = await attested(client, clerk, pair, name="柳青", id_number=VICTIM)
    await pipeline.drain()
    [message] = await sim_messages(sim, pair["openid"])
    assert message["template_id"] == "zb-security-alert" and message["page"].startswith("pages/notifications/index?id=")
    assert message["data"]["thing1"]["value"] == "实名身份登录提醒"
    [note] = await inbox(client, proven["access_token"])
    assert message["page"].endswith(note["id"]) and note["data"]["method"] == "counter"


async def test_the_not_me_token_rests_nowhere_in_the_clear_yet_the_text_carries_a_working_link(
    client: AsyncTestClient,
    clerk: str,
    conn: asyncpg.Connection,
    pipeline: Pipeline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    phone = next_phone()
    person = await app_citizen(client, clerk, phone=phone, name="柳青", id_number=VICTIM)
    await pipeline.drain()
    url, token = LINK.search((await alerts_texted(client, phone))[-1]).groups()

    # The outbox row, the inbox item and the SMS delivery were all written; none holds the token
    # (a bearer secret: whoever reads it ends the person's login).
    assert await conn.fetchval("SELECT count(*) FROM notify_delivery WHERE channel = 'sms'") >= 1
    assert (
        await conn.fetchval("SELECT count(*) FROM outbox WHERE payload::jsonb->>'event' = 'auth.identity_login'") >= 1
    )
    columns = await at_rest.columns(conn)
    found = [f"{t}.{c}" for t, c, d in columns if await at_rest.found(conn, t, c, d, [token])]
    assert found == []
    assert token not in caplog.text

    # The text's link still works: the page shows the login, the button ends it.
    path = url.split("://", 1)[1].split("/", 1)[1]
    page = await client.get(f"/{path}")
    assert page.status_code == 200 and "窗口实名核验" in page.text, page.text
    done = await client.post(f"/{path}")
    assert done.status_code == 200 and "已结束这次登录" in done.text
    assert_problem(await client.get("/v1/me", headers=auth(person["access_token"])), 401, "unauthorized")
