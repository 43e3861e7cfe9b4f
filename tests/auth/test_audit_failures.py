"""Refused logins and client authentications leave audit entries naming the client address."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from api.config import Settings
from tests.auth.helpers import (
    assert_problem,
    auth,
    create_department,
    credit_code,
    login_code,
    operator,
    sms_login,
)
from tests.browser import live_server

# The live server listens on loopback, which these tests declare a trusted proxy.
FORWARDED = {"X-Forwarded-For": "203.0.113.66, 198.51.100.7"}
CLIENT = "198.51.100.7"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, trusted_proxies="127.0.0.1")


@pytest.fixture
async def http(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    with live_server(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            yield c


@pytest.fixture
async def op(http: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings) -> str:
    return await operator(conn, settings)


async def entries(conn: asyncpg.Connection, action: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT actor, subject, data FROM audit_log WHERE action = $1 ORDER BY seq", action)
    return [
        {
            "actor": r["actor"],
            "subject": r["subject"],
            "data": json.loads(r["data"]) if isinstance(r["data"], str) else r["data"],
        }
        for r in rows
    ]


async def test_a_wrong_sms_code_is_audited_with_the_address(http: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    phone = "13812345678"
    assert (await http.post("/v1/auth/sms/send", json={"phone": phone})).status_code == 202
    r = await http.post("/v1/auth/sms/login", json={"phone": phone, "code": "000000"}, headers=FORWARDED)
    assert_problem(r, 400, "sms_code_invalid")
    [entry] = await entries(conn, "auth.login_failed")
    assert entry["actor"] == "anonymous" and entry["subject"].startswith("phone:")
    assert entry["data"] == {
        "method": "sms",
        "reason": "sms_code_invalid",
        "phone": "138****5678",
        "tries_left": 4,
        "client_address": CLIENT,
    }
    raw = await conn.fetchval("SELECT string_agg(subject || data::text, ' ') FROM audit_log")
    assert phone not in raw


async def test_a_refused_wechat_login_is_audited(
    http: httpx.AsyncClient, sim: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    assert_problem(
        await http.post("/v1/auth/wechat/login", json={"code": "no-such-code"}, headers=FORWARDED),
        400,
        "wechat_code_invalid",
    )
    blocked = (await login_code(sim, behaviour="blocked"))["code"]
    assert_problem(await http.post("/v1/auth/wechat/login", json={"code": blocked}), 403, "wechat_user_blocked")
    got = [(e["data"]["reason"], e["data"]["client_address"]) for e in await entries(conn, "auth.login_failed")]
    assert got == [("wechat_code_invalid", CLIENT), ("wechat_user_blocked", "127.0.0.1")]
    ok = (await login_code(sim))["code"]
    assert (await http.post("/v1/auth/wechat/login", json={"code": ok}, headers=FORWARDED)).status_code == 200
    assert (await entries(conn, "auth.login"))[-1]["data"]["client_address"] == CLIENT


async def test_a_reused_refresh_token_is_audited_with_the_address(
    http: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    pair = await sms_login(http, "13900001111")
    assert (await http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 200
    r = await http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}, headers=FORWARDED)
    assert_problem(r, 401, "refresh_token_reused")
    [entry] = await entries(conn, "auth.refresh_reused")
    assert entry["data"]["client_address"] == CLIENT


async def test_failed_client_authentication_is_audited_with_the_reason(
    http: httpx.AsyncClient, op: str, conn: asyncpg.Connection
) -> None:
    dept = await create_department(http, op, credit_code(41))
    r = await http.post(
        f"/v1/admin/departments/{dept['id']}/clients",
        json={"name": "sys", "scopes": ["records:write"]},
        headers=auth(op),
    )
    made = r.json()
    token = "/v1/auth/token"
    wrong = {"grant_type": "client_credentials", "client_id": made["client_id"], "client_secret": "guess"}
    assert_problem(await http.post(token, data=wrong, headers=FORWARDED), 401, "invalid_client")
    unknown = wrong | {"client_id": "01890000-0000-7000-8000-000000000000"}
    assert_problem(await http.post(token, json=unknown, headers=FORWARDED), 401, "invalid_client")
    assert_problem(await http.post(token, json=wrong | {"client_id": "x"}, headers=FORWARDED), 401, "invalid_client")
    got = [(e["actor"], e["data"]) for e in await entries(conn, "auth.client_auth_failed")]
    assert got == [
        (f"client:{made['client_id']}", {"reason": "wrong_secret", "client_address": CLIENT}),
        ("client:01890000-0000-7000-8000-000000000000", {"reason": "unknown_client", "client_address": CLIENT}),
        ("anonymous", {"reason": "malformed_client_id", "client_address": CLIENT}),
    ]
    right = wrong | {"client_secret": made["client_secret"]}
    assert (await http.post(token, data=right, headers=FORWARDED)).status_code == 200
    assert (await entries(conn, "auth.client_token"))[-1]["data"]["client_address"] == CLIENT
    # The chain still verifies with the refusals in it.
    assert (await http.get("/v1/admin/audit/verify", headers=auth(op))).json()["ok"] is True
