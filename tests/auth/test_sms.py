"""SMS login: limits, tries, hashed codes, and both providers."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import pytest
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.config import Settings
from api.kernel import ratelimit, redis_client
from api.kernel.crypto import Keyring
from tests.auth.helpers import assert_problem, last_sms_code

PHONE = "13912345678"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = redis_client.from_url(redis_url)
    yield client
    await client.aclose()


def _index(settings: Settings, phone: str = PHONE) -> str:
    return Keyring.from_settings(settings).blind_index(phone, purpose="phone").hex()


async def _send(client: AsyncTestClient, phone: str = PHONE):
    return await client.post("/v1/auth/sms/send", json={"phone": phone})


async def _login(client: AsyncTestClient, code: str, phone: str = PHONE):
    return await client.post("/v1/auth/sms/login", json={"phone": phone, "code": code})


async def test_one_code_a_minute_per_phone(client: AsyncTestClient) -> None:
    assert (await _send(client)).status_code == 202
    r = await _send(client)
    body = assert_problem(r, 429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60 and body["retry_after"] == int(r.headers["retry-after"])
    assert (await _send(client, "13912345679")).status_code == 202  # another phone has its own budget


async def test_ten_codes_a_day_per_phone(client: AsyncTestClient, redis: aioredis.Redis, settings: Settings) -> None:
    minute = ratelimit.key(f"phone:{_index(settings)}", "sms_send_minute")
    for _ in range(10):
        assert (await _send(client)).status_code == 202
        await redis.delete(minute)  # stand in for the minute passing
    r = await _send(client)
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 3600


async def test_login_with_the_code_works_once(client: AsyncTestClient) -> None:
    await _send(client)
    code = await last_sms_code(client, PHONE)
    first = await _login(client, code)
    assert first.status_code == 200 and first.json()["account"]["assurance_level"] == "L1"
    assert_problem(await _login(client, code), 400, "sms_code_invalid")


async def test_same_phone_same_account(client: AsyncTestClient, redis: aioredis.Redis, settings: Settings) -> None:
    await _send(client)
    one = (await _login(client, await last_sms_code(client, PHONE))).json()
    await redis.delete(ratelimit.key(f"phone:{_index(settings)}", "sms_send_minute"))
    await _send(client)
    two = (await _login(client, await last_sms_code(client, PHONE))).json()
    assert one["account"]["id"] == two["account"]["id"]


async def test_five_wrong_codes_burn_it(client: AsyncTestClient) -> None:
    await _send(client)
    code = await last_sms_code(client, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    left = [assert_problem(await _login(client, wrong), 400, "sms_code_invalid")["tries_left"] for _ in range(5)]
    assert left == [4, 3, 2, 1, 0]
    assert_problem(await _login(client, code), 400, "sms_code_invalid")


async def test_a_right_code_after_wrong_ones_still_works(client: AsyncTestClient) -> None:
    await _send(client)
    code = await last_sms_code(client, PHONE)
    for _ in range(4):
        await _login(client, f"{(int(code) + 7) % 1_000_000:06d}")
    assert (await _login(client, code)).status_code == 200


async def test_expired_code_is_refused(client: AsyncTestClient, redis: aioredis.Redis, settings: Settings) -> None:
    await _send(client)
    code = await last_sms_code(client, PHONE)
    key = f"zb:sms:code:{_index(settings)}"
    assert 290 <= await redis.ttl(key) <= 300
    await redis.delete(key)  # what the 5-minute expiry does
    assert_problem(await _login(client, code), 400, "sms_code_invalid")


async def test_codes_and_phones_are_not_kept_in_the_clear(client: AsyncTestClient, redis: aioredis.Redis) -> None:
    await _send(client)
    code = await last_sms_code(client, PHONE)
    for key in await redis.keys("*"):
        assert PHONE.encode() not in key
        if key.startswith(b"zb:sms:code:"):
            stored = await redis.hgetall(key)
            assert all(code.encode() not in v for v in stored.values())


@pytest.mark.parametrize("phone", ["12912345678", "1391234567", "139123456789", "+8613912345678", "abc"])
async def test_only_mainland_numbers(client: AsyncTestClient, phone: str) -> None:
    body = assert_problem(await _send(client, phone), 422, "validation_failed")
    assert body["errors"][0]["field"] == "phone"
    r = await client.post("/v1/auth/sms/login", json={"phone": phone, "code": "123456"})
    assert_problem(r, 422, "validation_failed")


async def test_code_must_be_six_digits(client: AsyncTestClient) -> None:
    assert_problem(await _login(client, "12345"), 422, "validation_failed")


# --- the http provider ------------------------------------------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[_Gateway]]]:
    handler = type("Gateway", (_Gateway,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/send", handler
    server.shutdown()
    thread.join()


async def test_http_provider_posts_json_and_has_no_dev_inbox(
    settings: Settings, gateway: tuple[str, type[_Gateway]]
) -> None:
    url, handler = gateway
    app = create_app(msgspec.structs.replace(settings, sms_provider="http", sms_http_url=url))
    async with AsyncTestClient(app=app) as c:
        assert (await _send(c)).status_code == 202
        [message] = handler.received
        assert message["phone"] == PHONE and message["template"] == "login_code"
        code = message["params"]["code"]
        assert len(code) == 6 and code in message["text"]
        assert (await _login(c, code)).status_code == 200
        assert_problem(await c.get("/v1/dev/sms", params={"phone": PHONE}), 404, "not_found")
        spec = (await c.get("/schema/openapi.json")).json()
        assert "/v1/dev/sms" not in spec["paths"]
        handler.status = 500
        assert_problem(await _send(c, "13912345670"), 503, "sms_unavailable")


async def test_the_login_code_goes_under_the_template_the_setting_names(
    settings: Settings, gateway: tuple[str, type[_Gateway]]
) -> None:
    url, handler = gateway
    templates = '{"login_code": "SMS_100001", "application.completed": "SMS_100002"}'
    app = create_app(msgspec.structs.replace(settings, sms_provider="http", sms_http_url=url, sms_templates=templates))
    async with AsyncTestClient(app=app) as c:
        assert (await _send(c)).status_code == 202
        [message] = handler.received
        assert message["template"] == "SMS_100001" and list(message["params"]) == ["code"]
        assert (await _login(c, message["params"]["code"])).status_code == 200
