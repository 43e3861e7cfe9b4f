"""亮证 offline (``ZB2:``): a holder registers a device after an L3 proof, its credentials arrive by sync, the
device makes presentations with no network, the server and its page verify them, and revoking the device
revokes its credentials in the status lists."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.config import Settings
from esign import flows, lists, seals
from esign.codec import keys, statuslist, tokens, zb2
from esign.models import HolderIn, IssueIn
from esign.state import EsignState
from esign.store import seal as seal_store
from tests.auth.helpers import assert_problem, auth, operator, sms_login
from tests.esign.helpers import device_key
from tests.people import citizen, id_number, next_phone, staff
from tests.wallet.helpers import ID_CARD_FIELDS, offline_verifier

ZHANG = id_number("19880808", 17)


@pytest.fixture
async def clerk(client: AsyncTestClient, conn: asyncpg.Connection, settings: Settings) -> str:
    return await staff(client, await operator(conn, settings), conn, "shenpi", ["clerk"], proven=True)


async def _issue(
    pool: asyncpg.Pool, esign: EsignState, dept_key: str, type_code: str, fields: dict, algorithm: str | None = None
) -> object:
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        dept = await conn.fetchval("SELECT id FROM department WHERE key = $1", dept_key)
        if await seal_store.default_seal(conn, dept, now=now) is None:
            department = await seal_store.get_department(conn, dept)
            await seals.create_seal(
                conn,
                esign,
                department,
                name="电子证照专用章",
                kind="official",
                algorithm=algorithm,
                csr_pem=None,
                actor="test",
                now=now,
            )
        item = IssueIn(
            type_code=type_code,
            holder=HolderIn(name="张三", id_number=ZHANG),
            fields=fields,
            external_ref=f"zb2-{type_code}",
        )
        return (
            await flows.issue_certificate(conn, esign, department_id=dept, item=item, actor="test", now=now)
        ).certificate_id


async def _credentials(client: AsyncTestClient, me: dict) -> dict[str, dict]:
    r = await client.get("/v1/sync/pull", headers=me)
    assert r.status_code == 200, r.text
    out: dict[str, dict] = {}
    for change in r.json()["changes"]:
        if change["entity"] == "device_credential":
            out[change["id"]] = change.get("data")
    return out


async def _verify(client: AsyncTestClient, token: str, **extra: str) -> dict:
    r = await client.post("/v1/verify", json={"token": token, **extra})
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_device_shows_a_certificate_offline_until_it_is_revoked(
    app: Litestar,
    client: AsyncTestClient,
    clerk: str,
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    settings: Settings,
) -> None:
    esign: EsignState = app.state.esign
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    await _issue(pool, esign, "gongan", "id_card", {"name": "张三", **ID_CARD_FIELDS})
    device = keys.generate_key("ES256")
    body = {"public_key": device_key(device), "label": "我的手机", "key_storage": "non_extractable"}

    # Registering needs a person (实人认证 done) and L3 proven within 300 s.
    anonymous = auth((await sms_login(client, next_phone()))["access_token"])
    assert_problem(await client.post("/v1/devices", json=body, headers=anonymous), 403, "identity_required")
    later = datetime.now(UTC) + timedelta(minutes=10)
    app.state.clock = lambda: later
    refused = assert_problem(await client.post("/v1/devices", json=body, headers=me), 403, "assurance_required")
    assert refused["required_level"] == "L3" and refused["max_age_seconds"] == 300
    app.state.clock = lambda: datetime.now(UTC)
    r = await client.post("/v1/devices", json=body, headers=me)
    assert r.status_code == 201, r.text
    registered = r.json()
    assert registered["status"] == "active" and registered["credentials"] == 1 and registered["label"] == "我的手机"
    assert_problem(await client.post("/v1/devices", json=body, headers=me), 409, "device_key_registered")
    assert_problem(
        await client.post("/v1/devices", json=body | {"public_key": "AAAA" * 11}, headers=me), 422, "device_key_invalid"
    )
    # The label is sealed at rest.
    assert "我的手机".encode() not in await conn.fetchval("SELECT label FROM esign_device")

    # The credential arrives by sync, for this device.
    credentials = await _credentials(client, me)
    (entry,) = credentials.values()
    assert entry["device_id"] == registered["id"] and entry["type_code"] == "id_card" and entry["alg"] == "ES256"
    credential = base64.urlsafe_b64decode(entry["credential"] + "==")
    assert ID_CARD_FIELDS["address"].encode("gb18030") not in await conn.fetchval(
        "SELECT credential FROM esign_device_credential"
    )  # every field is in it: sealed at rest

    # The phone is offline: it makes a presentation of two fields by itself.
    now = datetime.now(UTC)
    numbers = {"sex": 2, "birth_date": 4}
    token = zb2.present(credential, numbers.values(), device, now=now)
    verdict = await _verify(client, token)
    assert verdict["valid"], verdict
    assert [(f["key"], f["value"]) for f in verdict["certificate"]["fields"]] == [
        ("sex", "男"),
        ("birth_date", "1990-01-01"),
    ]
    assert verdict["certificate"]["holder_bound"] is True
    page = await client.get("/V/" + quote(token, safe=""))
    assert "亮证码有效" in page.text and "持证人设备离线生成" in page.text
    # A presentation the server made (ZB1:, for a client without a device key) is marked as such.
    r = await client.post(f"/v1/wallet/items/{entry['wallet_item_id']}/present", json={"fields": ["sex"]}, headers=me)
    assert r.status_code == 201, r.text
    made = await client.get("/V/" + quote(r.json()["qr"], safe=""))
    assert "亮证码有效" in made.text and "服务端生成（未绑定持证人设备）" in made.text
    assert (await _verify(client, r.json()["qr"]))["certificate"]["holder_bound"] is False

    # Refused, each with its reason: tampered, replayed late, a nonce not carried, another key.
    flipped = token[:80] + ("A" if token[80] != "A" else "B") + token[81:]
    assert not (await _verify(client, flipped))["valid"]
    nonce = base64.urlsafe_b64encode(b"verifier-nonce-1").decode().rstrip("=")
    assert (await _verify(client, token, cnonce=nonce))["reasons"] == ["nonce"]
    with_nonce = zb2.present(credential, [2], device, now=now, cnonce=b"verifier-nonce-1")
    assert (await _verify(client, with_nonce, cnonce=nonce))["valid"]
    stolen = zb2.present(credential, [2], keys.generate_key("ES256"), now=now)
    assert (await _verify(client, stolen))["reasons"] == ["holder_binding"]
    late = now + timedelta(seconds=400)
    app.state.clock = lambda: late
    assert (await _verify(client, token))["reasons"] == ["presentation_expired"]
    app.state.clock = lambda: datetime.now(UTC)
    # A verifier app offline, with the lists it downloaded, says what the server says.
    offline = await offline_verifier(pool, esign, now)
    for shown in (token, flipped, with_nonce, stolen, "ZB2:" + token[4:40]):
        server = await _verify(client, shown)
        local = offline(shown, now)
        assert (server["valid"], server["reasons"], server["checks"]) == (local.valid, local.reasons, local.checks)

    # The holder revokes the device: its credential's slot is revoked and the device loses the credential.
    r = await client.delete(f"/v1/devices/{registered['id']}", headers=me)
    assert r.status_code == 200 and r.json()["status"] == "revoked" and r.json()["revoked_by"] == "holder"
    assert (await _verify(client, zb2.present(credential, [2], device, now=datetime.now(UTC))))["reasons"] == [
        "revoked"
    ]
    slot = entry["status_ref"]
    signed = (await client.get(f"/v1/status-lists/{slot['list_id']}")).text
    assert esign.status_list(slot["list_id"], signed).status(slot["index"]) == statuslist.REVOKED
    assert await _credentials(client, me) == {}  # gone from the state the device mirrors
    listed = (await client.get("/v1/devices", headers=me)).json()["items"]
    assert [(d["id"], d["status"], d["credentials"]) for d in listed] == [(registered["id"], "revoked", 0)]


async def test_an_operator_revokes_a_lost_phone_and_sm2_certificates_get_sm2_credentials(
    app: Litestar,
    client: AsyncTestClient,
    clerk: str,
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    settings: Settings,
) -> None:
    esign: EsignState = app.state.esign
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    await _issue(
        pool,
        esign,
        "minzheng",
        "marriage_certificate",
        {"spouse_name": "李四", "registered_on": "2020-05-20", "registry": "株洲市天元区民政局"},
        "SM2",
    )
    device = keys.generate_key("ES256")
    r = await client.post("/v1/devices", json={"public_key": device_key(device), "label": "旧手机"}, headers=me)
    assert r.status_code == 201, r.text
    (entry,) = (await _credentials(client, me)).values()
    assert entry["alg"] == "SM2"
    credential = base64.urlsafe_b64decode(entry["credential"] + "==")
    assert zb2.decode_credential(credential).alg == "SM2"
    verdict = await _verify(client, zb2.present(credential, [1], device, now=datetime.now(UTC)))
    assert verdict["valid"], verdict

    op = await operator(conn, settings)
    person = (
        await client.get(
            "/v1/admin/persons/" + str(await conn.fetchval("SELECT person_id FROM esign_device")) + "/devices",
            headers=auth(op),
        )
    ).json()["items"]
    assert [d["label"] for d in person] == ["旧手机"]
    assert_problem(
        await client.post(f"/v1/admin/devices/{person[0]['id']}/revoke", json={"reason": "x"}, headers=me),
        403,
        "forbidden",
    )
    r = await client.post(
        f"/v1/admin/devices/{person[0]['id']}/revoke", json={"reason": "持证人来电报失"}, headers=auth(op)
    )
    assert r.status_code == 200 and r.json()["revoked_by"] == "operator"
    assert (await _verify(client, zb2.present(credential, [1], device, now=datetime.now(UTC))))["reasons"] == [
        "revoked"
    ]
    audited = await conn.fetchrow("SELECT actor, data FROM audit_log WHERE action = 'esign.device_revoked'")
    assert audited is not None and "持证人来电报失" in str(audited["data"])


async def test_credentials_are_refreshed_before_they_expire_and_withdrawn_with_their_certificate(
    app: Litestar,
    client: AsyncTestClient,
    clerk: str,
    pool: asyncpg.Pool,
) -> None:
    from esign import devices

    esign: EsignState = app.state.esign
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    cert = await _issue(pool, esign, "gongan", "id_card", {"name": "张三", **ID_CARD_FIELDS})
    device = keys.generate_key("ES256")
    assert (
        await client.post("/v1/devices", json={"public_key": device_key(device), "label": "手机"}, headers=me)
    ).status_code == 201
    (first,) = (await _credentials(client, me)).values()
    five_days = datetime.now(UTC) + timedelta(days=5)
    async with pool.acquire() as c, c.transaction():
        assert await devices.refresh(c, esign, now=five_days) == 1
    (renewed,) = (await _credentials(client, me)).values()
    assert renewed["status_ref"] == first["status_ref"] and renewed["expires_at"] > first["expires_at"]
    assert tokens.decode_token  # the ZB1: token is untouched by credentials
    async with pool.acquire() as c, c.transaction():
        dept = await c.fetchval("SELECT id FROM department WHERE key = 'gongan'")
        await flows.change_status(
            c,
            esign,
            department_id=dept,
            certificate_id=cert,
            action="revoke",
            reason="测试",
            actor="test",
            now=datetime.now(UTC),
        )
        assert await devices.refresh(c, esign, now=datetime.now(UTC)) == 1
        await lists.status_list_token(c, esign, 1, now=datetime.now(UTC))
    assert await _credentials(client, me) == {}
