"""The business entity's life cycle end to end through HTTP (issue: 经营主体 too).

A person opens a company through 企业开办一件事 and becomes its 法定代表人; the company's wallet receives its
licence and seal record, and the platform makes its e-seal; the legal representative authorises a 经办人 for
开办餐饮店一件事 only; the agent applies (the licence from the wallet, the application signed with the
company's seal), departments verify the signature and approve, the permits land in the company's wallet;
the authorisation expires and the agent is refused; another company's agent sees nothing; the company closes
through 企业注销一件事 (clearing in parallel, the licence revoked at the end) and its wallet is kept, read only.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth
from tests.enterprise.helpers import BLOB, act_as, valid
from tests.people import citizen, id_number, staff

COMPANY, RIVAL = valid("91430200MA4CYCLE1X"), valid("91430200MA4RKWAL1X")
AGENT_NUMBER = id_number("19930303", 14)
# Departments issuing the bundles' result certificates (营业执照, 印章备案回执, permits, 清税证明, 注销通知书).
ISSUERS = frozenset({"shichang", "gongan", "chengguan", "xiaofang", "shuiwu"})


class Departments:
    def __init__(self, client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
        self.client, self.op, self.conn, self.tokens = client, op, conn, {}

    async def headers(self, key: str) -> dict[str, str]:
        if key not in self.tokens:
            h = auth(await staff(self.client, self.op, self.conn, key, ["approver", "issuer", "dept_admin", "clerk"]))
            if key in ISSUERS:
                r = await self.client.post(
                    "/v1/dept/seals", headers=h, json={"name": "电子公章", "kind": "official", "algorithm": "ES256"}
                )
                assert r.status_code == 201, r.text
            self.tokens[key] = h
        return self.tokens[key]

    async def task(self, key: str, application_id: str, matter: str) -> dict[str, Any]:
        tasks = (await self.client.get("/v1/dept/tasks", headers=await self.headers(key))).json()["items"]
        return next(t for t in tasks if t["application_id"] == application_id and t["matter_code"] == matter)

    async def approve(self, key: str, application_id: str, matter: str, **body: Any) -> dict[str, Any]:
        task = await self.task(key, application_id, matter)
        r = await self.client.post(f"/v1/dept/tasks/{task['id']}/approve", json=body, headers=await self.headers(key))
        assert r.status_code == 200, r.text
        return r.json()


async def apply(
    client: AsyncTestClient,
    h: dict[str, str],
    bundle: str,
    form: dict[str, Any],
    from_wallet: dict[str, str] | None = None,
) -> dict[str, Any]:
    b = (await client.get(f"/v1/bundles/{bundle}")).json()
    filled = {f["key"]: form.get(f["key"], "测试") for f in b["form"]}
    wallet = from_wallet or {}
    materials = [
        {"code": m["code"], "wallet_item_id": wallet[m["code"]]}
        if m["code"] in wallet
        else {"code": m["code"], "blob_sha256": BLOB}
        for m in b["materials"]
        if not m["held_by_department"] and not m["produced_by_matter"]
    ]
    r = await client.post(
        "/v1/applications",
        headers=h,
        json={"id": str(uuid.uuid4()), "bundle_code": bundle, "form": filled, "materials": materials},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def open_company(client: AsyncTestClient, depts: Departments, h: dict[str, str], code: str, name: str) -> dict:
    app = await apply(client, h, "open_company", {"entity_name": name, "scope": "餐饮服务", "bank_name": "株洲银行"})
    assert app["due_at"] and {t["status"] for t in app["tasks"]} == {"pending", "waiting"}
    await depts.approve(
        "shichang",
        app["id"],
        "430200-SC-002",
        assigned_credit_code=code,
        result_fields={"entity_type": "有限责任公司", "established_on": "2026-12-01"},
    )
    # After 设立登记 the other five run in parallel, the same day.
    await depts.approve("gongan", app["id"], "430200-GA-004", result_fields={"seal_kind": "单位公章"})
    for key, matter in (("shuiwu", "430200-SW-003"), ("renshe", "430200-RS-008"), ("gongjijin", "430200-GJ-004")):
        await depts.approve(key, app["id"], matter)
    return await depts.approve("renhang", app["id"], "430200-RH-001")


async def test_a_company_from_opening_to_closing(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    depts = Departments(client, op, conn)
    founder_number = id_number("19860606", 13)
    founder = auth((await citizen(client, clerk, name="陈创业", id_number=founder_number))["access_token"])
    agent_login = await citizen(client, clerk, name="林经办", id_number=AGENT_NUMBER)
    agent = auth(agent_login["access_token"])

    # 企业开办一件事: one application, six departments, done.
    done = await open_company(client, depts, founder, COMPANY, "陈记餐饮有限公司")
    assert done["status"] == "completed"
    listed = (await client.get("/v1/auth/organisations", headers=founder)).json()["items"]
    assert [(o["credit_code"], o["role"]) for o in listed] == [(COMPANY, "legal_representative")]
    company = await act_as(client, founder, COMPANY)
    items = (await client.get("/v1/wallet/items?kind=certificate", headers=company)).json()["items"]
    by_type = {i["certificate"]["type_code"]: i for i in items}
    assert sorted(by_type) == ["business_license", "seal_record"]
    seals = (await client.get("/v1/org/seals", headers=company)).json()["items"]
    assert [(x["algorithm"], x["status"], x["credit_code"]) for x in seals] == [("ES256", "active", COMPANY)]

    # The legal representative asks for an SM2 seal too (one active per algorithm) and revokes the ES256 one:
    # what the company signs from now on is signed with the SM2 seal. Both are audited.
    sm2 = await client.post("/v1/org/seals", json={"algorithm": "SM2"}, headers=company)
    assert sm2.status_code == 201 and sm2.json()["algorithm"] == "SM2", sm2.text
    assert_problem(
        await client.post("/v1/org/seals", json={"algorithm": "SM2"}, headers=company), 409, "entity_seal_exists"
    )
    r = await client.post(
        f"/v1/org/seals/{seals[0]['seal_id']}/revoke", json={"reason": "改用国密印章"}, headers=company
    )
    assert r.status_code == 200 and r.json()["status"] == "revoked" and r.json()["revoke_reason"] == "改用国密印章"
    assert_problem(await client.get("/v1/org/seals", headers=founder), 403, "forbidden")  # acting for no entity
    market = await depts.headers("shichang")
    checked = (await client.get(f"/v1/dept/entity-seals?credit_code={COMPANY}", headers=market)).json()["items"]
    assert [(x["algorithm"], x["status"]) for x in checked] == [("SM2", "active"), ("ES256", "revoked")]
    assert checked[0]["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert_problem(await client.get(f"/v1/dept/entity-seals?credit_code={COMPANY}", headers=founder), 403, "forbidden")
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action IN ('esign.entity_seal_made', "
            "'esign.entity_seal_revoked') AND subject = $1",
            f"org:{listed[0]['id']}",
        )
        == 3
    )

    # The legal representative authorises a 经办人 for 开办餐饮店一件事 only.
    ends = datetime.now(UTC) + timedelta(days=3)
    r = await client.post(
        "/v1/delegations",
        headers=company,
        json={
            "agent": {"id_number": AGENT_NUMBER, "name": "林经办"},
            "matters": ["open_restaurant"],
            "actions": ["apply"],
            "expires_at": ends.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    grant = r.json()

    # The agent applies for the company: 免提交 takes the licence from the company's wallet.
    as_agent = await act_as(client, agent, COMPANY)
    # The 经办人 sees the company's seals but may neither make nor revoke one.
    assert len((await client.get("/v1/org/seals", headers=as_agent)).json()["items"]) == 2
    assert_problem(await client.post("/v1/org/seals", json={"algorithm": "ES256"}, headers=as_agent), 403, "forbidden")
    assert_problem(
        await client.post(f"/v1/org/seals/{sm2.json()['seal_id']}/revoke", headers=as_agent), 403, "forbidden"
    )
    prefill = (await client.get("/v1/bundles/open_restaurant/prefill", headers=as_agent)).json()
    status = {m["code"]: m["status"] for m in prefill["materials"]}
    assert status["business_license_copy"] == "from_wallet"
    restaurant = await apply(
        client,
        as_agent,
        "open_restaurant",
        {"entity_name": "陈记餐饮有限公司", "premises": "芦淞区1号"},
        from_wallet={"business_license_copy": by_type["business_license"]["id"]},
    )
    assert restaurant["applicant_person_id"] == restaurant["for_person_id"] == listed[0]["id"]
    assert_problem(
        await client.post(
            "/v1/applications",
            headers=as_agent,
            json={"id": str(uuid.uuid4()), "matter_code": "430200-SC-004", "form": {}, "materials": []},
        ),
        403,
        "delegation_out_of_scope",
    )

    # Each department sees the company's e-seal signature on the application, checked, and approves.
    for key, matter in (("shichang", "430200-SC-003"), ("chengguan", "430200-CG-001"), ("xiaofang", "430200-XF-001")):
        task = await depts.task(key, restaurant["id"], matter)
        assert task["entity_signature"] == {
            **task["entity_signature"],
            "signer_credit_code": COMPANY,
            "valid": True,
            "algorithm": "SM2",
        }
        await depts.approve(key, restaurant["id"], matter)
    # A signature that no longer matches what was submitted is shown as such.
    await conn.execute(
        # The first character always carries six bits of the signature (a later one may hold only padding).
        "UPDATE application SET entity_signature = jsonb_set(entity_signature, '{sig}', to_jsonb("
        "CASE WHEN left(entity_signature->>'sig', 1) = 'A' THEN 'B' ELSE 'A' END "
        "|| substr(entity_signature->>'sig', 2))) WHERE id = $1",
        uuid.UUID(restaurant["id"]),
    )
    assert (await depts.task("shichang", restaurant["id"], "430200-SC-003"))["entity_signature"]["valid"] is False

    permits = {
        i["certificate"]["type_code"]
        for i in (await client.get("/v1/wallet/items?kind=certificate", headers=company)).json()["items"]
    }
    assert {"food_business_license", "signboard_permit", "fire_safety_inspection"} <= permits
    # 好差评 by the enterprise, counted apart from citizens' on the operators' figures.
    r = await client.post(f"/v1/applications/{restaurant['id']}/evaluation", json={"level": 5}, headers=company)
    assert r.status_code in (200, 201), r.text
    uses = (await client.get(f"/v1/delegations/{grant['id']}/uses", headers=company)).json()["items"]
    assert sorted(u["outcome"] for u in uses) == ["refused", "served"]

    # Another company's agent sees nothing of this one.
    rival = auth((await citizen(client, clerk, name="黄老板", id_number=id_number("19770707", 15)))["access_token"])
    await open_company(client, depts, rival, RIVAL, "黄记")
    rival_agent_number = id_number("19940404", 16)
    rival_agent = auth((await citizen(client, clerk, name="何经办", id_number=rival_agent_number))["access_token"])
    r = await client.post(
        "/v1/delegations",
        headers=await act_as(client, rival, RIVAL),
        json={
            "agent": {"id_number": rival_agent_number, "name": "何经办"},
            "matters": ["*"],
            "actions": ["apply"],
            "expires_at": ends.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    as_rival_agent = await act_as(client, rival_agent, RIVAL)
    assert_problem(
        await client.get(f"/v1/wallet/items/{by_type['business_license']['id']}", headers=as_rival_agent),
        404,
        "wallet_item_not_found",
    )
    assert (await client.get(f"/v1/applications/{restaurant['id']}", headers=as_rival_agent)).status_code == 404
    assert_problem(
        await client.post("/v1/auth/act-as", json={"credit_code": COMPANY}, headers=rival_agent), 404, "not_found"
    )

    # The authorisation expires: the agent's acting token ends with it, and the switch is refused.
    client.app.state.clock = lambda: ends + timedelta(minutes=1)
    try:
        assert_problem(await client.get("/v1/wallet/items", headers=as_agent), 401, "unauthorized")
        r = await client.post("/v1/auth/refresh", json={"refresh_token": agent_login["refresh_token"]})
        later = auth(r.json()["access_token"])
        assert_problem(
            await client.post("/v1/auth/act-as", json={"credit_code": COMPANY}, headers=later),
            403,
            "delegation_inactive",
        )
    finally:
        client.app.state.clock = None

    # 企业注销一件事: clearing in parallel, then 注销登记 revokes the licence; the wallet is kept, read only.
    closing = await apply(
        client,
        company,
        "company_closure",
        {"entity_name": "陈记餐饮有限公司"},
        from_wallet={"business_license_copy": by_type["business_license"]["id"]},
    )
    assert {t["matter_code"] for t in closing["tasks"] if t["status"] == "pending"} == {
        "430200-SW-005",
        "430200-RS-010",
        "430200-HG-001",
        "430200-RH-003",
    }
    for key, matter in (
        ("shuiwu", "430200-SW-005"),
        ("renshe", "430200-RS-010"),
        ("haiguan", "430200-HG-001"),
        ("renhang", "430200-RH-003"),
    ):
        await depts.approve(key, closing["id"], matter)
    last = await depts.task("shichang", closing["id"], "430200-SC-005")
    assert last["entity_signature"]["valid"] is True
    assert (await depts.approve("shichang", closing["id"], "430200-SC-005"))["status"] == "completed"
    # The e-seal is revoked with the licence: what it signed no longer verifies as current.
    r = await client.get(f"/v1/dept/tasks/{last['id']}", headers=await depts.headers("shichang"))
    assert r.json()["entity_signature"]["valid"] is False

    company = await act_as(client, founder, COMPANY)
    assert {x["status"] for x in (await client.get("/v1/org/seals", headers=company)).json()["items"]} == {"revoked"}
    assert_problem(
        await client.post("/v1/org/seals", json={"algorithm": "ES256"}, headers=company), 409, "wallet_closed"
    )
    kept = (await client.get("/v1/wallet/items", headers=company)).json()["items"]
    licence = next(
        i for i in kept if i["kind"] == "certificate" and i["certificate"]["type_code"] == "business_license"
    )
    assert licence["certificate"]["status"] == "revoked"
    assert ("event", "注销") in {(i["kind"], i["title"]) for i in kept}
    assert [o["status"] for o in (await client.get("/v1/auth/organisations", headers=founder)).json()["items"]] == [
        "closed"
    ]
    tax = await depts.headers("shuiwu")
    r = await client.post(
        "/v1/dept/records",
        headers=tax,
        json={
            "holder": {"credit_code": COMPANY, "name": "陈记餐饮有限公司"},
            "kind": "tax_credit_grade",
            "title": "纳税信用",
            "data": {"grade": "A"},
            "occurred_at": "2026-12-01T00:00:00Z",
            "external_ref": "after-closing",
        },
    )
    assert_problem(r, 409, "wallet_closed")

    # The operators' figures: enterprises apart from citizens, and opening a business by department.
    stats = (await client.get("/v1/admin/stats", headers=auth(op))).json()
    applicants = {row["applicant"]: row for row in stats["by_applicant"]}
    assert applicants["enterprise"]["received"] == 2 and applicants["enterprise"]["satisfaction"] == 1.0
    assert applicants["citizen"]["received"] == 2  # the two 企业开办 applications, made before the companies existed
    opening = {row["department_name"]: row for row in stats["business_opening"]}
    assert len(opening) == 6 and all(row["received"] == 2 == row["completed"] for row in opening.values())
    page = await client.get("/admin")
    assert "企业开办：各部门办件量与用时" in page.text
