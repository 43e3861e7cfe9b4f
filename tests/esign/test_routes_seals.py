"""Seals over HTTP: made here or from a CSR, listed, rotated, revoked, pictured; every key operation audited."""

from __future__ import annotations

import base64

import asyncpg
from cryptography import x509 as cx509
from litestar.testing import AsyncTestClient

from esign.codec import csr, keys, trustlist, x509
from tests.esign import api
from tests.esign.api import auth, household, issue, make_seal, problem


async def test_create_seals_of_both_algorithms(
    client: AsyncTestClient, police_admin: str, conn: asyncpg.Connection
) -> None:
    es = await make_seal(client, police_admin)
    sm = await make_seal(client, police_admin, name="电子证照专用章（国密）", algorithm="SM2", kind="business")
    assert es["status"] == "active" and es["algorithm"] == "ES256" and es["key_custody"] == "platform"
    assert sm["algorithm"] == "SM2" and sm["kind"] == "business"
    for seal in (es, sm):
        der = cx509.load_pem_x509_certificate(seal["certificate_pem"].encode()).public_bytes(
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER
        )
        info = x509.read_seal_certificate(der)
        assert keys.kid_of(der).hex() == seal["kid"] and info.credit_code == "11430200MB0001074D"
        assert info.department == "株洲市公安局"
    stored = await conn.fetchval(
        "SELECT private_key FROM esign_seal WHERE id = $1", __import__("uuid").UUID(es["seal_id"])
    )
    assert stored is not None and b"PRIVATE" not in stored  # sealed PKCS#8, not PEM in the clear
    actions = [
        r["action"]
        for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE subject = ANY($1::text[])", [es["seal_id"], sm["seal_id"]]
        )
    ]
    assert actions == ["esign.seal_created", "esign.seal_created"]
    r = await client.get("/v1/dept/seals", headers=auth(police_admin))
    assert r.status_code == 200 and [s["seal_id"] for s in r.json()["items"]] == [sm["seal_id"], es["seal_id"]]


async def test_who_may_manage_seals(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, police_admin: str
) -> None:
    issuer = await api.staff(client, op, conn, "gongan", ["issuer"])
    problem(await client.post("/v1/dept/seals", json={"name": "章"}, headers=auth(issuer)), 403, "forbidden")
    problem(await client.get("/v1/dept/seals"), 401, "unauthorized")
    system = await api.dept_system(client, op, conn, "gongan", ["seals:manage"])
    seal = await make_seal(client, system)
    other_admin = await api.staff(client, op, conn, "minzheng", ["dept_admin"])
    r = await client.post(f"/v1/dept/seals/{seal['seal_id']}/revoke", json={"reason": "x"}, headers=auth(other_admin))
    problem(r, 404, "seal_not_found")
    r = await client.get("/v1/dept/seals", headers=auth(other_admin))
    assert r.json()["items"] == []


