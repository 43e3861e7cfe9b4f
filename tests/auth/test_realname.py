"""Real-person authentication: every failure path answers its named problem and reason."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm
from litestar.testing import AsyncTestClient

from api.app import all_jobs
from auth.jobs import forget_expired_sessions
from tests.auth.helpers import (
    ID_ALICE,
    ID_BOB,
    assert_problem,
    auth,
    sms_login,
    wechat_login,
)

SESSIONS = "/v1/auth/realname/sessions"
ISSUER = "https://ctid.example.gov.cn"


@pytest.fixture
async def provider(client: AsyncTestClient, op: str) -> ec.EllipticCurvePrivateKey:
    """A registered identity provider allowed up to L2; its signing key."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    r = await client.post(
        "/v1/admin/identity-providers",
        headers=auth(op),
        json={"name": "CTID", "issuer": ISSUER, "public_key_pem": pem.decode()},
    )
    assert r.status_code == 201, r.text
    return key


# The audience a provider registered without one expects: the test server's public base URL.
AUDIENCE = "http://127.0.0.1:8000"


def _assertion(key: Any, session: dict, *, id_number: str = ID_ALICE, alg: str = "ES256", **over: Any) -> str:
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": hashlib.sha256(id_number.encode()).hexdigest(),
        "nonce": session["nonce"],
        "acr": "L2",
        "exp": int(time.time()) + 300,
        "iat": int(time.time()),
    } | over
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": over.get("kid")} if "kid" in over else None)


