"""Operators keep the catalogue: PUT a matter or a bundle in the shape its GET returns, through HTTP."""

from __future__ import annotations

import copy
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth, sms_login
from tests.people import department_id, next_phone, staff


def new_matter(gongan: str, code: str = "430200-GA-900") -> dict[str, Any]:
    """A matter of 公安局 with one material the catalogue knows and one it does not."""
    return {
        "code": code,
        "name": "临时身份证明开具",
        "kind": "公共服务",
        "department": {"id": gongan},
        "guide": {
            "conditions": "本市户籍居民",
            "basis": "《居民身份证法》",
            "legal_limit_days": 5,
            "promised_limit_days": 1,
            "visits_required": 0,
            "fee": "不收费",
            "online_depth": "全程网办",
            "process": ["申请", "受理", "办结"],
            "address": "株洲市民中心",
            "hours": "工作日 9:00-17:00",
            "consult": "12345",
            "complain": "12345",
        },
        "materials": [
            {
                "code": "household_register",
                "name": "户口簿",
                "required": True,
                "satisfied_by_certificate_types": ["household_register"],
                "held_by_department": None,
                "copies": 1,
            },
            {
                "code": "loss_statement",
                "name": "证件遗失声明",
                "required": False,
                "satisfied_by_certificate_types": [],
                "held_by_department": {"id": gongan},
                "copies": 2,
            },
        ],
        "form": [{"key": "household_address", "label": "户籍地址", "type": "string", "required": True}],
        "result_certificate_type": None,
    }


async def _put(client: AsyncTestClient, op: str, kind: str, body: dict[str, Any], code: str | None = None) -> Any:
    return await client.put(f"/v1/admin/{kind}/{code or body['code']}", json=body, headers=auth(op))


