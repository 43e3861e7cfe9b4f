"""Staff log in with two factors: SMS (or WeChat) and then a TOTP code from an authenticator bound once."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import asyncpg
from litestar.testing import AsyncTestClient

from api.kernel import redis_client
from tests.auth.helpers import (
    assert_problem,
    auth,
    claims,
    create_department,
    credit_code,
    make_staff,
    sms_login,
    totp_code,
)

DEPTS = "/v1/admin/departments"


async def _login(client: AsyncTestClient, redis_url: str, phone: str) -> dict:
    """Another SMS login of the same phone (the one-code-a-minute limit forgotten: nobody waits in a test)."""
    redis = redis_client.from_url(redis_url)
    for key in await redis.keys("zb:rl:{phone:*"):
        await redis.delete(key)
    await redis.aclose()
    return await sms_login(client, phone)


async def test_staff_bind_an_authenticator_and_need_its_code_at_every_login(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, redis_url: str
) -> None:
    import base64

    dept = (await create_department(client, op, credit_code(90)))["id"]
    phone = "13700000090"
    pair = await sms_login(client, phone)
    r = await client.post(
        f"{DEPTS}/{dept}/staff", json={"account_id": pair["account"]["id"], "roles": ["clerk"]}, headers=auth(op)
    )
    assert r.status_code == 200, r.text
    first = (await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).json()
    # One factor: no staff roles yet, the answer says what comes next, and /v1/me agrees with the token.
    assert first["second_factor"] == "totp_enrol"
    assert "clerk" not in claims(first["access_token"])["roles"] and claims(first["access_token"])["amr"] == ["sms"]
    assert_problem(await client.get("/v1/dept/tasks", headers=auth(first["access_token"])), 403, "forbidden")
    me = (await client.get("/v1/me", headers=auth(first["access_token"]))).json()
    assert me["departments"] == [] and me["second_factor"] == "totp_enrol"
    assert_problem(
        await client.post("/v1/auth/totp/verify", json={"code": "123456"}, headers=auth(first["access_token"])),
        409,
        "totp_not_enrolled",
    )

    r = await client.post("/v1/auth/totp/enrol", headers=auth(first["access_token"]))
    assert r.status_code == 201, r.text
    enrolment = r.json()
    uri = urlparse(enrolment["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp" and parse_qs(uri.query)["secret"] == [enrolment["secret"]]
    svg = base64.b64decode(enrolment["qr_svg"].removeprefix("data:image/svg+xml;base64,"))
    assert svg.startswith(b"<svg")
    # The secret is kept sealed, never as it was shown.
    sealed = await conn.fetchval("SELECT secret FROM auth_totp WHERE account_id = $1", pair["account"]["id"])
    assert enrolment["secret"].encode() not in sealed

    wrong = "000000" if totp_code(enrolment["secret"]) != "000000" else "111111"
    assert_problem(
        await client.post("/v1/auth/totp/verify", json={"code": wrong}, headers=auth(first["access_token"])),
        400,
        "totp_code_invalid",
    )
    code = totp_code(enrolment["secret"])
    r = await client.post("/v1/auth/totp/verify", json={"code": code}, headers=auth(first["access_token"]))
    assert r.status_code == 200, r.text
    staff = r.json()
    c = claims(staff["access_token"])
    assert "clerk" in c["roles"] and c["dept"] == dept and c["amr"] == ["sms", "otp", "mfa"]
    assert staff["second_factor"] is None
    assert (await client.get("/v1/dept/tasks", headers=auth(staff["access_token"]))).status_code == 200
    # The login keeps its second factor through refreshes; binding again needs an operator.
    again = (await client.post("/v1/auth/refresh", json={"refresh_token": staff["refresh_token"]})).json()
    assert "clerk" in claims(again["access_token"])["roles"]
    assert_problem(
        await client.post("/v1/auth/totp/enrol", headers=auth(again["access_token"])), 409, "totp_already_enrolled"
    )

    # A new login: the same code is refused (replay), the next one is accepted.
    second = await _login(client, redis_url, phone)
    assert second["second_factor"] == "totp" and "clerk" not in claims(second["access_token"])["roles"]
    assert_problem(
        await client.post("/v1/auth/totp/verify", json={"code": code}, headers=auth(second["access_token"])),
        400,
        "totp_code_reused",
    )
    r = await client.post(
        "/v1/auth/totp/verify",
        json={"code": totp_code(enrolment["secret"], ahead=1)},
        headers=auth(second["access_token"]),
    )
    assert r.status_code == 200, r.text
    failures = await conn.fetch("SELECT data FROM audit_log WHERE action = 'auth.totp_failed' ORDER BY seq")
    assert [f["data"]["reason"] for f in failures] == ["totp_code_invalid", "totp_code_reused"]

    # Guessing is cut short: five tries in five minutes per account.
    third = await _login(client, redis_url, phone)
    for _ in range(3):
        await client.post("/v1/auth/totp/verify", json={"code": wrong}, headers=auth(third["access_token"]))
    r = await client.post("/v1/auth/totp/verify", json={"code": wrong}, headers=auth(third["access_token"]))
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 0

    # The phone is lost: an operator resets the authenticator, every login of the account ends, the next binds anew.
    account = pair["account"]["id"]
    assert_problem(
        await client.post(f"/v1/admin/accounts/{account}/totp/reset", headers=auth(staff["access_token"])),
        403,
        "forbidden",
    )
    assert (await client.post(f"/v1/admin/accounts/{account}/totp/reset", headers=auth(op))).status_code == 204
    assert_problem(await client.get("/v1/dept/tasks", headers=auth(staff["access_token"])), 401, "unauthorized")
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": again["refresh_token"]})).status_code == 401
    assert (await _login(client, redis_url, phone))["second_factor"] == "totp_enrol"
    reset = await conn.fetchrow("SELECT actor, data FROM audit_log WHERE action = 'admin.totp_reset'")
    assert reset["actor"].startswith("account:") and reset["data"]["logins_ended"] >= 3
    assert_problem(
        await client.post(f"/v1/admin/accounts/{account}/totp/reset", headers=auth(op)), 422, "account_not_found"
    )


async def test_citizens_and_department_systems_are_not_asked(client: AsyncTestClient, op: str) -> None:
    citizen = await sms_login(client, "13700000091")
    assert citizen["second_factor"] is None
    assert_problem(await client.post("/v1/auth/totp/enrol", headers=auth(citizen["access_token"])), 403, "forbidden")
    dept = (await create_department(client, op, credit_code(91)))["id"]
    made = (
        await client.post(
            f"{DEPTS}/{dept}/clients", json={"name": "业务系统", "scopes": ["tasks:handle"]}, headers=auth(op)
        )
    ).json()
    system = await client.post(
        "/v1/auth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
    )
    assert system.status_code == 200 and "amr" not in claims(system.json()["access_token"])
    assert (await client.get("/v1/dept/tasks", headers=auth(system.json()["access_token"]))).status_code == 200
    # make_staff is how every other test gets staff: through the second factor.
    clerk = await make_staff(client, op, dept, "13700000092", ["clerk"])
    assert "otp" in claims(clerk["access_token"])["amr"]