async def _open(
    client: AsyncTestClient, token: str, method: str = "assertion", id_number: str = ID_ALICE, **headers: str
) -> dict:
    r = await client.post(
        SESSIONS, json={"name": "张三", "id_number": id_number, "method": method}, headers=auth(token) | headers
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _complete(client: AsyncTestClient, token: str, session: dict, body: dict | None = None) -> httpx.Response:
    return await client.post(f"{SESSIONS}/{session['session_id']}/complete", json=body or {}, headers=auth(token))


@pytest.mark.parametrize(
    "id_number",
    ["110105194912310021", "11010519491231002", "110105194913310028", "11010520991231002X", "ABCDEFGHIJKLMNOPQR"],
)
async def test_id_number_must_pass_gb_11643(client: AsyncTestClient, sim: httpx.AsyncClient, id_number: str) -> None:
    pair = await wechat_login(client, sim)
    r = await client.post(
        SESSIONS, json={"name": "张三", "id_number": id_number, "method": "counter"}, headers=auth(pair["access_token"])
    )
    body = assert_problem(r, 422, "id_number_invalid")
    assert body["errors"][0]["field"] == "id_number" and id_number not in r.text


async def test_bad_session_bodies(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    pair = await wechat_login(client, sim)
    r = await client.post(
        SESSIONS,
        json={"name": "张三", "id_number": ID_ALICE, "method": "telepathy"},
        headers=auth(pair["access_token"]),
    )
    assert_problem(r, 422, "validation_failed")
    assert_problem(
        await client.post(SESSIONS, json={"name": "张三", "id_number": ID_ALICE, "method": "counter"}),
        401,
        "unauthorized",
    )


async def test_face_needs_a_wechat_login(client: AsyncTestClient) -> None:
    pair = await sms_login(client, "13800000001")
    r = await client.post(
        SESSIONS,
        json={"name": "张三", "id_number": ID_ALICE, "method": "wechat_face"},
        headers=auth(pair["access_token"]),
    )
    assert_problem(r, 422, "realname_method_unavailable")


async def test_failed_face_closes_the_session(
    client: AsyncTestClient, sim: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    pair = await wechat_login(client, sim)
    session = await _open(client, pair["access_token"], "wechat_face")
    await sim.post("/_sim/face-results", json={"verify_id": session["verify_id"], "verify_ret": 90002})
    body = assert_problem(await _complete(client, pair["access_token"], session), 422, "realname_failed")
    assert body["reason"] == "face_not_passed" and body["verify_ret"] == 90002
    # Even a later pass does not reopen it.
    await sim.post("/_sim/face-results", json={"verify_id": session["verify_id"], "verify_ret": 10000})
    assert_problem(await _complete(client, pair["access_token"], session), 409, "realname_session_closed")
    assert await conn.fetchval("SELECT assurance_level FROM auth_account") == 1
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'realname.failed'") == 1


async def test_sessions_belong_to_their_account_and_expire(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    mine, theirs = await wechat_login(client, sim), await wechat_login(client, sim)
    session = await _open(client, mine["access_token"], "wechat_face")
    assert_problem(await _complete(client, theirs["access_token"], session), 404, "realname_session_not_found")
    unknown = {"session_id": "01890000-0000-7000-8000-000000000000"}
    assert_problem(await _complete(client, mine["access_token"], unknown), 404, "realname_session_not_found")
    await sim.post("/_sim/face-results", json={"verify_id": session["verify_id"], "verify_ret": 10000})
    client.app.state.clock = lambda: datetime.now(UTC) + timedelta(minutes=16)
    later = (await client.post("/v1/auth/refresh", json={"refresh_token": mine["refresh_token"]})).json()
    assert_problem(await _complete(client, later["access_token"], session), 409, "realname_session_closed")


async def test_a_session_left_open_forgets_the_name_and_id_number_once_expired(
    client: AsyncTestClient, sim: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    abandoned, live = await wechat_login(client, sim), await wechat_login(client, sim)
    session = await _open(client, abandoned["access_token"], "wechat_face")
    state = SimpleNamespace(pool=pool)
    assert await forget_expired_sessions(state) == 0
    later = datetime.now(UTC) + timedelta(minutes=16)
    await _open(client, live["access_token"], "wechat_face", id_number=ID_BOB)
    await pool.execute(
        "UPDATE auth_realname_session SET expires_at = now() + interval '1 hour' WHERE id <> $1",
        uuid.UUID(session["session_id"]),
    )
    assert await forget_expired_sessions(state, now=later) == 1
    rows = await pool.fetch("SELECT id, name, id_number, id_number_index FROM auth_realname_session ORDER BY id")
    forgotten = next(r for r in rows if str(r["id"]) == session["session_id"])
    kept = next(r for r in rows if str(r["id"]) != session["session_id"])
    assert forgotten["name"] is None and forgotten["id_number"] is None and forgotten["id_number_index"]
    assert kept["name"] is not None and kept["id_number"] is not None
    client.app.state.clock = lambda: later
    await sim.post("/_sim/face-results", json={"verify_id": session["verify_id"], "verify_ret": 10000})
    again = (await client.post("/v1/auth/refresh", json={"refresh_token": abandoned["refresh_token"]})).json()
    assert_problem(await _complete(client, again["access_token"], session), 409, "realname_session_closed")
    assert "auth.forget_expired_realname_sessions" in {job.name for job in all_jobs()}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"nonce": "another-session"}, "nonce_mismatch"),
        ({"id_number": ID_BOB}, "subject_mismatch"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"acr": "L1"}, "acr_too_low"),
        ({"acr": "L3"}, "acr_not_allowed"),
        ({"acr": None}, "malformed"),
        ({"iss": "https://unknown.example"}, "issuer_unknown"),
        ({"iss": ISSUER + "/"}, "issuer_unknown"),  # the issuer is pinned: exactly as registered
        ({"foreign_key": True}, "signature"),
        ({"aud": None}, "audience_missing"),
        ({"aud": "https://another-relying-party.example"}, "audience_mismatch"),
        ({"aud": [AUDIENCE, "https://another-relying-party.example"]}, "audience_mismatch"),
        ({"iat": None}, "lifetime_unbounded"),
        ({"exp": None}, "lifetime_unbounded"),
        ({"exp": int(time.time()) + 86400}, "lifetime_too_long"),
        ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3900}, "issued_in_future"),
        ({"nonce": None}, "nonce_missing"),
    ],
)
async def test_assertion_failures_name_their_reason(
    client: AsyncTestClient, provider: ec.EllipticCurvePrivateKey, change: dict, reason: str
) -> None:
    pair = await sms_login(client, "13800000002")
    session = await _open(client, pair["access_token"])
    key = ec.generate_private_key(ec.SECP256R1()) if change.pop("foreign_key", False) else provider
    assertion = _assertion(key, session, **change)
    body = assert_problem(
        await _complete(client, pair["access_token"], session, {"assertion": assertion}), 422, "realname_failed"
    )
    assert body["reason"] == reason
    again = _assertion(provider, session)
    assert_problem(
        await _complete(client, pair["access_token"], session, {"assertion": again}), 409, "realname_session_closed"
    )


