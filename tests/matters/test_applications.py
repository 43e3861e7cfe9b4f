"""Applying and handling through HTTP: one front door, departments deciding their parts."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth, sms_login
from tests.people import citizen, id_number, staff

BLOB = "ab" * 32
MOTHER = id_number("19920304", 7, male=False)


def maternity_allowance(app_id: uuid.UUID | None = None, **over: Any) -> dict[str, Any]:
    """生育津贴申领 alone: no result certificate, five materials, one department (医保)."""
    body = {
        "id": str(app_id or uuid.uuid4()),
        "matter_code": "430200-YB-003",
        "form": {"mother_id_number": MOTHER, "bank_account_no": "6222020202020202"},
        "materials": [
            {"code": "mother_id_card", "blob_sha256": BLOB},
            {"code": "birth_medical_certificate", "blob_sha256": BLOB},
            {"code": "bank_account", "blob_sha256": BLOB},
            {"code": "hospital_invoice", "blob_sha256": BLOB},
        ],
    }
    return body | over


async def test_submit_once_and_retry_returns_the_same(
    client: AsyncTestClient, clerk: str, conn: asyncpg.Connection
) -> None:
    me = await citizen(client, clerk, name="王芳", id_number=MOTHER)
    h = auth(me["access_token"])
    body = maternity_allowance()
    r = await client.post("/v1/applications", json=body, headers=h)
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["status"] == "submitted" and app["matter_code"] == "430200-YB-003"
    assert [(t["matter_code"], t["status"]) for t in app["tasks"]] == [("430200-YB-003", "pending")]
    assert app["tasks"][0]["due_at"] and app["due_at"]
    assert app["form"]["mother_id_number"] == MOTHER[:3] + "*" * 11 + MOTHER[-4:]
    assert [e["event"] for e in app["timeline"]] == ["submitted"]

    again = await client.post("/v1/applications", json=body, headers=h)
    assert again.status_code == 200 and again.json()["id"] == app["id"]
    other = await client.post(
        "/v1/applications", json=body | {"form": body["form"] | {"bank_account_no": "1"}}, headers=h
    )
    assert_problem(other, 409, "application_id_reused")
    # The id names one application across everyone: another citizen sending it (learnt from a receipt, say) is
    # refused, and makes no second application a department could take for this one.
    neighbour = id_number("19900101", 5, male=False)
    h2 = auth((await citizen(client, clerk, name="李娜", id_number=neighbour))["access_token"])
    twin = await client.post(
        "/v1/applications", json=body | {"form": body["form"] | {"mother_id_number": neighbour}}, headers=h2
    )
    assert_problem(twin, 409, "application_id_reused")
    assert (await client.get(f"/v1/applications/{app['id']}", headers=h2)).status_code == 404
    assert await conn.fetchval("SELECT count(*) FROM application") == 1
    # The form is sealed at rest: no ID number or account number in the clear.
    raw = await conn.fetchval("SELECT form FROM application")
    assert MOTHER.encode() not in raw and b"6222020202020202" not in raw


async def test_missing_materials_are_listed_and_deferral_is_allowed(client: AsyncTestClient, clerk: str) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    body = maternity_allowance()
    body["materials"] = [m for m in body["materials"] if m["code"] in ("mother_id_card", "birth_medical_certificate")]
    r = await client.post("/v1/applications", json=body, headers=h)
    problem = assert_problem(r, 422, "materials_missing")
    assert sorted(problem["missing"]) == ["bank_account", "hospital_invoice"]
    # 容缺受理: the invoice may come later; the bank account may too.
    deferred = await client.post(
        "/v1/applications", json=body | {"deferred_materials": ["hospital_invoice", "bank_account"]}, headers=h
    )
    assert deferred.status_code == 201, deferred.text
    app = deferred.json()
    assert sorted(app["deferred_materials"]) == ["bank_account", "hospital_invoice"] and app["supplement_due_at"]
    assert "accepted_with_deferral" in [e["event"] for e in app["timeline"]]
    # The mother's ID card may not be deferred.
    body["materials"] = [m for m in body["materials"] if m["code"] != "mother_id_card"]
    r = await client.post(
        "/v1/applications",
        json=body
        | {"id": str(uuid.uuid4()), "deferred_materials": ["mother_id_card", "bank_account", "hospital_invoice"]},
        headers=h,
    )
    assert assert_problem(r, 422, "materials_missing")["missing"] == ["mother_id_card"]


async def test_bad_form_and_unknown_material_are_422(client: AsyncTestClient, clerk: str) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    r = await client.post(
        "/v1/applications", json=maternity_allowance(form={"mother_id_number": MOTHER, "colour": "red"}), headers=h
    )
    fields = {e["field"] for e in assert_problem(r, 422, "form_invalid")["errors"]}
    assert fields == {"form.colour", "form.bank_account_no"}
    body = maternity_allowance()
    body["materials"].append({"code": "sale_contract", "blob_sha256": BLOB})
    assert_problem(await client.post("/v1/applications", json=body, headers=h), 422, "material_invalid")
    r = await client.post("/v1/applications", json={"id": str(uuid.uuid4()), "form": {}}, headers=h)
    assert_problem(r, 422, "form_invalid")
    r = await client.post("/v1/applications", json=maternity_allowance(matter_code="NOPE"), headers=h)
    assert_problem(r, 404, "matter_not_found")


async def test_a_phone_login_alone_cannot_apply(client: AsyncTestClient) -> None:
    pair = await sms_login(client, "13811112222")
    r = await client.post("/v1/applications", json=maternity_allowance(), headers=auth(pair["access_token"]))
    assert assert_problem(r, 403, "assurance_required")["required_level"] == "L2"
    assert_problem(await client.post("/v1/applications", json=maternity_allowance()), 401, "unauthorized")


async def test_department_handles_its_task_only(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection
) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    task_id = app["tasks"][0]["id"]
    yibao = auth(await staff(client, op, conn, "yibao", ["clerk", "approver"]))
    other = auth(await staff(client, op, conn, "gongan", ["clerk", "approver"]))

    listed = (await client.get("/v1/dept/tasks", params={"status": "pending"}, headers=yibao)).json()["items"]
    assert [t["id"] for t in listed] == [task_id]
    assert listed[0]["form"]["mother_id_number"] == MOTHER  # the handling department sees it whole
    assert (await client.get("/v1/dept/tasks", headers=other)).json()["items"] == []
    assert_problem(await client.post(f"/v1/dept/tasks/{task_id}/claim", headers=other), 404, "task_not_found")
    assert_problem(await client.post(f"/v1/dept/tasks/{task_id}/claim", headers=h), 403, "forbidden")

    claimed = await client.post(f"/v1/dept/tasks/{task_id}/claim", headers=yibao)
    assert claimed.status_code == 200 and claimed.json()["status"] == "in_progress"
    assert_problem(await client.post(f"/v1/dept/tasks/{task_id}/claim", headers=yibao), 409, "task_state_conflict")
    # 不打回票打清单: no reasons, no rejection.
    r = await client.post(f"/v1/dept/tasks/{task_id}/reject", json={"reasons": []}, headers=yibao)
    assert_problem(r, 422, "reasons_required")
    r = await client.post(f"/v1/dept/tasks/{task_id}/reject", json={"reasons": ["  "]}, headers=yibao)
    assert_problem(r, 422, "reasons_required")
    r = await client.post(
        f"/v1/dept/tasks/{task_id}/reject",
        headers=yibao,
        json={"reasons": ["住院费用票据不清晰"], "required_materials": ["hospital_invoice"]},
    )
    assert r.status_code == 200
    done = r.json()
    assert done["status"] == "rejected" and done["completed_at"]
    assert done["tasks"][0]["reasons"] == ["住院费用票据不清晰"] and done["tasks"][0]["required_materials"] == [
        "hospital_invoice"
    ]
    assert [e["event"] for e in done["timeline"]] == ["submitted", "task_claimed", "task_rejected", "rejected"]
    # The decision is in the audit log.
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'task.reject'") == 1


async def test_supplement_pauses_and_resumes(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection
) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    task_id = app["tasks"][0]["id"]
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    r = await client.post(
        f"/v1/dept/tasks/{task_id}/request-supplement",
        headers=yibao,
        json={"required_materials": ["hospital_invoice"], "note": "请补充清晰的票据"},
    )
    assert r.status_code == 200 and r.json()["status"] == "needs_supplement"
    assert_problem(
        await client.post(f"/v1/dept/tasks/{task_id}/approve", json={}, headers=yibao), 409, "task_state_conflict"
    )
    r = await client.post(
        f"/v1/applications/{app['id']}/supplement",
        headers=h,
        json={"materials": [{"code": "hospital_invoice", "blob_sha256": "cd" * 32}]},
    )
    assert r.status_code == 200, r.text
    resumed = r.json()
    assert resumed["status"] == "in_progress" and resumed["tasks"][0]["status"] == "claimed"
    assert {"code": "hospital_invoice", "source": "blob", "blob_sha256": "cd" * 32} in resumed["materials"]
    r = await client.post(f"/v1/dept/tasks/{task_id}/approve", json={}, headers=yibao)
    assert r.status_code == 200 and r.json()["status"] == "completed"


async def test_withdraw_before_completion(client: AsyncTestClient, clerk: str) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    r = await client.post(f"/v1/applications/{app['id']}/withdraw", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert r.json()["tasks"][0]["status"] == "cancelled"
    assert_problem(await client.post(f"/v1/applications/{app['id']}/withdraw", headers=h), 409, "application_closed")


async def test_others_cannot_see_my_application(client: AsyncTestClient, clerk: str) -> None:
    mine = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    theirs = auth((await citizen(client, clerk, name="赵六", id_number=id_number("19800101", 3)))["access_token"])
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=mine)).json()
    assert_problem(await client.get(f"/v1/applications/{app['id']}", headers=theirs), 404, "application_not_found")
    assert (await client.get("/v1/applications", headers=theirs)).json()["items"] == []
    assert [a["id"] for a in (await client.get("/v1/applications", headers=mine)).json()["items"]] == [app["id"]]


async def test_bundle_conditions_and_order(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection
) -> None:
    """个人创业一件事: 创业担保贷款 applies only when a loan is asked; later matters wait for 设立登记."""
    number = id_number("19880808", 5)
    h = auth((await citizen(client, clerk, name="创业者", id_number=number))["access_token"])
    bundle = (await client.get("/v1/bundles/start_business")).json()
    form = {f["key"]: "x" for f in bundle["form"] if f["required"]}
    for f in bundle["form"]:
        if f["type"] == "date":
            form[f["key"]] = "2026-11-01"
        if f["key"].endswith("id_number"):
            form[f["key"]] = number
        if f["type"] == "integer" and f["key"] in form:
            form[f["key"]] = 1
    form.pop("loan_amount", None)
    materials = [
        {"code": m["code"], "blob_sha256": BLOB}
        for m in bundle["materials"]
        if not m["held_by_department"] and not m["produced_by_matter"]
    ]
    body = {"id": str(uuid.uuid4()), "bundle_code": "start_business", "form": form, "materials": materials}
    r = await client.post("/v1/applications", json=body, headers=h)
    assert r.status_code == 201, r.text
    tasks = {t["matter_code"]: t["status"] for t in r.json()["tasks"]}
    assert tasks == {"430200-SC-001": "pending", "430200-SW-001": "waiting", "430200-RS-003": "waiting"}

    shichang = auth(await staff(client, op, conn, "shichang", ["approver", "dept_admin"]))
    r = await client.post(
        "/v1/dept/seals", json={"name": "电子公章", "kind": "official", "algorithm": "ES256"}, headers=shichang
    )
    assert r.status_code == 201, r.text
    first = next(
        t["id"]
        for t in (await client.get(f"/v1/applications/{body['id']}", headers=h)).json()["tasks"]
        if t["matter_code"] == "430200-SC-001"
    )
    # 设立登记 issues a business licence, whose fields the department completes.
    licence = {
        "entity_type": "个体工商户",
        "legal_representative": "创业者",
        "scope": "零售",
        "established_on": "2026-11-20",
    }
    r = await client.post(f"/v1/dept/tasks/{first}/approve", json={"result_fields": licence}, headers=shichang)
    assert_problem(r, 422, "credit_code_required")
    r = await client.post(
        f"/v1/dept/tasks/{first}/approve",
        headers=shichang,
        json={"result_fields": licence, "assigned_credit_code": "92430211MA4T8XJW77"},
    )
    assert r.status_code == 200, r.text
    after = {t["matter_code"]: t for t in r.json()["tasks"]}
    assert after["430200-SC-001"]["status"] == "approved" and after["430200-SC-001"]["result_certificate_id"]
    assert after["430200-SW-001"]["status"] == "pending" and after["430200-SW-001"]["due_at"]
    assert after["430200-RS-003"]["status"] == "pending"
