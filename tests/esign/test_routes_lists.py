"""The trust list and status lists over HTTP: signed by the root, ETag and 304, signed again when a seal
changes and at least every 12 hours; the platform CA is made once even when workers start together."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.kernel.crypto import Keyring
from esign import ca
from esign.codec import statuslist, trustlist
from esign.codec.x509 import load_certificate
from tests.esign import api
from tests.esign.api import auth, household, issue, problem


async def _root(conn: asyncpg.Connection) -> bytes:
    return await conn.fetchval("SELECT root_certificate FROM esign_platform")


async def test_trust_list_is_signed_cached_and_conditional(
    client: AsyncTestClient, conn: asyncpg.Connection, police_admin: str
) -> None:
    r = await client.get("/v1/trust-list")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jwt")
    etag = r.headers["etag"]
    trust = trustlist.parse_trust_list(r.text, await _root(conn))
    assert [s.role for s in trust.seals] == ["presenter"] and trust.iss == "http://127.0.0.1:8000"
    again = await client.get("/v1/trust-list")
    assert again.text == r.text and again.headers["etag"] == etag  # served from the cache, not signed again
    r304 = await client.get("/v1/trust-list", headers={"If-None-Match": f'W/{etag}, "other"'})
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == etag

    seal = await api.make_seal(client, police_admin)
    changed = await client.get("/v1/trust-list", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    trust = trustlist.parse_trust_list(changed.text, await _root(conn))
    entry = next(s for s in trust.seals if s.kid.hex() == seal["kid"])
    assert (entry.role, entry.status, entry.department_name, entry.credit_code) == (
        "issuer",
        "active",
        "株洲市公安局",
        "11430200MB0001074D",
    )


async def test_lists_are_signed_again_within_a_day(
    app: Litestar, client: AsyncTestClient, conn: asyncpg.Connection, police_issuer: str, police_seal: dict
) -> None:
    cert = await issue(client, police_issuer, household())
    first = await client.get("/v1/trust-list")
    status_url = f"/v1/status-lists/{cert['status_ref']['list_id']}"
    first_status = await client.get(status_url)
    start = datetime.now(UTC)
    app.state.clock = lambda: start + timedelta(hours=13)
    later = await client.get("/v1/trust-list")
    later_status = await client.get(status_url)
    assert (
        later.headers["etag"] != first.headers["etag"] and later_status.headers["etag"] != first_status.headers["etag"]
    )
    trust = trustlist.parse_trust_list(later.text, await _root(conn))
    assert trust.freshness(start + timedelta(hours=13)) == "fresh"
    assert trust.next_update - trust.iat == 24 * 3600 and trust.grace_until - trust.iat == 7 * 24 * 3600
    assert (await api.verify(client, cert["token"]))["valid"] is True
    del app.state.clock


async def test_status_lists(
    client: AsyncTestClient, conn: asyncpg.Connection, police_issuer: str, police_seal: dict
) -> None:
    cert = await issue(client, police_issuer, household())
    list_id = cert["status_ref"]["list_id"]
    r = await client.get(f"/v1/status-lists/{list_id}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/statuslist+jwt")
    parsed = statuslist.parse_status_list(
        r.text, load_certificate(await _root(conn)).public_key(), url=f"http://127.0.0.1:8000/v1/status-lists/{list_id}"
    )
    assert parsed.status(cert["status_ref"]["index"]) == statuslist.VALID and len(parsed.bits) == statuslist.SIZE
    assert (
        await client.get(f"/v1/status-lists/{list_id}", headers={"If-None-Match": r.headers["etag"]})
    ).status_code == 304
    problem(await client.get("/v1/status-lists/999999"), 404, "status_list_not_found")
    problem(await client.get("/v1/status-lists/0"), 404, "status_list_not_found")
    trust = trustlist.parse_trust_list((await client.get("/v1/trust-list")).text, await _root(conn))
    assert trust.status_lists[list_id].url == f"http://127.0.0.1:8000/v1/status-lists/{list_id}"


async def test_root_certificate_is_served_for_pinning(client: AsyncTestClient, conn: asyncpg.Connection) -> None:
    r = await client.get("/v1/root-certificate")
    assert r.status_code == 200 and r.text.startswith("-----BEGIN CERTIFICATE-----")
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives.serialization import Encoding

    assert cx509.load_pem_x509_certificate(r.content).public_bytes(Encoding.DER) == await _root(conn)


async def test_the_platform_is_made_once_when_workers_start_together(database_url: str, settings: object) -> None:
    from api.kernel import db

    keyring = Keyring.from_settings(settings)  # type: ignore[arg-type]
    conns = [await db.connect(database_url, audit_key=keyring.audit_key) for _ in range(4)]
    try:
        await conns[0].execute("DELETE FROM esign_seal; DELETE FROM esign_platform")

        async def start(conn: asyncpg.Connection) -> bool:
            async with conn.transaction():
                return await ca.ensure_platform(conn, keyring, now=datetime.now(UTC))

        made = await asyncio.gather(*(start(c) for c in conns))
        assert sorted(made) == [False, False, False, True]
        assert await conns[0].fetchval("SELECT count(*) FROM esign_platform") == 1
        assert await conns[0].fetchval("SELECT count(*) FROM esign_seal WHERE role = 'presenter'") == 1
        loaded = [await ca.load_platform(c, keyring) for c in conns]
        assert len({p.root_cert for p in loaded}) == 1 and len({p.presenter.kid for p in loaded}) == 1
    finally:
        for c in conns:
            await c.close()


async def test_seal_changes_reach_verifiers(client: AsyncTestClient, police_admin: str) -> None:
    seal = await api.make_seal(client, police_admin)
    r = await client.post(
        f"/v1/dept/seals/{seal['seal_id']}/revoke", json={"reason": "retired key"}, headers=auth(police_admin)
    )
    assert r.status_code == 200
    text = (await client.get("/v1/trust-list")).text
    payload = __import__("jwt").decode(text, options={"verify_signature": False})
    entry = next(s for s in payload["seals"] if s["kid"] == seal["kid"])
    assert entry["status"] == "revoked"


async def test_a_full_status_list_opens_the_next(
    client: AsyncTestClient, conn: asyncpg.Connection, police_issuer: str, police_seal: dict
) -> None:
    await conn.execute("SELECT setval('esign_status_slot_seq', $1)", 2 * statuslist.SLOTS - 2)
    last = await issue(client, police_issuer, household())
    first = await issue(client, police_issuer, household(api.ID_BOB))
    assert last["status_ref"] == {"list_id": 1, "index": statuslist.SLOTS - 1}
    assert first["status_ref"] == {"list_id": 2, "index": 0}
    trust = trustlist.parse_trust_list((await client.get("/v1/trust-list")).text, await _root(conn))
    assert {1, 2} <= set(trust.status_lists)
    for cert in (last, first):
        assert (await api.verify(client, cert["token"]))["valid"] is True