async def test_an_assertion_for_our_audience_in_a_one_element_list_is_accepted(
    client: AsyncTestClient, provider: ec.EllipticCurvePrivateKey
) -> None:
    pair = await sms_login(client, "13800000012")
    session = await _open(client, pair["access_token"])
    r = await _complete(
        client, pair["access_token"], session, {"assertion": _assertion(provider, session, aud=[AUDIENCE])}
    )
    assert r.status_code == 200, r.text


async def test_a_provider_registered_with_an_audience_wants_that_audience(client: AsyncTestClient, op: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    r = await client.post(
        "/v1/admin/identity-providers",
        headers=auth(op),
        json={"name": "CTID", "issuer": ISSUER, "public_key_pem": pem.decode(), "audience": "zb-client-4302"},
    )
    assert r.status_code == 201 and r.json()["audience"] == "zb-client-4302", r.text
    pair = await sms_login(client, "13800000013")
    session = await _open(client, pair["access_token"])
    # An assertion for the server's own URL is for another audience now.
    r = await _complete(client, pair["access_token"], session, {"assertion": _assertion(key, session)})
    assert assert_problem(r, 422, "realname_failed")["reason"] == "audience_mismatch"
    session = await _open(client, pair["access_token"])
    r = await _complete(
        client, pair["access_token"], session, {"assertion": _assertion(key, session, aud="zb-client-4302")}
    )
    assert r.status_code == 200, r.text


async def test_a_used_nonce_is_refused_as_a_replay(
    client: AsyncTestClient, provider: ec.EllipticCurvePrivateKey, conn: asyncpg.Connection
) -> None:
    pair = await sms_login(client, "13800000014")
    first = await _open(client, pair["access_token"])
    used = _assertion(provider, first)
    assert (await _complete(client, pair["access_token"], first, {"assertion": used})).status_code == 200
    # The same assertion (its nonce spent with its session) brought to a new session is a replay.
    second = await _open(client, pair["access_token"])
    body = assert_problem(
        await _complete(client, pair["access_token"], second, {"assertion": used}), 422, "realname_failed"
    )
    assert body["reason"] == "nonce_used"
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'realname.failed' AND data->>'reason' = 'nonce_used'"
        )
        == 1
    )


async def test_assertion_body_checks(client: AsyncTestClient, provider: ec.EllipticCurvePrivateKey) -> None:
    pair = await sms_login(client, "13800000003")
    session = await _open(client, pair["access_token"])
    body = assert_problem(await _complete(client, pair["access_token"], session), 422, "validation_failed")
    assert body["errors"] == [{"field": "assertion", "message": "required for the assertion method"}]
    r = await _complete(client, pair["access_token"], session, {"assertion": "not-a-jwt"})
    assert assert_problem(r, 422, "realname_failed")["reason"] == "malformed"


async def test_jwks_provider_with_rs256_may_assert_l3(client: AsyncTestClient, op: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "2026-1"}
    r = await client.post(
        "/v1/admin/identity-providers",
        headers=auth(op),
        json={"name": "省级平台", "issuer": ISSUER, "jwks": {"keys": [jwk]}, "max_level": "L3"},
    )
    assert r.status_code == 201
    pair = await sms_login(client, "13800000004")
    session = await _open(client, pair["access_token"])
    assertion = _assertion(key, session, alg="RS256", acr="L3", kid="2026-1")
    r = await _complete(client, pair["access_token"], session, {"assertion": assertion})
    assert r.status_code == 200, r.text
    assert r.json()["assurance_level"] == "L3"


