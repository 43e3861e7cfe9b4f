"""亮证: a holder shows chosen fields of a certificate as a short-lived QR that verifiers check offline."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from esign import flows as esign_service
from esign.codec import qr, tokens
from esign.state import EsignState
from tests.auth.helpers import assert_problem, auth
from tests.people import citizen, id_number
from tests.wallet import helpers
from tests.wallet.helpers import ID_CARD_FIELDS

ZHANG = id_number("19900101", 41)


async def _holder_with_id_card(
    client: AsyncTestClient, clerk: str, pool: asyncpg.Pool, esign: EsignState, **kw
) -> tuple[dict, str, str]:
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    cert = await helpers.issue(
        pool, esign, "gongan", "id_card", id_number=ZHANG, name="张三", fields={"name": "张三", **ID_CARD_FIELDS}, **kw
    )
    items = (await client.get("/v1/wallet/items", params={"kind": "certificate"}, headers=me)).json()["items"]
    return me, items[0]["id"], str(cert)


async def test_a_presentation_discloses_only_the_chosen_fields_and_verifies_offline(
    client: AsyncTestClient, clerk: str, pool: asyncpg.Pool, esign: EsignState
) -> None:
    me, item, _ = await _holder_with_id_card(client, clerk, pool, esign)
    r = await client.post(
        f"/v1/wallet/items/{item}/present", json={"fields": ["sex"], "ttl_seconds": 120, "png": True}, headers=me
    )
    assert r.status_code == 201, r.text
    shown = r.json()
    now = datetime.now(UTC)
    assert now < datetime.fromisoformat(shown["expires_at"]) <= now + timedelta(seconds=121)
    assert base64.b64decode(shown["png_base64"]).startswith(b"\x89PNG")
    # The QR code holds the URL a phone camera opens: QR_BASE/V/ and the token, escaped.
    assert shown["qr_url"] == qr.qr_url(esign.qr_base, shown["qr"]) and qr.alphanumeric(shown["qr_url"])
    assert base64.b64decode(shown["png_base64"]) == qr.qr_png(shown["qr_url"])

    verify = await helpers.offline_verifier(pool, esign, now)
    assert verify(shown["qr_url"], now).valid  # a verifier app takes the URL as it takes the token
    verdict = verify(shown["qr"], now)
    assert verdict.valid, verdict.reasons
    assert verdict.certificate.kind == "presentation"
    assert [(f.n, f.key, f.label, f.value) for f in verdict.certificate.fields] == [(2, "sex", "性别", "男")]
    assert verdict.certificate.holder_name == "张*"
    # The presentation is over after its time; the verifier says so.
    late = verify(shown["qr"], now + timedelta(seconds=300))
    assert not late.valid and "presentation_expired" in late.reasons
    # A sensitive field may be shown when the holder chooses to.
    r = await client.post(f"/v1/wallet/items/{item}/present", json={"fields": ["address", "name"]}, headers=me)
    assert tokens.decode_token(r.json()["qr"]).claims.fields == {5: ID_CARD_FIELDS["address"], 1: "张三"}


async def test_revoked_suspended_and_expired_certificates_are_not_shown(
    client: AsyncTestClient, clerk: str, pool: asyncpg.Pool, esign: EsignState, conn: asyncpg.Connection, app: Litestar
) -> None:
    me, item, cert = await _holder_with_id_card(
        client, clerk, pool, esign, valid_until=datetime.now(UTC) + timedelta(minutes=2)
    )
    dept = await helpers.department_id(conn, "gongan")
    for action, reason in (("suspend", "suspended"), ("resume", None), ("revoke", "revoked")):
        async with pool.acquire() as c, c.transaction():
            await esign_service.change_status(
                c,
                esign,
                department_id=dept,
                certificate_id=cert,
                action=action,
                reason="测试",
                actor="test",
                now=datetime.now(UTC),
            )
        r = await client.post(f"/v1/wallet/items/{item}/present", json={"fields": ["sex"]}, headers=me)
        if reason is None:
            assert r.status_code == 201
        else:
            body = assert_problem(r, 409, "certificate_not_presentable")
            assert body["reason"] == reason

    _, other, _ = await _holder_with_id_card(
        client, clerk, pool, esign, valid_until=datetime.now(UTC) + timedelta(minutes=2)
    )
    later = datetime.now(UTC) + timedelta(minutes=3)
    app.state.clock = lambda: later
    body = assert_problem(
        await client.post(f"/v1/wallet/items/{other}/present", json={"fields": []}, headers=me),
        409,
        "certificate_not_presentable",
    )
    assert body["reason"] == "expired"


async def test_presenting_needs_a_recent_l3_and_ones_own_item(
    client: AsyncTestClient, clerk: str, pool: asyncpg.Pool, esign: EsignState, app: Litestar
) -> None:
    me, item, _ = await _holder_with_id_card(client, clerk, pool, esign)
    body = assert_problem(
        await client.post(f"/v1/wallet/items/{item}/present", json={"fields": ["nope"]}, headers=me),
        422,
        "presentation_fields_invalid",
    )
    assert body["errors"][0]["field"] == "fields.nope"
    assert_problem(
        await client.post(f"/v1/wallet/items/{item}/present", json={"fields": [], "ttl_seconds": 301}, headers=me),
        422,
        "validation_failed",
    )
    stranger = auth((await citizen(client, clerk, name="李四", id_number=id_number("19800101", 42)))["access_token"])
    assert_problem(
        await client.post(f"/v1/wallet/items/{item}/present", json={"fields": []}, headers=stranger),
        404,
        "wallet_item_not_found",
    )
    later = datetime.now(UTC) + timedelta(minutes=6)
    app.state.clock = lambda: later
    body = assert_problem(
        await client.post(f"/v1/wallet/items/{item}/present", json={"fields": []}, headers=me),
        403,
        "assurance_required",
    )
    assert body["required_level"] == "L3" and body["max_age_seconds"] == 300


async def test_an_idempotency_key_replays_the_same_code(
    client: AsyncTestClient, clerk: str, pool: asyncpg.Pool, esign: EsignState
) -> None:
    me, item, _ = await _holder_with_id_card(client, clerk, pool, esign)
    key = me | {"Idempotency-Key": "present-1"}
    first = await client.post(f"/v1/wallet/items/{item}/present", json={"fields": ["sex"]}, headers=key)
    again = await client.post(f"/v1/wallet/items/{item}/present", json={"fields": ["sex"]}, headers=key)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
