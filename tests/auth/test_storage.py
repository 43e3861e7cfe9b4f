"""At rest: no table holds an ID number, a verified name, a phone, a session_key or a secret in the clear."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar.testing import AsyncTestClient

from api.config import Settings
from api.kernel.crypto import Keyring
from tests.auth.helpers import (
    ID_ALICE,
    ID_BOB,
    auth,
    credit_code,
    make_staff,
    phone_code,
    proofing_department,
    sms_login,
    wechat_login,
)

ALICE_NAME, BOB_NAME = "欧阳娜娜", "司马光明"
PHONE_WX, PHONE_SMS = "13811112222", "13933334444"


def _texts(value: Any) -> list[bytes]:
    """Every way a value could show a secret: its bytes, or its text."""
    if value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        return [bytes(value)]
    if isinstance(value, str):
        return [value.encode()]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts(v)]
    return [msgspec.json.encode(value)]


async def test_no_table_holds_personal_data_or_secrets_in_the_clear(
    client: AsyncTestClient, sim: httpx.AsyncClient, op: str, conn: asyncpg.Connection, settings: Settings
) -> None:
    # Mini-program: login, phone, face → L3.
    wx = await wechat_login(client, sim)
    await client.post(
        "/v1/auth/wechat/phone", json={"code": await phone_code(sim, PHONE_WX)}, headers=auth(wx["access_token"])
    )
    face = (
        await client.post(
            "/v1/auth/realname/sessions",
            headers=auth(wx["access_token"]),
            json={"name": ALICE_NAME, "id_number": ID_ALICE.lower(), "method": "wechat_face"},
        )
    ).json()
    await sim.post("/_sim/face-results", json={"verify_id": face["verify_id"], "verify_ret": 10000})
    assert (
        await client.post(
            f"/v1/auth/realname/sessions/{face['session_id']}/complete", json={}, headers=auth(wx["access_token"])
        )
    ).status_code == 200
    # App: SMS login, counter session attested by a clerk; one session left open, one failed.
    app = await sms_login(client, PHONE_SMS)
    dept = await proofing_department(client, op, credit_code(90))
    clerk = await make_staff(client, op, dept["id"], "13700009999", ["clerk"], proven=True)
    counter = (
        await client.post(
            "/v1/auth/realname/sessions",
            headers=auth(app["access_token"]),
            json={"name": BOB_NAME, "id_number": ID_BOB, "method": "counter"},
        )
    ).json()
    assert (
        await client.post(
            "/v1/dept/realname/attest",
            json={"session_id": counter["session_id"], "id_number": ID_BOB},
            headers=auth(clerk["access_token"]),
        )
    ).status_code == 200
    await client.post(
        "/v1/auth/realname/sessions",
        headers=auth(app["access_token"]) | {"Idempotency-Key": "k"},
        json={"name": BOB_NAME, "id_number": ID_BOB, "method": "counter"},
    )
    client_made = (
        await client.post(
            f"/v1/admin/departments/{dept['id']}/clients",
            headers=auth(op),
            json={"name": "系统", "scopes": ["records:write"]},
        )
    ).json()
    refreshed = (await client.post("/v1/auth/refresh", json={"refresh_token": wx["refresh_token"]})).json()

    keyring = Keyring.from_settings(settings)
    sealed = await conn.fetchval("SELECT wechat_session_key FROM auth_account WHERE wechat_openid IS NOT NULL")
    session_key = keyring.decrypt_str(sealed, context="auth_account.wechat_session_key")
    needles = {
        "id number": [ID_ALICE, ID_ALICE.lower(), ID_BOB],
        "name": [ALICE_NAME, BOB_NAME],
        "phone": [PHONE_WX, PHONE_SMS],
        "session_key": [session_key, base64.b64decode(session_key)],
        "secret": [wx["refresh_token"], refreshed["refresh_token"], app["refresh_token"], client_made["client_secret"]],
    }

    tables = [
        r["table_name"]
        for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    ]
    assert {
        "person",
        "auth_account",
        "auth_realname_session",
        "auth_refresh_token",
        "auth_refresh_family",
        "auth_client",
        "auth_staff",
        "auth_identity_provider",
        "auth_signing_key",
        "audit_log",
    } <= set(tables)
    scanned = 0
    for table in tables:
        for row in await conn.fetch(f'SELECT * FROM "{table}"'):
            for column, value in row.items():
                for text in _texts(value):
                    scanned += 1
                    for what, values in needles.items():
                        for needle in values:
                            raw = needle if isinstance(needle, bytes) else needle.encode()
                            assert raw not in text, f"{what} in the clear in {table}.{column}"
    assert scanned > 100

    # And the sealed values are really there: the person decrypts to what was proven.
    row = await conn.fetchrow("SELECT name, id_number FROM person WHERE id = $1", refreshed["account"]["person_id"])
    assert keyring.decrypt_str(row["name"], context="person.name") == ALICE_NAME
    assert keyring.decrypt_str(row["id_number"], context="person.id_number") == ID_ALICE
    # Closed sessions keep no copy of the claim; the open one keeps it sealed (the third is the clerk's own proof).
    rows = await conn.fetch("SELECT status, name FROM auth_realname_session ORDER BY created_at")
    assert [(r["status"], r["name"] is None) for r in rows] == [
        ("verified", True),
        ("verified", True),
        ("verified", True),
        ("open", False),
    ]
