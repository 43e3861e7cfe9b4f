"""Texts through an HTTP SMS gateway: each is sent under its template's code with the template's parameters.

The worker, which delivers notifications, talks to the gateway; the app under ``client`` keeps the
sink, so staff and citizens log in as in the other tests, and the login code shows its template there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import asyncpg
import msgspec
import pytest
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from api.app import close_resources, open_resources
from api.config import Settings
from tests.auth.helpers import auth
from tests.matters.test_applications import MOTHER, maternity_allowance
from tests.notify.helpers import Pipeline, Receiver, app_citizen, deliveries, running_receiver
from tests.notify.test_sms_and_preferences import _ask_for_supplement
from tests.people import staff

PHONE = "13812345678"
TEMPLATES = {"login_code": "SMS_900001", "application.supplement_requested": "SMS_900102"}


@pytest.fixture
def gateway() -> Iterator[Receiver]:
    """The SMS gateway: an HTTP endpoint on loopback that takes every message it is given."""
    with running_receiver() as r:
        yield r


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, sms_templates=json.dumps(TEMPLATES))


@pytest.fixture
async def worker_state(client: AsyncTestClient, settings: Settings, gateway: Receiver) -> AsyncIterator[State]:
    """A worker process whose texts go to the HTTP gateway."""
    state = State()
    await open_resources(state, msgspec.structs.replace(settings, sms_provider="http", sms_http_url=gateway.url))
    yield state
    await close_resources(state, None)


def sent(gateway: Receiver) -> list[dict]:
    """What the gateway was asked to send, but the alerts of proofs at the window (test_window_and_not_me.py)."""
    with gateway.lock:
        got = [json.loads(body) for _, body in gateway.received]
    return [m for m in got if m["template"] != "auth.identity_login"]


async def test_each_text_goes_under_its_own_template(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline, gateway: Receiver
) -> None:
    me = await app_citizen(client, clerk, phone=PHONE, name="王芳", id_number=MOTHER)
    # The login code keeps its own template, with the code as its one parameter.
    [login] = (await client.get("/v1/dev/sms", params={"phone": PHONE})).json()["items"]
    assert login["template"] == "SMS_900001" and list(login["params"]) == ["code"]
    assert login["params"]["code"] in login["text"]

    await _ask_for_supplement(client, op, conn, me["access_token"])
    await pipeline.drain()
    assert sent(gateway) == [
        {
            "phone": PHONE,
            "template": "SMS_900102",
            "params": {"matter": "生育津贴申领"},
            "text": "【掌办】您的「生育津贴申领」申请需补正材料，请登录掌办查看并提交。",
        }
    ]
    [sms] = [d for d in await deliveries(conn, "sms") if d["kind"] != "auth.identity_login"]
    assert (sms["status"], sms["reason"]) == ("sent", "sms provider accepted")


async def test_a_kind_not_named_in_the_setting_goes_under_its_own_name(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection, pipeline: Pipeline, gateway: Receiver
) -> None:
    me = await app_citizen(client, clerk, phone=PHONE, name="王芳", id_number=MOTHER)
    h = auth(me["access_token"])
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    task = app["tasks"][0]["id"]
    r = await client.post(f"/v1/dept/tasks/{task}/approve", headers=yibao, json={})
    assert r.status_code == 200, r.text
    await pipeline.drain()
    [completed] = sent(gateway)
    assert completed["template"] == "application.completed"
    assert completed["params"] == {"matter": "生育津贴申领", "outcome": "办理完成"}
    assert completed["text"] == "【掌办】您的「生育津贴申领」申请已办结，结果：办理完成。"
