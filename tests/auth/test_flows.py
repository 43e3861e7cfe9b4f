"""The issue's "done when": whole journeys through HTTP, with WeChat played by the simulator over HTTP."""

from __future__ import annotations

import base64
import hashlib
import time

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import AsyncTestClient

from tests.auth.helpers import (
    ID_ALICE,
    assert_problem,
    auth,
    claims,
    create_department,
    credit_code,
    make_staff,
    phone_code,
    proofing_department,
    sms_login,
    wechat_login,
)


async def test_mini_program_logs_in_binds_phone_reaches_l3_refreshes_and_logs_out(
    client: AsyncTestClient, sim: httpx.AsyncClient
) -> None:
    pair = await wechat_login(client, sim)
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900
    assert pair["account"]["assurance_level"] == "L1" and pair["account"]["person_id"] is None
    token = claims(pair["access_token"])
    assert token["acr"] == "L1" and token["roles"] == ["citizen"] and token["sub"] == pair["account"]["id"]
    assert jwt.get_unverified_header(pair["access_token"])["kid"]

    r = await client.post(
        "/v1/auth/wechat/phone", json={"code": await phone_code(sim, "13812345678")}, headers=auth(pair["access_token"])
    )
    assert r.status_code == 200 and r.json() == {"phone_masked": "138****5678"}

    opened = await client.post(
        "/v1/auth/realname/sessions",
        headers=auth(pair["access_token"]),
        json={"name": "张三", "id_number": ID_ALICE, "method": "wechat_face"},
    )
    assert opened.status_code == 201, opened.text
    session = opened.json()
    assert session["method"] == "wechat_face" and session["verify_id"] and session["nonce"]
    done = f"/v1/auth/realname/sessions/{session['session_id']}/complete"

    # Before the face scan WeChat answers errcode 0 without verify_ret: pending, never success.
    pending = await client.post(done, json={}, headers=auth(pair["access_token"]))
    assert assert_problem(pending, 422, "realname_failed")["reason"] == "face_pending"

    await sim.post("/_sim/face-results", json={"verify_id": session["verify_id"], "verify_ret": 10000})
    r = await client.post(done, json={}, headers=auth(pair["access_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["assurance_level"] == "L3" and r.json()["person_id"]
    assert_problem(await client.post(done, json={}, headers=auth(pair["access_token"])), 409, "realname_session_closed")

    r = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["refresh_token"] != pair["refresh_token"] and fresh["account"]["assurance_level"] == "L3"
    token = claims(fresh["access_token"])
    assert token["acr"] == "L3" and token["pid"] == fresh["account"]["person_id"]
    assert abs(token["auth_time"] - time.time()) < 60

    me = (await client.get("/v1/me", headers=auth(fresh["access_token"]))).json()
    assert me["assurance_level"] == "L3" and me["phone_masked"] == "138****5678"
    assert me["person"] == {
        "id": fresh["account"]["person_id"],
        "name_masked": "张*",
        "id_number_masked": "110***********002X",
    }

    assert (await client.post("/v1/auth/logout", headers=auth(fresh["access_token"]))).status_code == 204
    gone = await client.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert_problem(gone, 401, "refresh_token_invalid")


def _provider_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, pem.decode()


async def test_app_logs_in_by_sms_proves_l2_by_assertion_and_shares_the_person(
    client: AsyncTestClient, sim: httpx.AsyncClient, op: str
) -> None:
    key, pem = _provider_key()
    r = await client.post(
        "/v1/admin/identity-providers",
        headers=auth(op),
        json={
            "name": "公安部 CTID",
            "issuer": "https://ctid.example.gov.cn",
            "public_key_pem": pem,
            "audience": "zb-ctid-client",
        },
    )
    assert r.status_code == 201, r.text

    pair = await sms_login(client, "13900001111")
    assert pair["account"]["assurance_level"] == "L1"
    r = await client.post(
        "/v1/auth/realname/sessions",
        headers=auth(pair["access_token"]),
        json={"name": "张三", "id_number": ID_ALICE.lower(), "method": "assertion"},
    )
    assert r.status_code == 201, r.text
    session = r.json()
    assert "verify_id" not in session
    assertion = jwt.encode(
        {
            "iss": "https://ctid.example.gov.cn",
            "aud": "zb-ctid-client",
            "sub": hashlib.sha256(ID_ALICE.encode()).hexdigest(),
            "nonce": session["nonce"],
            "acr": "L2",
            "exp": int(time.time()) + 300,
            "iat": int(time.time()),
        },
        key,
        algorithm="ES256",
    )
    r = await client.post(
        f"/v1/auth/realname/sessions/{session['session_id']}/complete",
        json={"assertion": assertion},
        headers=auth(pair["access_token"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["assurance_level"] == "L2"
    person_id = r.json()["person_id"]

    fresh = (await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).json()
    assert claims(fresh["access_token"])["acr"] == "L2"

    # The same person reached L3 through WeChat later: a second account, one person.
    wx = await wechat_login(client, sim)
    opened = (
        await client.post(
            "/v1/auth/realname/sessions",
            headers=auth(wx["access_token"]),
            json={"name": "张三", "id_number": ID_ALICE, "method": "wechat_face"},
        )
    ).json()
    await sim.post("/_sim/face-results", json={"verify_id": opened["verify_id"], "verify_ret": 10000})
    r = await client.post(
        f"/v1/auth/realname/sessions/{opened['session_id']}/complete", json={}, headers=auth(wx["access_token"])
    )
    assert r.json()["person_id"] == person_id and r.json()["assurance_level"] == "L3"

    assert (await client.post("/v1/auth/logout", json={"refresh_token": fresh["refresh_token"]})).status_code == 204
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}),
        401,
        "refresh_token_invalid",
    )


async def test_department_system_gets_a_scoped_token(client: AsyncTestClient, op: str) -> None:
    dept = await create_department(client, op, credit_code(1), "株洲市市场监督管理局")
    r = await client.post(
        f"/v1/admin/departments/{dept['id']}/clients",
        headers=auth(op),
        json={"name": "证照系统", "scopes": ["certificates:issue", "records:write"]},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["client_secret"].startswith("zbs_") and created["scopes"] == ["certificates:issue", "records:write"]

    form = {
        "grant_type": "client_credentials",
        "client_id": created["client_id"],
        "client_secret": created["client_secret"],
        "scope": "certificates:issue",
    }
    r = await client.post("/v1/auth/token", data=form)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["scope"] == "certificates:issue"
    token = claims(body["access_token"])
    assert token["dept"] == dept["id"] and token["roles"] == ["dept_client"]
    assert token["client_id"] == created["client_id"] and token["scope"] == "certificates:issue"

    # JSON body, every scope by default.
    r = await client.post("/v1/auth/token", json={k: v for k, v in form.items() if k != "scope"})
    assert r.json()["scope"] == "certificates:issue records:write"
    # HTTP Basic carries the credentials.
    basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
    r = await client.post(
        "/v1/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert r.status_code == 200, r.text

    assert_problem(await client.post("/v1/auth/token", data=form | {"scope": "seals:manage"}), 400, "invalid_scope")
    assert_problem(
        await client.post("/v1/auth/token", data=form | {"client_secret": "zbs_wrong"}), 401, "invalid_client"
    )
    assert_problem(await client.post("/v1/auth/token", data=form | {"client_id": "not-a-uuid"}), 401, "invalid_client")
    assert_problem(
        await client.post("/v1/auth/token", data=form | {"grant_type": "password"}), 400, "unsupported_grant_type"
    )
    assert_problem(
        await client.post("/v1/auth/token", content=b"{oops", headers={"content-type": "application/json"}),
        400,
        "malformed_request",
    )
    # A department system has no account behind it.
    assert_problem(await client.get("/v1/me", headers=auth(body["access_token"])), 403, "forbidden")


async def test_window_clerk_attests_a_counter_session_at_l3(client: AsyncTestClient, op: str) -> None:
    dept = await proofing_department(client, op, credit_code(2), "株洲市政务服务中心")
    clerk = await make_staff(client, op, dept["id"], "13700000001", ["clerk"], proven=True)
    assert set(claims(clerk["access_token"])["roles"]) == {"citizen", "staff", "clerk"}

    citizen = await sms_login(client, "13700000002")
    session = (
        await client.post(
            "/v1/auth/realname/sessions",
            headers=auth(citizen["access_token"]),
            json={"name": "李四", "id_number": ID_ALICE, "method": "counter"},
        )
    ).json()
    # The citizen cannot complete it alone.
    r = await client.post(
        f"/v1/auth/realname/sessions/{session['session_id']}/complete", json={}, headers=auth(citizen["access_token"])
    )
    assert_problem(r, 422, "realname_method_unavailable")
    # Someone without the clerk role cannot attest.
    r = await client.post(
        "/v1/dept/realname/attest",
        json={"session_id": session["session_id"], "id_number": ID_ALICE},
        headers=auth(citizen["access_token"]),
    )
    assert_problem(r, 403, "forbidden")

    r = await client.post(
        "/v1/dept/realname/attest",
        json={"session_id": session["session_id"], "id_number": ID_ALICE},
        headers=auth(clerk["access_token"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["assurance_level"] == "L3"
    assert r.json()["name_masked"] == "李*" and r.json()["id_number_masked"] == "110***********002X"
    again = await client.post(
        "/v1/dept/realname/attest",
        json={"session_id": session["session_id"], "id_number": ID_ALICE},
        headers=auth(clerk["access_token"]),
    )
    assert_problem(again, 409, "realname_session_closed")

    me = (await client.get("/v1/me", headers=auth(citizen["access_token"]))).json()
    assert me["assurance_level"] == "L3" and me["person"]["id"] == r.json()["person_id"]
    clerk_me = (await client.get("/v1/me", headers=auth(clerk["access_token"]))).json()
    assert clerk_me["departments"] == [{"id": dept["id"], "name": "株洲市政务服务中心", "roles": ["clerk"]}]