async def test_one_account_one_identity(client: AsyncTestClient, provider: ec.EllipticCurvePrivateKey) -> None:
    pair = await sms_login(client, "13800000005")
    session = await _open(client, pair["access_token"])
    assert (
        await _complete(client, pair["access_token"], session, {"assertion": _assertion(provider, session)})
    ).status_code == 200
    r = await client.post(
        SESSIONS, json={"name": "李四", "id_number": ID_BOB, "method": "assertion"}, headers=auth(pair["access_token"])
    )
    assert_problem(r, 409, "realname_person_mismatch")


async def test_a_lower_proof_never_lowers_the_level(
    client: AsyncTestClient, sim: httpx.AsyncClient, provider: ec.EllipticCurvePrivateKey, conn: asyncpg.Connection
) -> None:
    pair = await wechat_login(client, sim)
    face = await _open(client, pair["access_token"], "wechat_face")
    await sim.post("/_sim/face-results", json={"verify_id": face["verify_id"], "verify_ret": 10000})
    first = (await _complete(client, pair["access_token"], face)).json()
    session = await _open(client, pair["access_token"])
    r = await _complete(client, pair["access_token"], session, {"assertion": _assertion(provider, session)})
    assert r.json()["assurance_level"] == "L3" and r.json()["auth_time"] == first["auth_time"]
    assert await conn.fetchval("SELECT count(*) FROM person") == 1


async def test_opening_is_idempotent_and_rate_limited(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    pair = await wechat_login(client, sim)
    one = await _open(client, pair["access_token"], "counter", **{"Idempotency-Key": "rn-1"})
    two = await _open(client, pair["access_token"], "counter", **{"Idempotency-Key": "rn-1"})
    assert one == two
    # The replay counted against the budget too: 10 requests an hour, whatever they were.
    for _ in range(8):
        await _open(client, pair["access_token"], "counter")
    r = await client.post(
        SESSIONS, json={"name": "张三", "id_number": ID_ALICE, "method": "counter"}, headers=auth(pair["access_token"])
    )
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0


async def test_attest_rules(client: AsyncTestClient, op: str, sim: httpx.AsyncClient) -> None:
    from tests.auth.helpers import credit_code, make_staff, proofing_department, random_id_number

    dept = await proofing_department(client, op, credit_code(80))
    clerk_id = random_id_number()
    clerk = await make_staff(client, op, dept["id"], "13800000006", ["clerk"], proven=True, id_number=clerk_id)
    citizen = await wechat_login(client, sim)
    face = await _open(client, citizen["access_token"], "wechat_face")
    r = await client.post(
        "/v1/dept/realname/attest",
        json={"session_id": face["session_id"], "id_number": ID_ALICE},
        headers=auth(clerk["access_token"]),
    )
    assert_problem(r, 404, "realname_session_not_found")  # only counter sessions are attested
    own = await _open(client, clerk["access_token"], "counter", id_number=clerk_id)
    r = await client.post(
        "/v1/dept/realname/attest",
        json={"session_id": own["session_id"], "id_number": clerk_id},
        headers=auth(clerk["access_token"]),
    )
    assert_problem(r, 403, "forbidden")
    assert_problem(
        await client.post(
            "/v1/dept/realname/attest",
            json={"session_id": "x", "id_number": ID_ALICE},
            headers=auth(clerk["access_token"]),
        ),
        422,
        "validation_failed",
    )
    assert_problem(
        await client.post(
            "/v1/dept/realname/attest", json={"session_id": own["session_id"]}, headers=auth(clerk["access_token"])
        ),
        422,
        "validation_failed",
    )
