"""Issuing one certificate over HTTP: the response shape, idempotency by external_ref, field and holder
checks, and everything that commits with it (wallet item, change log, outbox event, audit entry)."""

from __future__ import annotations

import asyncpg
import base45
from litestar.testing import AsyncTestClient

from esign.codec import qr, tokens
from tests.esign import api
from tests.esign.api import ID_ALICE, auth, household, issue, problem


async def test_issue_answers_the_certificate_shape(
    client: AsyncTestClient, police_issuer: str, police_seal: dict, conn: asyncpg.Connection
) -> None:
    cert = await issue(client, police_issuer, household())
    assert set(cert) == {
        "id",
        "licence_id",
        "type_code",
        "type_name",
        "holder",
        "fields",
        "issuer",
        "seal_kid",
        "issued_at",
        "valid_from",
        "valid_until",
        "status",
        "status_ref",
        "token",
        "qr_url",
    }
    assert cert["qr_url"] == qr.qr_url("HTTP://127.0.0.1:8000", cert["token"])
    gongan = await api.department_id(conn, "gongan")
    assert cert["type_code"] == "household_register" and cert["type_name"] == "居民户口簿"
    assert cert["holder"] == {"kind": "person", "name_masked": "张*丰", "id_masked": "110***********002X"}
    assert cert["issuer"] == {"department_id": gongan, "name": "株洲市公安局", "credit_code": "11430200MB0001074D"}
    assert cert["fields"]["address"] == "株洲市天元区泰山路88号"  # the issuer sees sensitive fields
    assert cert["status"] == "valid" and cert["valid_until"] is None and cert["seal_kid"] == police_seal["kid"]
    assert cert["licence_id"].startswith("1.2.156.3005.2.11430200MB0001074D002.11430200MB0001074D.")
    claims = tokens.decode_token(cert["token"]).claims
    # Fields by their registry numbers (household_head 1, relation 2, registered_on 4; address 3 is sensitive).
    assert claims.fields == {1: "张三丰", 2: "户主", 4: "2020-01-02"}
    assert (claims.type_code, claims.version) == ("household_register", 1)
    assert cert["licence_id"] == claims.licence_id("11430200MB0001074D002")
    assert (claims.holder_name, claims.holder_id) == ("张*丰", "110***********002X")
    assert list(claims.status) == [cert["status_ref"]["list_id"], cert["status_ref"]["index"]]
    print(f"token of a household register with 3 disclosed fields: {len(cert['token'])} characters")
    assert len(cert["token"]) <= 500 and qr.make_qr(cert["token"]).version <= 14
    # The record's salt is archived with the certificate, 16 random bytes, and never in the token.
    salt = await conn.fetchval("SELECT record_salt FROM esign_certificate WHERE id = $1::uuid", cert["id"])
    assert len(salt) == 16 and salt not in tokens.decompress(base45.b45decode(cert["token"][4:]))


async def test_same_external_ref_same_body_is_the_same_certificate(
    client: AsyncTestClient, police_issuer: str, police_seal: dict
) -> None:
    body = household(ref="police-2026-0001")
    first = await issue(client, police_issuer, body)
    again = await issue(client, police_issuer, body, status=200)
    assert again == first
    r = await client.post(
        "/v1/dept/certificates",
        json=body | {"fields": body["fields"] | {"relation": "子"}},
        headers=auth(police_issuer),
    )
    problem(r, 409, "external_ref_conflict")


async def test_each_bad_field_is_named(client: AsyncTestClient, police_issuer: str, police_seal: dict) -> None:
    body = household(fields={"household_head": "", "relation": "户主", "registered_on": "2020-13-01", "colour": "红"})
    r = await client.post("/v1/dept/certificates", json=body, headers=auth(police_issuer))
    doc = problem(r, 422, "certificate_fields_invalid")
    assert {e["field"] for e in doc["errors"]} == {
        "fields.household_head",
        "fields.registered_on",
        "fields.address",
        "fields.colour",
    }
    # A key beyond U+FFFF beside one from U+E000 (RFC 8785 and code-point order disagree there) with an
    # integer RFC 8785 cannot write: still each field named, never a 500.
    body = household(fields=household()["fields"] | {"\U00010000": 2**60, "\ue000": 1}, ref="odd-keys")
    doc = problem(
        await client.post("/v1/dept/certificates", json=body, headers=auth(police_issuer)),
        422,
        "certificate_fields_invalid",
    )
    assert {e["field"] for e in doc["errors"]} == {"fields.\U00010000", "fields.\ue000"}


async def test_holder_checks(client: AsyncTestClient, police_issuer: str, police_seal: dict) -> None:
    r = await client.post("/v1/dept/certificates", json=household("36042619910102009X"), headers=auth(police_issuer))
    doc = problem(r, 422, "id_number_invalid")
    assert doc["errors"] == [{"field": "holder.id_number", "message": "check character does not match"}]
    body = household() | {"holder": {"credit_code": "91110000600037341L", "name": "某公司"}}
    r = await client.post("/v1/dept/certificates", json=body, headers=auth(police_issuer))
    problem(r, 422, "holder_invalid")
    r = await client.post(
        "/v1/dept/certificates", json=household(type_code="no_such_type"), headers=auth(police_issuer)
    )
    problem(r, 422, "certificate_type_unknown")