async def test_a_csr_must_prove_its_key(client: AsyncTestClient, police_admin: str) -> None:
    key = keys.generate_key("SM2")
    seal = await make_seal(client, police_admin, csr_pem=csr.make_csr(key, common_name="冒名单位").decode())
    assert seal["key_custody"] == "department" and seal["algorithm"] == "SM2"
    der = base64.b64decode("".join(seal["certificate_pem"].splitlines()[1:-1]))
    assert x509.read_seal_certificate(der).department == "株洲市公安局"  # named from our records, not the CSR
    r = await client.post(
        "/v1/dept/seals",
        json={
            "name": "章",
            "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        },
        headers=auth(police_admin),
    )
    problem(r, 422, "invalid_csr")
    es_csr = csr.make_csr(keys.generate_key("ES256"), common_name="x").decode()
    r = await client.post(
        "/v1/dept/seals", json={"name": "章", "algorithm": "SM2", "csr_pem": es_csr}, headers=auth(police_admin)
    )
    problem(r, 422, "invalid_csr")


async def test_rotation_keeps_what_the_old_seal_signed(
    client: AsyncTestClient, police_admin: str, police_issuer: str, conn: asyncpg.Connection
) -> None:
    old = await make_seal(client, police_admin)
    before = await issue(client, police_issuer, household())
    keyed = auth(police_admin) | {"Idempotency-Key": "rotate-1"}
    r = await client.post(f"/v1/dept/seals/{old['seal_id']}/rotate", json={"algorithm": "SM2"}, headers=keyed)
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["replaces"] == old["seal_id"] and new["algorithm"] == "SM2" and new["name"] == old["name"]
    # The answer was lost and the request comes again with its key: the same new seal, no second rotation.
    again = await client.post(f"/v1/dept/seals/{old['seal_id']}/rotate", json={"algorithm": "SM2"}, headers=keyed)
    assert (again.status_code, again.json()) == (201, new)
    after = await issue(client, police_issuer, household())
    assert after["seal_kid"] == new["kid"]
    assert (await api.verify(client, before["token"]))["valid"] is True
    assert (await api.verify(client, after["token"]))["valid"] is True
    listed = {s["seal_id"]: s for s in (await client.get("/v1/dept/seals", headers=auth(police_admin))).json()["items"]}
    assert listed[old["seal_id"]]["status"] == "retired" and listed[old["seal_id"]]["retired_at"]
    r = await client.post(f"/v1/dept/seals/{old['seal_id']}/rotate", json={}, headers=auth(police_admin))
    problem(r, 409, "seal_not_active")
    trust = trustlist.parse_trust_list(
        (await client.get("/v1/trust-list")).text, (await conn.fetchval("SELECT root_certificate FROM esign_platform"))
    )
    retired = next(s for s in trust.seals if s.kid.hex() == old["kid"])
    assert retired.status == "active" and retired.valid_until < int(__import__("time").time()) + 5
    actions = await conn.fetch("SELECT action FROM audit_log WHERE action LIKE 'esign.seal%' ORDER BY seq")
    assert [a["action"] for a in actions][-3:] == ["esign.seal_created", "esign.seal_created", "esign.seal_retired"]


async def test_revoking_a_seal_fails_everything_it_signed(
    client: AsyncTestClient, police_admin: str, police_issuer: str, police_seal: dict
) -> None:
    cert = await issue(client, police_issuer, household())
    r = await client.post(
        f"/v1/dept/seals/{police_seal['seal_id']}/revoke", json={"reason": "key leaked"}, headers=auth(police_admin)
    )
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    verdict = await api.verify(client, cert["token"])
    assert verdict["valid"] is False and verdict["reasons"] == ["seal_revoked"]
    # API.md names no body for a seal's revoke: a client may send none.
    r = await client.post(f"/v1/dept/seals/{police_seal['seal_id']}/revoke", headers=auth(police_admin))
    problem(r, 409, "seal_not_active")
    problem(
        await client.post("/v1/dept/certificates", json=household(), headers=auth(police_issuer)), 409, "no_active_seal"
    )


async def test_seal_picture(client: AsyncTestClient, police_seal: dict) -> None:
    r = await client.get(f"/v1/seals/{police_seal['kid']}/image.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    svg = r.text
    assert svg.startswith("<svg") and "<polygon" in svg and "电子证照专用章" in svg
    assert all(ch in svg for ch in "株洲市公安局")
    problem(await client.get("/v1/seals/0000000000000000/image.svg"), 404, "seal_not_found")
    r = await client.get("/v1/seals/not-hex/image.svg")
    assert r.status_code in (400, 404, 422)


async def test_certificates_default_to_the_seal_for_certificates(
    client: AsyncTestClient, police_admin: str, police_issuer: str
) -> None:
    r = await client.post("/v1/dept/certificates", json=household(), headers=auth(police_issuer))
    doc = problem(r, 409, "no_active_seal")
    assert "电子证照专用章" in doc["title"] and "business" in doc["detail"] and "official" in doc["detail"]
    # A department whose only seal is its 电子证照专用章 (kind business) issues with it.
    business = await make_seal(client, police_admin, kind="business")
    assert (await issue(client, police_issuer, household()))["seal_kid"] == business["kid"]
    # An official seal made later does not take over: certificates keep the seal for certificates.
    official = await make_seal(client, police_admin, name="株洲市公安局", kind="official")
    assert (await issue(client, police_issuer, household()))["seal_kid"] == business["kid"]
    # Without an active 电子证照专用章, the official seal serves.
    r = await client.post(
        f"/v1/dept/seals/{business['seal_id']}/revoke", json={"reason": "replaced"}, headers=auth(police_admin)
    )
    assert r.status_code == 200
    assert (await issue(client, police_issuer, household()))["seal_kid"] == official["kid"]
    # Naming a seal still picks that one.
    named = await make_seal(client, police_admin, kind="business")
    other = await make_seal(client, police_admin, name="株洲市公安局", kind="official")
    body = household(seal_id=other["seal_id"])
    assert (await issue(client, police_issuer, body))["seal_kid"] == other["kid"]
    assert (await issue(client, police_issuer, household()))["seal_kid"] == named["kid"]
