"""Odd requests get a named problem, never a 500."""

from __future__ import annotations

import httpx
import pytest
from litestar.testing import AsyncTestClient

from api.kernel.problems import PROBLEM_JSON
from tests.auth.helpers import ID_ALICE, auth, wechat_login

TOKENS = ["a.b.c", "....", "eyJhbGciOiJFUzI1NiJ9.e30.", "eyJhbGciOiJub25lIiwia2lkIjoxfQ.e30.", "x" * 5000]


@pytest.mark.parametrize("token", TOKENS)
async def test_junk_bearer_tokens_are_401(client: AsyncTestClient, token: str) -> None:
    r = await client.get("/v1/me", headers=auth(token))
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/auth/wechat/login", []),
        ("/v1/auth/wechat/login", {"code": 1}),
        ("/v1/auth/wechat/login", {"code": "x", "extra": 1}),
        ("/v1/auth/sms/send", "13812345678"),
        ("/v1/auth/sms/login", {"phone": "13812345678"}),
        ("/v1/auth/refresh", {"refresh_token": None}),
        ("/v1/auth/refresh", {"refresh_token": "x" * 300}),
        ("/v1/auth/logout", {"refresh_token": 5}),
        ("/v1/auth/token", []),
        ("/v1/auth/token", {"grant_type": 7}),
        ("/v1/auth/token", {"client_id": "x"}),
    ],
)
async def test_malformed_bodies(client: AsyncTestClient, path: str, body: object) -> None:
    r = await client.post(path, json=body)
    assert r.status_code in (400, 401, 422), (path, body, r.status_code, r.text)
    assert r.headers["content-type"] == PROBLEM_JSON


async def test_odd_real_name_inputs(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    pair = await wechat_login(client, sim)
    token = auth(pair["access_token"])
    for body in (
        {"name": "   ", "id_number": ID_ALICE, "method": "wechat_face"},
        {"name": "张\x00三", "id_number": ID_ALICE, "method": "counter"},
        {"name": "张三", "id_number": "1" * 40, "method": "counter"},
    ):
        r = await client.post("/v1/auth/realname/sessions", json=body, headers=token)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON, r.text
    bad_path = await client.post("/v1/auth/realname/sessions/not-a-uuid/complete", json={}, headers=token)
    assert bad_path.status_code in (400, 404) and bad_path.headers["content-type"] == PROBLEM_JSON
    session = (
        await client.post(
            "/v1/auth/realname/sessions",
            headers=token,
            json={"name": "张三", "id_number": ID_ALICE, "method": "assertion"},
        )
    ).json()
    for assertion in ("", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOjF9.x", "x" * 20000):
        r = await client.post(
            f"/v1/auth/realname/sessions/{session['session_id']}/complete", json={"assertion": assertion}, headers=token
        )
        assert r.status_code in (409, 422), (assertion[:20], r.text)


async def test_form_token_request_that_is_not_utf8(client: AsyncTestClient) -> None:
    r = await client.post(
        "/v1/auth/token", content=b"grant_type=\xff\xfe", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code in (400, 422) and r.headers["content-type"] == PROBLEM_JSON