async def test_only_issuers_of_the_type_and_only_with_a_seal(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, police_issuer: str, police_admin: str
) -> None:
    r = await client.post("/v1/dept/certificates", json=household(), headers=auth(police_issuer))
    problem(r, 409, "no_active_seal")
    health_issuer = await api.staff(client, op, conn, "weijian", ["issuer"])
    r = await client.post("/v1/dept/certificates", json=household(), headers=auth(health_issuer))
    assert problem(r, 403, "authority_required")["power"] == "certificate:household_register"
    r = await client.post("/v1/dept/certificates", json=household(), headers=auth(police_admin))
    problem(r, 403, "forbidden")  # dept_admin manages seals; issuing needs the issuer role
    r = await client.post("/v1/dept/certificates", json=household())
    problem(r, 401, "unauthorized")


async def test_a_department_system_issues_with_its_scope(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, police_seal: dict
) -> None:
    system = await api.dept_system(client, op, conn, "gongan", ["certificates:issue"])
    cert = await issue(client, system, household())
    assert cert["status"] == "valid"
    other = await api.dept_system(client, op, conn, "gongan", ["records:write"])
    r = await client.post("/v1/dept/certificates", json=household(), headers=auth(other))
    problem(r, 403, "forbidden")


async def test_organisation_holders(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    admin = await api.staff(client, op, conn, "shichang", ["dept_admin", "issuer"])
    await api.make_seal(client, admin, algorithm="SM2")
    body = {
        "type_code": "business_license",
        "external_ref": "bl-1",
        "holder": {"credit_code": "91310115MA1K3BTP2B", "name": "株洲某某科技有限公司"},
        "fields": {
            "entity_name": "株洲某某科技有限公司",
            "entity_type": "有限责任公司",
            "legal_representative": "李四",
            "scope": "软件开发",
            "established_on": "2019-05-06",
        },
    }
    cert = await issue(client, admin, body)
    assert cert["holder"] == {
        "kind": "organisation",
        "name_masked": "株洲某某科技有限公司",
        "id_masked": "91310115MA1K3BTP2B",
    }
    assert (await api.verify(client, cert["token"]))["valid"] is True
    r = await client.post(
        "/v1/dept/certificates",
        json=body | {"external_ref": "bl-2", "holder": {"credit_code": "91110000600037341N", "name": "x"}},
        headers=auth(admin),
    )
    problem(r, 422, "credit_code_invalid")


async def test_everything_commits_together(
    client: AsyncTestClient, police_issuer: str, police_seal: dict, conn: asyncpg.Connection
) -> None:
    cert = await issue(client, police_issuer, household())
    row = await conn.fetchrow("SELECT * FROM esign_certificate WHERE id = $1", __import__("uuid").UUID(cert["id"]))
    # The holder's identity and the sensitive field are sealed at rest.
    stored = b"".join(v for v in (row["holder_name"], row["holder_id"], row["sealed_fields"]))
    assert ID_ALICE.encode() not in stored and "张三丰".encode() not in stored
    assert "address" not in row["fields"]
    item = await conn.fetchrow("SELECT * FROM wallet_item WHERE certificate_id = $1", row["id"])
    assert item["person_id"] == row["person_id"] and item["kind"] == "certificate" and item["title"] == "居民户口簿"
    assert "address" not in item["data"]["fields"]
    assert "token" not in item["data"]  # kept once, in the certificate row
    change = await conn.fetchrow(
        "SELECT person_id, op, data::json AS data FROM sync_change WHERE entity_id = $1", item["id"]
    )
    assert change["person_id"] == row["person_id"] and change["op"] == "put"
    assert change["data"]["data"]["token"] == cert["token"]  # the holder's devices show it offline
    event = await conn.fetchrow(
        "SELECT topic, payload::json AS payload FROM outbox WHERE dedup_key = $1", f"certificate.issued:{cert['id']}"
    )
    assert event["topic"] == "certificate.issued" and event["payload"]["person_id"] == str(row["person_id"])
    audit = await conn.fetchrow(
        "SELECT * FROM audit_log WHERE action = 'esign.certificate_issued' AND subject = $1", cert["id"]
    )
    assert audit["data"]["holder"] == "张*丰" and ID_ALICE not in str(audit["data"])


async def test_validity(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    renshe = await api.staff(client, op, conn, "renshe", ["dept_admin", "issuer"])
    await api.make_seal(client, renshe)
    body = {
        "type_code": "social_security_card",
        "external_ref": "ssc-1",
        "holder": {"id_number": ID_ALICE, "name": "张三丰"},
        "fields": {"card_no": "A12345678", "bank": "中国工商银行", "issued_on": "2026-01-05"},
    }
    cert = await issue(client, renshe, body)
    assert cert["valid_until"] is not None  # 3650 days from the type
    claims = tokens.decode_token(cert["token"]).claims
    assert claims.exp is not None and "card_no" not in claims.fields
    r = await client.post(
        "/v1/dept/certificates",
        headers=auth(renshe),
        json=body | {"external_ref": "ssc-2", "valid_until": "2020-01-01T00:00:00Z"},
    )
    problem(r, 422, "validity_invalid")
