"""Seals whose key stays with the department: issuing answers the bytes to sign, the department's own
signature completes the certificate; wrong or late signatures are refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from esign.codec import csr, keys
from tests.esign import api
from tests.esign.api import auth, household, issue, issue_batch, make_seal, problem


async def test_two_step_issue_with_a_department_key(
    app: Litestar, client: AsyncTestClient, police_admin: str, police_issuer: str
) -> None:
    for alg in ("ES256", "SM2"):
        key = keys.generate_key(alg)
        seal = await make_seal(client, police_admin, csr_pem=csr.make_csr(key, common_name="x").decode(), algorithm=alg)
        body = household(seal_id=seal["seal_id"])
        pending = await issue(client, police_issuer, body, status=202)
        assert pending["status"] == "awaiting_signature" and pending["kid"] == seal["kid"] and pending["alg"] == alg
        assert (await issue(client, police_issuer, body, status=202)) == pending  # a replay answers the same
        to_sign = base64.b64decode(pending["to_be_signed"])
        path = f"/v1/dept/certificates/{pending['certificate_id']}/signature"
        wrong = base64.b64encode(keys.sign_raw(keys.generate_key(alg), to_sign)).decode()
        problem(
            await client.post(path, json={"signature": wrong}, headers=auth(police_issuer)), 422, "signature_invalid"
        )
        problem(
            await client.post(path, json={"signature": "***"}, headers=auth(police_issuer)), 422, "signature_invalid"
        )
        signature = base64.b64encode(keys.sign_raw(key, to_sign)).decode()
        keyed = auth(police_issuer) | {"Idempotency-Key": f"sign-{alg}"}
        r = await client.post(path, json={"signature": signature}, headers=keyed)
        assert r.status_code == 201, r.text
        cert = r.json()
        assert cert["id"] == pending["certificate_id"] and cert["seal_kid"] == seal["kid"]
        assert (await api.verify(client, cert["token"]))["valid"] is True
        # A retry with its key gets the certificate again; one without is told it is complete.
        again = await client.post(path, json={"signature": signature}, headers=keyed)
        assert (again.status_code, again.json()) == (201, cert)
        problem(
            await client.post(path, json={"signature": signature}, headers=auth(police_issuer)),
            409,
            "certificate_not_pending",
        )
        assert (await issue(client, police_issuer, body, status=200))["id"] == cert["id"]


async def test_a_late_signature_is_refused_and_the_issue_can_start_again(
    app: Litestar, client: AsyncTestClient, op: str, conn: asyncpg.Connection, police_admin: str, police_issuer: str
) -> None:
    gongan = await api.department_id(conn, "gongan")
    r = await client.post(
        f"/v1/admin/departments/{gongan}/clients",
        headers=auth(op),
        json={"name": "户籍系统", "scopes": ["certificates:issue"]},
    )
    system = r.json()
    key = keys.generate_key("ES256")
    await make_seal(client, police_admin, csr_pem=csr.make_csr(key, common_name="x").decode())
    body = household()  # the department's only official seal is the one it keeps
    pending = await issue(client, police_issuer, body, status=202)
    start = datetime.now(UTC)
    app.state.clock = lambda: start + timedelta(minutes=16)
    # Staff access tokens live 15 minutes: the department's system signs in again at the later time.
    r = await client.post(
        "/v1/auth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": system["client_id"],
            "client_secret": system["client_secret"],
        },
    )
    police_issuer = r.json()["access_token"]
    signature = base64.b64encode(keys.sign_raw(key, base64.b64decode(pending["to_be_signed"]))).decode()
    r = await client.post(
        f"/v1/dept/certificates/{pending['certificate_id']}/signature",
        json={"signature": signature},
        headers=auth(police_issuer),
    )
    problem(r, 409, "signing_window_closed")
    again = await issue(client, police_issuer, body, status=202)
    assert again["certificate_id"] != pending["certificate_id"] and again["licence_id"] != pending["licence_id"]
    del app.state.clock
    problem(
        await client.get(f"/v1/dept/certificates/{again['certificate_id']}", headers=auth(police_issuer)),
        404,
        "certificate_not_found",
    )


async def test_batches_sign_only_with_keys_held_here(
    client: AsyncTestClient, worker: State, police_admin: str, police_issuer: str
) -> None:
    key = keys.generate_key("ES256")
    await make_seal(client, police_admin, csr_pem=csr.make_csr(key, common_name="x").decode())
    (result,) = await issue_batch(client, worker, police_issuer, [household()])
    assert result["status"] == "failed" and result["error"]["type"] == "seal_key_held_by_department"
