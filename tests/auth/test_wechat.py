"""WeChat login and phone binding: every WeChat failure answers its named problem; one token fetch."""

from __future__ import annotations

import asyncio
import io
import logging

import asyncpg
import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.config import Settings
from api.kernel import redis_client
from auth import wechat
from auth.wechat import WechatClient
from tests.auth.helpers import assert_problem, auth, login_code, phone_code, wechat_login


async def _login(client: AsyncTestClient, code: str) -> httpx.Response:
    return await client.post("/v1/auth/wechat/login", json={"code": code})


async def test_unknown_and_reused_codes_are_wechat_code_invalid(
    client: AsyncTestClient, sim: httpx.AsyncClient
) -> None:
    assert_problem(await _login(client, "no-such-code"), 400, "wechat_code_invalid")
    code = (await login_code(sim))["code"]
    assert (await _login(client, code)).status_code == 200
    assert_problem(await _login(client, code), 400, "wechat_code_invalid")


async def test_blocked_user_is_403(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    code = (await login_code(sim, behaviour="blocked"))["code"]
    assert_problem(await _login(client, code), 403, "wechat_user_blocked")


@pytest.mark.parametrize("behaviour", ["busy", "quota"])
async def test_busy_and_quota_are_retried_until_they_pass(
    client: AsyncTestClient, sim: httpx.AsyncClient, behaviour: str
) -> None:
    code = (await login_code(sim, behaviour=behaviour, fail_times=2))["code"]
    assert (await _login(client, code)).status_code == 200
    assert (await sim.get("/_sim/stats")).json()["jscode2session"] == 3


async def test_persistent_busy_is_503_after_a_few_tries(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    code = (await login_code(sim, behaviour="busy", fail_times=10))["code"]
    assert_problem(await _login(client, code), 503, "wechat_unavailable")
    assert (await sim.get("/_sim/stats")).json()["jscode2session"] == 3


async def test_unreachable_wechat_is_503(settings: Settings) -> None:
    down = msgspec.structs.replace(settings, wechat_api_base="http://127.0.0.1:1")
    async with AsyncTestClient(app=create_app(down)) as c:
        assert_problem(await _login(c, "any"), 503, "wechat_unavailable")


async def test_same_openid_same_account_and_unionid_finds_it_too(
    client: AsyncTestClient, sim: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    first = await wechat_login(client, sim, openid="o-alice", unionid="u-alice")
    again = await wechat_login(client, sim, openid="o-alice")
    assert again["account"]["id"] == first["account"]["id"]
    # Another of our apps' openid with the same unionid joins the same account.
    other_app = await wechat_login(client, sim, openid="o-alice-2", unionid="u-alice")
    assert other_app["account"]["id"] == first["account"]["id"]
    row = await conn.fetchrow("SELECT wechat_openid, wechat_unionid, wechat_session_key FROM auth_account")
    assert row["wechat_openid"] == "o-alice-2" and row["wechat_unionid"] == "u-alice"
    assert isinstance(row["wechat_session_key"], bytes) and row["wechat_session_key"][0] == 1  # sealed


async def test_login_answers_never_carry_the_session_key(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    pair = await wechat_login(client, sim)
    assert set(pair) - {"openid", "unionid"} == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "account",
        "second_factor",
    }


async def test_bad_login_bodies(client: AsyncTestClient) -> None:
    assert_problem(await client.post("/v1/auth/wechat/login", json={}), 422, "validation_failed")
    assert_problem(await client.post("/v1/auth/wechat/login", json={"code": ""}), 422, "validation_failed")
    r = await client.post("/v1/auth/wechat/login", content=b"{", headers={"content-type": "application/json"})
    assert_problem(r, 400, "malformed_request")


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_the_secret_and_access_token_never_reach_the_log(
    settings: Settings, sim: httpx.AsyncClient, log_format: str
) -> None:
    """Outbound requests are logged (httpx, at INFO) without the credentials in their URLs."""
    loud = msgspec.structs.replace(settings, log_level="INFO", log_format=log_format)
    out = io.StringIO()
    async with AsyncTestClient(app=create_app(loud)) as c:
        [handler] = logging.getLogger().handlers
        handler.setStream(out)  # type: ignore[attr-defined]
        pair = await wechat_login(c, sim)
        r = await c.post(
            "/v1/auth/wechat/phone",
            json={"code": await phone_code(sim, "13812345670")},
            headers=auth(pair["access_token"]),
        )
        assert r.status_code == 200, r.text
    r = redis_client.from_url(settings.redis_url)
    token = (await r.get(f"zb:wechat:{settings.wechat_appid}:access_token")).decode()
    await r.aclose()
    text = out.getvalue()
    assert "jscode2session" in text and "getuserphonenumber" in text  # the requests were logged
    assert "secret=***" in text and "access_token=***" in text
    assert settings.wechat_secret not in text and token not in text


# --- phone binding -----------------------------------------------------------------------------


async def test_phone_binding_checks_the_watermark_and_the_code(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    pair = await wechat_login(client, sim)
    foreign = await phone_code(sim, "13812345678", appid="wx1111111111111111")
    r = await client.post("/v1/auth/wechat/phone", json={"code": foreign}, headers=auth(pair["access_token"]))
    assert_problem(r, 400, "wechat_code_invalid")
    r = await client.post("/v1/auth/wechat/phone", json={"code": "unknown"}, headers=auth(pair["access_token"]))
    assert_problem(r, 400, "wechat_code_invalid")
    overseas = await phone_code(sim, "91234567", country_code="852")
    r = await client.post("/v1/auth/wechat/phone", json={"code": overseas}, headers=auth(pair["access_token"]))
    assert_problem(r, 422, "validation_failed")
    assert_problem(await client.post("/v1/auth/wechat/phone", json={"code": "x"}), 401, "unauthorized")


async def test_a_phone_bound_elsewhere_is_409(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    first, second = await wechat_login(client, sim), await wechat_login(client, sim)
    code = await phone_code(sim, "13812345678")
    assert (
        await client.post("/v1/auth/wechat/phone", json={"code": code}, headers=auth(first["access_token"]))
    ).status_code == 200
    code = await phone_code(sim, "13812345678")
    r = await client.post("/v1/auth/wechat/phone", json={"code": code}, headers=auth(second["access_token"]))
    assert_problem(r, 409, "phone_in_use")


def _token_retries(caplog: pytest.LogCaptureFixture) -> int:
    # A slow answer on a loaded machine is retried, and WeChat counts the retry as another fetch.
    return sum("/cgi-bin/stable_token failed" in r.getMessage() for r in caplog.records)


async def test_concurrent_callers_share_one_access_token_fetch(
    client: AsyncTestClient, sim: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    users = [await wechat_login(client, sim) for _ in range(8)]
    codes = [await phone_code(sim, f"1381234{i:04d}") for i in range(8)]
    answers = await asyncio.gather(
        *(
            client.post("/v1/auth/wechat/phone", json={"code": c}, headers=auth(u["access_token"]))
            for u, c in zip(users, codes, strict=True)
        )
    )
    assert [a.status_code for a in answers] == [200] * 8
    stats = (await sim.get("/_sim/stats")).json()
    assert stats["stable_token_issued"] == 1 + _token_retries(caplog) and stats["getuserphonenumber"] == 8


async def test_an_invalidated_access_token_is_fetched_again_once(
    client: AsyncTestClient, sim: httpx.AsyncClient
) -> None:
    pair = await wechat_login(client, sim)
    r = await client.post(
        "/v1/auth/wechat/phone", json={"code": await phone_code(sim, "13812345678")}, headers=auth(pair["access_token"])
    )
    assert r.status_code == 200
    await sim.post("/_sim/access-tokens/invalidate", json={"errcode": 42001})
    r = await client.post(
        "/v1/auth/wechat/phone", json={"code": await phone_code(sim, "13812345679")}, headers=auth(pair["access_token"])
    )
    assert r.status_code == 200, r.text
    stats = (await sim.get("/_sim/stats")).json()
    assert stats["stable_token_issued"] == 2 and stats["getuserphonenumber"] == 3


async def test_single_flight_directly_under_a_burst(
    sim: httpx.AsyncClient, sim_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    redis = redis_client.from_url(redis_url)
    async with httpx.AsyncClient(base_url=sim_url, timeout=5) as http:
        client = WechatClient(http, redis, appid="wx0000000000000000", secret="zb-dev-secret")
        tokens = await asyncio.gather(*(client.access_token() for _ in range(50)))
    await redis.aclose()
    assert len(set(tokens)) == 1
    assert (await sim.get("/_sim/stats")).json()["stable_token_issued"] == 1 + _token_retries(caplog)


async def test_a_wrong_secret_is_our_problem_not_the_users(settings: Settings, sim: httpx.AsyncClient) -> None:
    wrong = msgspec.structs.replace(settings, wechat_secret="not-the-secret")
    async with AsyncTestClient(app=create_app(wrong)) as c:
        assert_problem(await _login(c, (await login_code(sim))["code"]), 503, "wechat_unavailable")


def test_cert_hash_matches_the_wechat_definition() -> None:
    from auth.wechat_sim_state import cert_hash

    assert wechat.cert_hash("张三", "11010519491231002X") == cert_hash("IDENTITY_CARD", "张三", "11010519491231002X")
