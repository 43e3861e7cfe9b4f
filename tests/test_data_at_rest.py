"""Data at rest: after one of everything is made through the API, no column holds personal data in the clear.

The world (tests/authz/world.py) has SMS logins with phone numbers, real-name checks at a window,
certificates with sensitive fields, a department's wallet record, a guardianship, a consent,
an application, feedback, a draft, notifications and webhooks. This test adds a WeChat login with
its session key and a bound phone, an application whose form carries an ID number and a bank
account, a draft holding an ID number, and a complaint whose text names an ID number, a phone number
and a name. Then every text, bytea, json(b) and array column of
every table, as information_schema lists them, is searched for the ID numbers, the names given to
real-name checks, the phone numbers and the WeChat session key, in plain and JSON-escaped form.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from auth import wechat_sim_state
from tests import at_rest
from tests.auth.helpers import auth
from tests.authz.conftest import http, live, redis_url, settings, wechat_url, world  # noqa: F401 - fixtures
from tests.authz.world import (
    ALICE_ID,
    ALICE_NAME,
    BANK_ACCOUNT,
    BOB_ID,
    BOB_NAME,
    CHILD_ID,
    CHILD_NAME,
    HEAD,
    PNG_SHA,
    World,
)

WECHAT_PHONE = "13712345678"


@pytest.fixture
def session_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Session keys the (in-process) WeChat simulator hands out, to look for them afterwards."""
    seen: list[str] = []
    original = wechat_sim_state.SimState.code2session

    def recording(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = original(self, *args, **kwargs)
        seen.append(answer["session_key"])
        return answer

    monkeypatch.setattr(wechat_sim_state.SimState, "code2session", recording)
    yield seen


@pytest.fixture
async def sim(wechat_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=wechat_url, timeout=10) as c:
        yield c


async def _more(http: httpx.AsyncClient, sim: httpx.AsyncClient, world: World) -> None:
    """What the world lacks: a WeChat login with a bound phone, ID numbers in a form and in a draft."""
    code = (await sim.post("/_sim/login-codes", json={})).json()["code"]
    r = await http.post("/v1/auth/wechat/login", json={"code": code})
    assert r.status_code == 200, r.text
    wx = r.json()["access_token"]
    phone_code = (await sim.post("/_sim/phone-codes", json={"phone": WECHAT_PHONE})).json()["code"]
    r = await http.post("/v1/auth/wechat/phone", json={"code": phone_code}, headers=auth(wx))
    assert r.status_code == 200, r.text
    alice = auth(world.tokens["citizen"] or "")
    r = await http.post(
        "/v1/applications",
        headers=alice,
        json={
            "id": str(uuid.uuid4()),
            "matter_code": "430200-YB-003",
            "form": {"mother_id_number": ALICE_ID, "bank_account_no": BANK_ACCOUNT},
            "materials": [
                {"code": c, "blob_sha256": PNG_SHA}
                for c in ("mother_id_card", "birth_medical_certificate", "bank_account", "hospital_invoice")
            ],
            "deferred_materials": ["marriage_certificate"],
        },
    )
    assert r.status_code == 201, r.text
    # Free text carrying an ID number and a phone number, as citizens write them.
    r = await http.post(
        "/v1/feedback",
        headers=alice,
        json={
            "kind": "complaint",
            "matter_code": "430200-YB-003",
            "text": f"我的身份证{ALICE_ID}登记错了，请打{world.phones['alice']}联系{ALICE_NAME}",
        },
    )
    assert r.status_code == 201, r.text
    r = await http.post(
        "/v1/sync/push",
        headers=alice,
        json={
            "client_id": str(uuid.uuid4()),
            "mutations": [
                {
                    "id": str(uuid.uuid4()),
                    "seq": 1,
                    "name": "draft.save",
                    "args": {
                        "draft_id": str(uuid.uuid4()),
                        "matter_code": "430200-YB-003",
                        "form": {"mother_id_number": ALICE_ID, "bank_account_no": BANK_ACCOUNT},
                    },
                }
            ],
        },
    )
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "applied", r.text


async def test_no_personal_data_in_the_clear(
    http: httpx.AsyncClient, sim: httpx.AsyncClient, world: World, session_keys: list[str], conn: asyncpg.Connection
) -> None:
    await _more(http, sim, world)
    assert session_keys, "the WeChat login never reached the simulator"
    secrets = {
        "ID number": [ALICE_ID, BOB_ID, CHILD_ID],
        "real-name name": [ALICE_NAME, BOB_NAME, CHILD_NAME],
        "phone number": [*world.phones.values(), WECHAT_PHONE],
        "WeChat session key": session_keys,
    }
    kinds = {form: kind for kind, values in secrets.items() for v in values for form in at_rest.forms(v)}
    # Sanity: the values really were sent and stored somewhere (masked or sealed) before we look for them.
    assert await conn.fetchval("SELECT count(*) FROM person") >= 3

    columns = await at_rest.columns(conn)
    findings = []
    rows = 0
    for table, column, data_type in columns:
        for hit in await at_rest.found(conn, table, column, data_type, list(kinds)):
            findings.append(f"{table}.{column}: {kinds[hit]} {hit[:3]}…")
    # The search itself works: a non-sensitive certificate field (the household head) is stored as is.
    control = [f"{t}.{c}" for t, c, d in columns if HEAD in await at_rest.found(conn, t, c, d, [HEAD])]
    assert control, "the search did not find a value known to be stored in the clear"
    tables = {t for t, _, _ in columns}
    for table in tables:
        rows += await conn.fetchval(f'SELECT count(*) FROM "{table}"')
    print(
        f"data at rest: {len(columns)} columns of {len(tables)} tables ({rows} rows) searched for "
        f"{len(kinds)} values ({', '.join(f'{len(v)} {k}' for k, v in secrets.items())}); {len(findings)} in the clear"
    )
    assert not findings, "\n".join(findings)