async def test_a_new_matter_is_created_and_reads_back(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    gongan = await department_id(conn, "gongan")
    r = await _put(client, op, "matters", new_matter(gongan))
    assert r.status_code == 201, r.text
    got = await client.get("/v1/matters/430200-GA-900")
    assert got.status_code == 200 and got.json() == r.json()
    m = got.json()
    assert m["department"] == {"id": gongan, "name": "株洲市公安局"}
    assert m["guide"]["process"] == ["申请", "受理", "办结"] and m["form"][0]["label"] == "户籍地址"
    # The new material is made from what the matter says about it; the known one keeps its name.
    assert [(x["code"], x["name"], x["copies"]) for x in m["materials"]] == [
        ("household_register", "户口簿", 1),
        ("loss_statement", "证件遗失声明", 2),
    ]
    assert m["materials"][1]["held_by_department"] == {"id": gongan, "name": "株洲市公安局"}
    row = await conn.fetchrow("SELECT may_defer, holder_field FROM catalog_material WHERE code = 'loss_statement'")
    assert dict(row) == {"may_defer": False, "holder_field": None}
    found = (await client.get("/v1/matters", params={"q": "临时身份证明"})).json()["items"]
    assert [x["code"] for x in found] == ["430200-GA-900"]


async def test_a_matter_read_changed_and_put_back(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    before = (await client.get("/v1/matters/430200-RS-001")).json()
    r = await _put(client, op, "matters", before)
    assert r.status_code == 200 and r.json() == before  # the GET's body goes straight back

    changed = copy.deepcopy(before)
    changed["name"] = "新生儿社保卡申领"
    changed["guide"]["promised_limit_days"] = 0
    changed["department"]["name"] = "ignored"
    father = next(x for x in changed["materials"] if x["code"] == "father_id_card")
    father["name"] = "父亲身份证"
    changed["form"].append({"key": "card_bank", "label": "开卡银行", "type": "string", "required": False})
    r = await _put(client, op, "matters", changed)
    assert r.status_code == 200, r.text
    after = (await client.get("/v1/matters/430200-RS-001")).json()
    assert after == r.json()
    assert after["name"] == "新生儿社保卡申领" and after["guide"]["promised_limit_days"] == 0
    assert after["department"]["name"] == before["department"]["name"]
    assert after["form"][-1]["key"] == "card_bank"
    assert before["applicant_kinds"] == after["applicant_kinds"] == ["person"]  # derived: its bundle's
    # Who may apply is the operator's to set (in the catalogue's order), and null derives it again.
    r = await _put(client, op, "matters", after | {"applicant_kinds": ["organisation", "person"]})
    assert r.status_code == 200 and r.json()["applicant_kinds"] == ["person", "organisation"], r.text
    r = await _put(client, op, "matters", after | {"applicant_kinds": None})
    assert r.status_code == 200 and r.json()["applicant_kinds"] == ["person"], r.text
    assert_problem(
        await _put(client, op, "matters", after | {"applicant_kinds": ["company"]}), 422, "validation_failed"
    )
    # Materials are shared: the new name shows in every matter naming it; what only the seed sets stays.
    other = (await client.get("/v1/matters/430200-GA-001")).json()
    assert next(x["name"] for x in other["materials"] if x["code"] == "father_id_card") == "父亲身份证"
    rows = await conn.fetch(
        "SELECT code, may_defer, holder_field FROM catalog_material WHERE code = ANY($1)",
        ["father_id_card", "child_photo"],
    )
    assert {r["code"]: (r["may_defer"], r["holder_field"]) for r in rows} == {
        "father_id_card": (False, "father_id_number"),
        "child_photo": (True, None),
    }


async def test_matter_problems_name_each_field(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    gongan = await department_id(conn, "gongan")
    body = new_matter(gongan)
    body["department"] = {"id": "00000000-0000-4000-8000-000000000000", "name": "不存在的局"}
    body["guide"]["promised_limit_days"] = 30
    body["guide"]["visits_required"] = -1
    body["materials"][0]["satisfied_by_certificate_types"] = ["household_register", "no_such_type"]
    body["materials"][1]["copies"] = -2
    body["materials"].append(body["materials"][0])
    body["form"].append(body["form"][0])
    body["result_certificate_type"] = "no_such_result"
    r = await _put(client, op, "matters", body, code="430200-GA-901")
    assert_problem(r, 422, "matter_invalid")
    assert r.json() == {
        "type": "matter_invalid",
        "title": "事项定义不符合要求",
        "status": 422,
        "errors": [
            {"field": "code", "message": "does not match the path (430200-GA-901)"},
            {"field": "department.id", "message": "no department 00000000-0000-4000-8000-000000000000"},
            {"field": "guide.visits_required", "message": "must be between 0 and 99"},
            {"field": "guide.promised_limit_days", "message": "承诺时限 may not exceed 法定时限 (legal_limit_days)"},
            {"field": "materials[0].satisfied_by_certificate_types[1]", "message": "no certificate type no_such_type"},
            {"field": "materials[1].copies", "message": "must be between 1 and 99"},
            {"field": "materials[2].code", "message": "household_register is listed twice"},
            {"field": "materials[2].satisfied_by_certificate_types[1]", "message": "no certificate type no_such_type"},
            {"field": "form[1].key", "message": "household_address is listed twice"},
            {"field": "result_certificate_type", "message": "no certificate type no_such_result"},
        ],
    }
    assert (await client.get("/v1/matters/430200-GA-900")).status_code == 404
    assert await conn.fetchval("SELECT count(*) FROM catalog_material WHERE code = 'loss_statement'") == 0


async def test_each_matter_problem_alone(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    gongan = await department_id(conn, "gongan")
    cases = [
        (lambda b: b["department"].update(id="00000000-0000-4000-8000-000000000000"), "department.id"),
        (lambda b: b["guide"].update(promised_limit_days=6), "guide.promised_limit_days"),
        (lambda b: b["guide"].update(legal_limit_days=-1, promised_limit_days=-1), "guide.legal_limit_days"),
        (
            lambda b: b["materials"][1].update(held_by_department={"id": "00000000-0000-4000-8000-000000000000"}),
            "materials[1].held_by_department.id",
        ),
        (lambda b: b.update(code="430200-GA-902"), "code"),
        # 公安局 does not issue birth medical certificates: approving would fail.
        (lambda b: b.update(result_certificate_type="birth_medical_certificate"), "result_certificate_type"),
    ]
    for change, field in cases:
        body = new_matter(gongan)
        change(body)
        r = await _put(client, op, "matters", body, code="430200-GA-900")
        assert_problem(r, 422, "matter_invalid")
        assert r.json()["errors"][0]["field"] == field, r.json()
    body = new_matter(gongan)
    body["surprise"] = 1
    assert_problem(await _put(client, op, "matters", body), 422, "validation_failed")
    body = new_matter(gongan)
    body["name"] = "  "
    assert_problem(await _put(client, op, "matters", body), 422, "validation_failed")
    body = new_matter(gongan)
    body["guide"]["fee"] = "免\u0000费"
    assert_problem(await _put(client, op, "matters", body), 422, "validation_failed")


async def test_only_operators_put_catalogue_entries(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    gongan = await department_id(conn, "gongan")
    matter = new_matter(gongan)
    bundle = (await client.get("/v1/bundles/medical_insurance")).json()
    citizen = (await sms_login(client, next_phone()))["access_token"]
    admin = await staff(client, op, conn, "gongan", ["dept_admin", "clerk", "approver", "issuer"])
    for kind, body in (("matters", matter), ("bundles", bundle)):
        url = f"/v1/admin/{kind}/{body['code']}"
        assert_problem(await client.put(url, json=body), 401, "unauthorized")
        for token in (citizen, admin):
            assert_problem(await client.put(url, json=body, headers=auth(token)), 403, "forbidden")
    assert (await client.get("/v1/matters/430200-GA-900")).status_code == 404


def new_bundle(shenpi: str) -> dict[str, Any]:
    """退役军人回乡: 退役士兵户口登记 after the veteran's certificate, two matters of two departments."""
    return {
        "code": "veteran_home",
        "name": "退役回乡一件事",
        "life_stage": "退役",
        "lead_department": {"id": shenpi},
        "matters": [
            {"code": "430200-TY-001", "after": [], "condition": None},
            {"code": "430200-GA-002", "after": ["430200-TY-001"], "condition": "form.household_address != null"},
        ],
        "promised_limit_days": 3,
    }


async def test_a_new_bundle_merges_its_matters(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    shenpi = await department_id(conn, "shenpi")
    r = await _put(client, op, "bundles", new_bundle(shenpi))
    assert r.status_code == 201, r.text
    b = (await client.get("/v1/bundles/veteran_home")).json()
    assert b == r.json()
    assert b["lead_department"] == {"id": shenpi, "name": "株洲市行政审批服务局"}
    assert [(m["code"], m["after"], m["department"]["name"]) for m in b["matters"]] == [
        ("430200-TY-001", [], "株洲市退役军人事务局"),
        ("430200-GA-002", ["430200-TY-001"], "株洲市公安局"),
    ]
    # 退出现役证明 is asked by both matters and submitted once.
    assert [f["key"] for f in b["form"]] == ["service_branch", "discharged_on", "household_address"]
    by_code = {m["code"]: m for m in b["materials"]}
    assert sorted(by_code) == ["applicant_id_card", "discharge_certificate", "household_register"]
    assert by_code["discharge_certificate"]["used_by"] == ["430200-TY-001", "430200-GA-002"]
    assert b["stats"] == {
        "materials_before": 4,
        "materials_after": 3,
        "uploads_typical": 1,
        "matters": 2,
        "departments": 2,
        "visits": 0,
    }
    assert await conn.fetchval("SELECT subject FROM catalog_bundle WHERE code = 'veteran_home'") == "self"
    listed = [x["code"] for x in (await client.get("/v1/bundles", params={"limit": 500})).json()["items"]]
    assert "veteran_home" in listed


async def test_a_bundle_put_back_shows_at_once(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    before = (await client.get("/v1/bundles/birth")).json()  # now built and cached by this process
    r = await _put(client, op, "bundles", before)
    assert r.status_code == 200 and r.json() == before

    changed = copy.deepcopy(before)
    changed["name"] = "新生儿出生一件事"
    changed["matters"] = [m for m in changed["matters"] if m["code"] != "430200-WJ-005"]
    r = await _put(client, op, "bundles", changed)
    assert r.status_code == 200, r.text
    after = (await client.get("/v1/bundles/birth")).json()
    assert after == r.json() and after["name"] == "新生儿出生一件事"
    assert after["stats"]["matters"] == 9 and "430200-WJ-005" not in [m["code"] for m in after["matters"]]
    r = await _put(client, op, "bundles", after | {"applicant_kinds": ["organisation"]})
    assert r.status_code == 200 and r.json()["applicant_kinds"] == ["organisation"], r.text
    assert (await client.get("/v1/bundles/birth")).json()["applicant_kinds"] == ["organisation"]
    # Whom the bundle is for is not part of the body and stays.
    assert await conn.fetchval("SELECT subject FROM catalog_bundle WHERE code = 'birth'") == "newborn"


async def test_a_changed_matter_shows_in_its_bundles_at_once(client: AsyncTestClient, op: str) -> None:
    assert (await client.get("/v1/bundles/veteran_return")).status_code == 200  # cached
    matter = (await client.get("/v1/matters/430200-GA-002")).json()
    matter["name"] = "退役士兵落户"
    assert (await _put(client, op, "matters", matter)).status_code == 200
    b = (await client.get("/v1/bundles/veteran_return")).json()
    assert next(m["name"] for m in b["matters"] if m["code"] == "430200-GA-002") == "退役士兵落户"


async def test_bundle_problems_name_each_field(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    shenpi = await department_id(conn, "shenpi")
    cycle = new_bundle(shenpi)
    cycle["matters"][0]["after"] = ["430200-GA-002"]
    r = await _put(client, op, "bundles", cycle)
    assert_problem(r, 422, "bundle_invalid")
    assert r.json()["errors"] == [
        {"field": "matters[0].after", "message": "forms a cycle: 430200-TY-001 would wait for itself"},
        {"field": "matters[1].after", "message": "forms a cycle: 430200-GA-002 would wait for itself"},
    ]

    bad = new_bundle(shenpi)
    bad["matters"].append({"code": "430200-XX-999", "after": ["430200-ZZ-001"], "condition": "form.x > 1"})
    bad["matters"].append({"code": "430200-TY-001", "after": [], "condition": "form.no_such_field == true"})
    bad["lead_department"]["id"] = "00000000-0000-4000-8000-000000000000"
    bad["promised_limit_days"] = -1
    r = await _put(client, op, "bundles", bad, code="veteran_home2")
    assert_problem(r, 422, "bundle_invalid")
    assert r.json()["errors"] == [
        {"field": "code", "message": "does not match the path (veteran_home2)"},
        {"field": "lead_department.id", "message": "no department 00000000-0000-4000-8000-000000000000"},
        {"field": "promised_limit_days", "message": "must be between 0 and 3650"},
        {"field": "matters[2].code", "message": "no matter 430200-XX-999"},
        {"field": "matters[2].after[0]", "message": "430200-ZZ-001 is not a matter of this bundle"},
        {
            "field": "matters[2].condition",
            "message": "unsupported condition: 'form.x > 1' (one comparison: form.key == or != a value)",
        },
        {"field": "matters[3].code", "message": "430200-TY-001 is listed twice"},
        {"field": "matters[3].condition", "message": "form.no_such_field is not a field of this bundle's matters"},
    ]

    empty = new_bundle(shenpi) | {"matters": []}
    r = await _put(client, op, "bundles", empty)
    assert_problem(r, 422, "bundle_invalid")
    assert r.json()["errors"] == [{"field": "matters", "message": "must name at least one matter"}]
    assert (await client.get("/v1/bundles/veteran_home")).status_code == 404


async def test_saves_are_audited(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    gongan = await department_id(conn, "gongan")
    shenpi = await department_id(conn, "shenpi")
    assert (await _put(client, op, "matters", new_matter(gongan))).status_code == 201
    assert (await _put(client, op, "matters", new_matter(gongan))).status_code == 200
    assert (await _put(client, op, "bundles", new_bundle(shenpi))).status_code == 201
    assert_problem(await _put(client, op, "bundles", new_bundle(shenpi) | {"matters": []}), 422, "bundle_invalid")
    rows = await conn.fetch(
        "SELECT actor, action, subject, data FROM audit_log WHERE action LIKE 'catalogue.%' ORDER BY seq"
    )
    assert [(r["action"], r["subject"], r["data"]) for r in rows] == [
        ("catalogue.matter_saved", "430200-GA-900", {"created": True}),
        ("catalogue.matter_saved", "430200-GA-900", {"created": False}),
        ("catalogue.bundle_saved", "veteran_home", {"created": True}),
    ]
    assert all(r["actor"] for r in rows)
    assert (await client.get("/v1/admin/audit/verify", headers=auth(op))).json()["ok"] is True
