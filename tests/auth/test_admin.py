"""Operators' administration: departments, clients, staff, identity providers and the audit check."""

from __future__ import annotations

import hashlib

import asyncpg
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm
from litestar.testing import AsyncTestClient

from api.config import Settings
from tests.auth.helpers import (
    SEEDED_CREDIT_CODE,
    assert_problem,
    auth,
    create_department,
    credit_code,
    make_staff,
    sms_login,
    wechat_login,
)

DEPTS = "/v1/admin/departments"


def _pem(key: object) -> str:
    return (
        key.public_key()
        .public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


async def test_create_department_checks_credit_code_and_duplicates(client: AsyncTestClient, op: str) -> None:
    body = {"name": "株洲市数据资源局", "credit_code": credit_code(10).lower(), "region_code": "430200"}
    r = await client.post(DEPTS, json=body, headers=auth(op) | {"Idempotency-Key": "dept-1"})
    assert r.status_code == 201, r.text
    dept = r.json()
    assert dept["credit_code"] == credit_code(10) and dept["parent_id"] is None and dept["created_at"]
    replay = await client.post(DEPTS, json=body, headers=auth(op) | {"Idempotency-Key": "dept-1"})
    assert replay.status_code == 201 and replay.json()["id"] == dept["id"]
    assert replay.headers["idempotent-replayed"] == "true"

    bad = assert_problem(
        await client.post(DEPTS, json=body | {"credit_code": "91350100M000100Y44"}, headers=auth(op)),
        422,
        "credit_code_invalid",
    )
    assert bad["errors"] == [{"field": "credit_code", "message": "fails the GB 32100 check"}]
    assert_problem(
        await client.post(DEPTS, json=body | {"credit_code": SEEDED_CREDIT_CODE}, headers=auth(op)),
        409,
        "department_exists",
    )
    assert_problem(await client.post(DEPTS, json=body, headers=auth(op)), 409, "department_exists")
    child = body | {"credit_code": credit_code(11), "parent_id": dept["id"]}
    assert (await client.post(DEPTS, json=child, headers=auth(op))).json()["parent_id"] == dept["id"]
    orphan = body | {"credit_code": credit_code(12), "parent_id": "01890000-0000-7000-8000-000000000000"}
    assert_problem(await client.post(DEPTS, json=orphan, headers=auth(op)), 422, "parent_department_not_found")
    assert_problem(
        await client.post(DEPTS, json=body | {"region_code": "43"}, headers=auth(op)), 422, "validation_failed"
    )


async def test_only_operators_administer(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    citizen = await wechat_login(client, sim)
    body = {"name": "x", "credit_code": credit_code(13), "region_code": "430200"}
    assert_problem(await client.post(DEPTS, json=body), 401, "unauthorized")
    assert_problem(await client.post(DEPTS, json=body, headers=auth(citizen["access_token"])), 403, "forbidden")
    assert_problem(await client.get(DEPTS, headers=auth(citizen["access_token"])), 403, "forbidden")
    assert_problem(await client.get("/v1/admin/audit/verify", headers=auth(citizen["access_token"])), 403, "forbidden")
    assert_problem(
        await client.get("/v1/admin/identity-providers", headers=auth(citizen["access_token"])), 403, "forbidden"
    )


async def test_departments_are_paged(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    for i in range(3):
        await create_department(client, op, credit_code(20 + i), f"局{i}")
    total = await conn.fetchval("SELECT count(*) FROM department")
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(DEPTS, params=params, headers=auth(op))).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == total
    assert_problem(await client.get(DEPTS, params={"cursor": "%%%"}, headers=auth(op)), 400, "cursor_invalid")


async def test_clients_secret_is_stored_hashed(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    dept = await create_department(client, op, credit_code(30))
    url = f"{DEPTS}/{dept['id']}/clients"
    created = (await client.post(url, json={"name": "系统", "scopes": ["records:write"]}, headers=auth(op))).json()
    stored = await conn.fetchval("SELECT secret_hash FROM auth_client")
    assert stored == hashlib.sha256(created["client_secret"].encode()).digest()
    assert_problem(
        await client.post(url, json={"name": "x", "scopes": ["root"]}, headers=auth(op)), 422, "validation_failed"
    )
    assert_problem(await client.post(url, json={"name": "x", "scopes": []}, headers=auth(op)), 422, "validation_failed")
    missing = f"{DEPTS}/01890000-0000-7000-8000-000000000000/clients"
    assert_problem(
        await client.post(missing, json={"name": "x", "scopes": ["records:write"]}, headers=auth(op)),
        404,
        "department_not_found",
    )


async def test_a_repeated_client_request_gets_the_same_client_and_secret(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    dept = await create_department(client, op, credit_code(31))
    url, body = f"{DEPTS}/{dept['id']}/clients", {"name": "户籍系统", "scopes": ["certificates:issue"]}
    h = auth(op) | {"Idempotency-Key": "client-1"}
    first = await client.post(url, json=body, headers=h)
    again = await client.post(url, json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert await conn.fetchval("SELECT count(*) FROM auth_client") == 1
    # The secret is sealed in the stored answer, never in the clear.
    secret = first.json()["client_secret"]
    assert secret.encode() not in await conn.fetchval("SELECT response_body FROM idempotency_key")
    token = await client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": first.json()["client_id"], "client_secret": secret},
    )
    assert token.status_code == 200
    other = await client.post(url, json=body | {"name": "别的系统"}, headers=h)
    assert_problem(other, 422, "idempotency_key_reused")


async def test_staff_grants(client: AsyncTestClient, op: str, sim: httpx.AsyncClient) -> None:
    a = await create_department(client, op, credit_code(40), "甲局")
    b = await create_department(client, op, credit_code(41), "乙局")
    person = await wechat_login(client, sim)
    grant = {"account_id": person["account"]["id"], "roles": ["clerk", "approver", "clerk"]}
    r = await client.post(f"{DEPTS}/{a['id']}/staff", json=grant, headers=auth(op))
    assert r.status_code == 200 and r.json()["roles"] == ["approver", "clerk"]
    r = await client.post(f"{DEPTS}/{a['id']}/staff", json=grant | {"roles": ["issuer"]}, headers=auth(op))
    assert r.json()["roles"] == ["issuer"]
    assert_problem(
        await client.post(f"{DEPTS}/{b['id']}/staff", json=grant, headers=auth(op)), 409, "staff_in_other_department"
    )
    unknown = {"account_id": "01890000-0000-7000-8000-000000000000", "roles": ["clerk"]}
    assert_problem(
        await client.post(f"{DEPTS}/{a['id']}/staff", json=unknown, headers=auth(op)), 422, "account_not_found"
    )
    assert_problem(
        await client.post(f"{DEPTS}/{a['id']}/staff", json=grant | {"roles": ["boss"]}, headers=auth(op)),
        422,
        "validation_failed",
    )


async def test_a_dept_admin_manages_only_their_department(client: AsyncTestClient, op: str) -> None:
    a = await create_department(client, op, credit_code(50), "甲局")
    b = await create_department(client, op, credit_code(51), "乙局")
    admin = await make_staff(client, op, a["id"], "13500000001", ["dept_admin"])
    newcomer = await sms_login(client, "13500000002")
    token = auth(admin["access_token"])
    grant = {"account_id": newcomer["account"]["id"], "roles": ["clerk"]}
    assert (await client.post(f"{DEPTS}/{a['id']}/staff", json=grant, headers=token)).status_code == 200
    listed = (await client.get(f"{DEPTS}/{a['id']}/staff", headers=token)).json()["items"]
    assert {s["account_id"] for s in listed} == {admin["account"]["id"], newcomer["account"]["id"]}
    created = await client.post(
        f"{DEPTS}/{a['id']}/clients", json={"name": "x", "scopes": ["tasks:handle"]}, headers=token
    )
    assert created.status_code == 201
    # The other department does not exist as far as this admin can tell.
    assert_problem(await client.get(f"{DEPTS}/{b['id']}/staff", headers=token), 404, "department_not_found")
    assert_problem(
        await client.post(f"{DEPTS}/{b['id']}/staff", json=grant, headers=token), 404, "department_not_found"
    )
    assert_problem(
        await client.post(f"{DEPTS}/{b['id']}/clients", json={"name": "x", "scopes": ["tasks:handle"]}, headers=token),
        404,
        "department_not_found",
    )
    # A clerk is not an admin.
    clerk = (await client.post("/v1/auth/refresh", json={"refresh_token": newcomer["refresh_token"]})).json()
    assert_problem(await client.get(f"{DEPTS}/{a['id']}/staff", headers=auth(clerk["access_token"])), 403, "forbidden")
    # Nor is a department system.
    secret = created.json()
    system = (
        await client.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": secret["client_id"],
                "client_secret": secret["client_secret"],
            },
        )
    ).json()
    assert_problem(await client.get(f"{DEPTS}/{a['id']}/staff", headers=auth(system["access_token"])), 403, "forbidden")


async def test_identity_providers(client: AsyncTestClient, op: str, settings: Settings) -> None:
    url = "/v1/admin/identity-providers"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ctid = {"name": "CTID", "issuer": "https://ctid.example", "public_key_pem": _pem(ec_key), "max_level": "L3"}
    r = await client.post(url, json=ctid, headers=auth(op) | {"Idempotency-Key": "ctid-1"})
    assert r.status_code == 201, r.text
    assert r.json()["max_level"] == "L3" and r.json()["key_ids"] == [None]
    assert r.json()["audience"] == settings.base_url  # the default: our public base URL
    # A retry with the same key is answered as the first time, not with identity_provider_exists.
    again = await client.post(url, json=ctid, headers=auth(op) | {"Idempotency-Key": "ctid-1"})
    assert (again.status_code, again.json()) == (201, r.json())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True) | {"kid": "k1", "use": "sig"}
    r = await client.post(
        url, json={"name": "省平台", "issuer": "https://idp.hunan.example", "jwks": {"keys": [jwk]}}, headers=auth(op)
    )
    assert r.status_code == 201 and r.json()["key_ids"] == ["k1"] and r.json()["max_level"] == "L2"
    assert r.json()["audience"] == settings.base_url
    listed = (await client.get(url, headers=auth(op))).json()["items"]
    assert [p["issuer"] for p in listed] == ["https://ctid.example", "https://idp.hunan.example"]

    dup = {"name": "again", "issuer": "https://ctid.example", "public_key_pem": _pem(ec_key)}
    assert_problem(await client.post(url, json=dup, headers=auth(op)), 409, "identity_provider_exists")
    for bad in (
        {"name": "n", "issuer": "i1"},
        {"name": "n", "issuer": "i2", "public_key_pem": _pem(ec_key), "jwks": {"keys": [jwk]}},
        {"name": "n", "issuer": "i3", "public_key_pem": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"},
        {"name": "n", "issuer": "i4", "public_key_pem": _pem(rsa.generate_private_key(65537, 1024))},
        {"name": "n", "issuer": "i5", "public_key_pem": _pem(ec.generate_private_key(ec.SECP384R1()))},
        {"name": "n", "issuer": "i6", "jwks": {"keys": []}},
    ):
        assert_problem(await client.post(url, json=bad, headers=auth(op)), 422, "identity_provider_key_invalid")
    r = await client.post(url, json=dup | {"issuer": "i7", "max_level": "L1"}, headers=auth(op))
    assert_problem(r, 422, "validation_failed")


async def test_audit_chain_verifies_and_names_a_tampered_entry(
    client: AsyncTestClient, op: str, sim: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    dept = await create_department(client, op, credit_code(60))
    await client.post(
        f"{DEPTS}/{dept['id']}/clients", json={"name": "x", "scopes": ["records:write"]}, headers=auth(op)
    )
    person = await wechat_login(client, sim)
    await client.post(
        f"{DEPTS}/{dept['id']}/staff",
        json={"account_id": person["account"]["id"], "roles": ["clerk"]},
        headers=auth(op),
    )
    actions = {r["action"] for r in await conn.fetch("SELECT action FROM audit_log")}
    assert {
        "auth.signing_key_created",
        "auth.operator_token",
        "admin.department_created",
        "admin.client_created",
        "auth.login",
        "admin.staff_granted",
    } <= actions

    report = (await client.get("/v1/admin/audit/verify", headers=auth(op))).json()
    assert report["ok"] is True and report["first_bad_entry"] is None
    assert report["entries"] == await conn.fetchval("SELECT count(*) FROM audit_log")

    seq = await conn.fetchval("SELECT seq FROM audit_log WHERE action = 'admin.client_created'")
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    await conn.execute('UPDATE audit_log SET data = \'{"scopes": ["seals:manage"]}\' WHERE seq = $1', seq)
    await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    report = (await client.get("/v1/admin/audit/verify", headers=auth(op))).json()
    assert report["ok"] is False and report["first_bad_entry"] == seq


async def test_audit_verify_names_an_entry_rechained_with_the_public_recipe(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    from tests.test_audit import rechain_in_public

    dept = await create_department(client, op, credit_code(61))
    await client.post(
        f"{DEPTS}/{dept['id']}/clients", json={"name": "x", "scopes": ["records:write"]}, headers=auth(op)
    )
    await create_department(client, op, credit_code(62))
    seq = await conn.fetchval("SELECT seq FROM audit_log WHERE action = 'admin.client_created'")
    await rechain_in_public(conn, seq, actor="operator:someone-else")
    report = (await client.get("/v1/admin/audit/verify", headers=auth(op))).json()
    assert report == {"ok": False, "entries": seq, "first_bad_entry": seq}
