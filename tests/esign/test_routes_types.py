"""``POST /v1/admin/certificate-types``: operators define types; the type code is made once and kept."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from tests.esign import api
from tests.esign.api import auth, problem


def fishing(departments: list[str], **over: object) -> dict:
    body = {
        "code": "fishing_licence",
        "name": "游钓证",
        "holder_kind": "person",
        "issuer_department_ids": departments,
        "fields": [
            {"key": "water", "label": "水域", "type": "string"},
            {"key": "season", "label": "季节", "type": "enum", "enum": ["春", "夏", "秋", "冬"]},
            {"key": "rods", "label": "竿数", "type": "integer", "required": False},
            {"key": "home", "label": "住址", "type": "string", "sensitive": True},
        ],
        "validity_days": 365,
    }
    return body | over


async def test_define_issue_and_change_a_type(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    nongye = await api.department_id(conn, "ziranziyuan")
    r = await client.post("/v1/admin/certificate-types", json=fishing([nongye]), headers=auth(op))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["gb_type_code"].startswith("11430200MB00012961") and made["gb_type_code"] != "11430200MB00012961010"
    assert made["defining_department"]["id"] == nongye and made["validity_days"] == 365
    assert [(f["n"], f["key"]) for f in made["fields"]] == [(1, "water"), (2, "season"), (3, "rods"), (4, "home")]
    listed = (await client.get("/v1/certificate-types", params={"limit": 500})).json()["items"]
    assert any(t["code"] == "fishing_licence" for t in listed)

    admin = await api.staff(client, op, conn, "ziranziyuan", ["dept_admin", "issuer"])
    await api.make_seal(client, admin)
    body = {
        "type_code": "fishing_licence",
        "external_ref": "f-1",
        "holder": {"id_number": api.ID_ALICE, "name": "张三丰"},
        "fields": {"water": "湘江株洲段", "season": "秋", "rods": 2, "home": "株洲市"},
    }
    cert = await api.issue(client, admin, body)
    assert cert["valid_until"] is not None and cert["licence_id"].split(".")[5] == made["gb_type_code"]
    out = await api.verify(client, cert["token"])
    assert out["certificate"]["fields"] == [
        {"n": 1, "key": "water", "label": "水域", "value": "湘江株洲段"},
        {"n": 2, "key": "season", "label": "季节", "value": "秋"},
        {"n": 3, "key": "rods", "label": "竿数", "value": 2},
    ]
    assert out["certificate"]["type_name"] == "游钓证"
    r = await client.post(
        "/v1/dept/certificates",
        headers=auth(admin),
        json=body | {"external_ref": "f-2", "fields": {"water": "x", "season": "雨季", "rods": "两", "home": "y"}},
    )
    assert {e["field"] for e in problem(r, 422, "certificate_fields_invalid")["errors"]} == {
        "fields.season",
        "fields.rods",
    }

    r = await client.post("/v1/admin/certificate-types", json=fishing([nongye], name="游钓许可证"), headers=auth(op))
    assert (
        r.status_code == 200 and r.json()["name"] == "游钓许可证" and r.json()["gb_type_code"] == made["gb_type_code"]
    )
    # Field numbers are stable for ever: a kept field keeps its number, a new one takes the next, a removed
    # one's number is never given again; the trust list's registry carries them with their labels.
    changed = [{"key": "bait", "label": "饵料", "type": "string"}, *fishing([nongye])["fields"][1:3]]
    r = await client.post("/v1/admin/certificate-types", json=fishing([nongye], fields=changed), headers=auth(op))
    assert [(f["n"], f["key"]) for f in r.json()["fields"]] == [(5, "bait"), (2, "season"), (3, "rods")]
    again = [{"key": "water", "label": "水域", "type": "string"}, *changed]
    r = await client.post("/v1/admin/certificate-types", json=fishing([nongye], fields=again), headers=auth(op))
    assert [(f["n"], f["key"]) for f in r.json()["fields"]] == [(6, "water"), (5, "bait"), (2, "season"), (3, "rods")]
    trust = api.trust_list_payload((await client.get("/v1/trust-list")).text)
    entry = next(t for t in trust["types"] if t["code"] == "fishing_licence")
    assert entry["name"] == "游钓证" and entry["gb_code"] == made["gb_type_code"] and entry["holder_kind"] == "person"
    assert entry["fields"] == [
        {"n": 2, "key": "season", "label": "季节", "type": "enum"},
        {"n": 3, "key": "rods", "label": "竿数", "type": "integer"},
        {"n": 5, "key": "bait", "label": "饵料", "type": "string"},
        {"n": 6, "key": "water", "label": "水域", "type": "string"},
    ]
    seal = next(s for s in trust["seals"] if s["department"]["name"] == "株洲市自然资源和规划局")
    assert "fishing_licence" in seal["types"]
    r = await client.post(
        "/v1/admin/certificate-types", headers=auth(op), json=fishing([nongye], gb_type_code="11430200MB00012961099")
    )
    problem(r, 409, "gb_type_code_immutable")


async def test_bad_definitions(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    gongan = await api.department_id(conn, "gongan")
    bad = fishing(
        [gongan],
        fields=[
            {"key": "a", "label": "甲", "type": "enum"},
            {"key": "a", "label": "乙", "type": "string", "enum": ["x"]},
        ],
    )
    doc = problem(
        await client.post("/v1/admin/certificate-types", json=bad, headers=auth(op)), 422, "certificate_type_invalid"
    )
    assert {e["field"] for e in doc["errors"]} == {"fields[0].enum", "fields[1].key", "fields[1].enum"}
    unknown = fishing(["01a1ffcd-0000-7000-8000-000000000000"])
    doc = problem(
        await client.post("/v1/admin/certificate-types", json=unknown, headers=auth(op)),
        422,
        "certificate_type_invalid",
    )
    assert [e["field"] for e in doc["errors"]] == ["issuer_department_ids[0]"]
    r = await client.post("/v1/admin/certificate-types", json=fishing([gongan], code="Bad Code"), headers=auth(op))
    assert r.status_code in (400, 422)
    taken = fishing([gongan], code="another", gb_type_code="11430200MB0001074D001")  # the id card's code
    problem(
        await client.post("/v1/admin/certificate-types", json=taken, headers=auth(op)), 422, "certificate_type_invalid"
    )
    staff = await api.staff(client, op, conn, "gongan", ["dept_admin"])
    problem(
        await client.post("/v1/admin/certificate-types", json=fishing([gongan]), headers=auth(staff)), 403, "forbidden"
    )
