"""出生一件事 end to end, through the public HTTP API only.

Two parents prove who they are (L3), departments issue their ID cards, household register and
marriage certificate into their wallets, the mother applies for the newborn handing in only what
no certificate covers, every department works its task in the bundle's order, the child's wallet
ends with its certificates, and the parents rate the service.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import auth
from tests.people import citizen, id_number, staff

FATHER = id_number("19900512", 11, male=True)
MOTHER = id_number("19920304", 12, male=False)
CHILD = id_number("20261118", 13, male=False)
ADDRESS = "湖南省株洲市天元区长江北路1号"


async def _department(client: AsyncTestClient, op: str, conn: asyncpg.Connection, key: str) -> dict[str, str]:
    """Staff who run a department end to end, and the department's official seal."""
    h = auth(await staff(client, op, conn, key, ["dept_admin", "issuer", "approver", "clerk"]))
    r = await client.post(
        "/v1/dept/seals", json={"name": "电子公章", "kind": "official", "algorithm": "ES256"}, headers=h
    )
    assert r.status_code == 201, r.text
    return h


async def _issue(
    client: AsyncTestClient, h: dict[str, str], type_code: str, number: str, name: str, fields: dict[str, Any]
) -> dict:
    body = {
        "type_code": type_code,
        "holder": {"id_number": number, "name": name},
        "fields": fields,
        "external_ref": f"{type_code}:{number}",
    }
    r = await client.post("/v1/dept/certificates", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_family_registers_a_birth_once(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    gongan, minzheng, weijian, renshe, yibao = [
        await _department(client, op, conn, k) for k in ("gongan", "minzheng", "weijian", "renshe", "yibao")
    ]
    father = await citizen(client, clerk, name="李强", id_number=FATHER)
    mother = await citizen(client, clerk, name="王芳", id_number=MOTHER)
    mum = auth(mother["access_token"])

    # The state already issued these; they live in the parents' wallets.
    for number, name, sex in ((FATHER, "李强", "男"), (MOTHER, "王芳", "女")):
        await _issue(
            client,
            gongan,
            "id_card",
            number,
            name,
            {
                "name": name,
                "sex": sex,
                "ethnicity": "汉",
                "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
                "address": ADDRESS,
                "valid_until": "2040-01-01",
            },
        )
        await _issue(
            client,
            gongan,
            "household_register",
            number,
            name,
            {
                "household_head": "李强",
                "relation": "户主" if name == "李强" else "妻",
                "address": ADDRESS,
                "registered_on": "2020-05-01",
            },
        )
    await _issue(
        client,
        minzheng,
        "marriage_certificate",
        MOTHER,
        "王芳",
        {"spouse_name": "李强", "registered_on": "2020-05-01", "registry": "株洲市天元区民政局"},
    )

    # Prefill: the wallet, the hospital and the bundle itself cover all but three materials.
    prefill = (await client.get("/v1/bundles/birth/prefill", headers=mum)).json()
    status = {m["code"]: m for m in prefill["materials"]}
    assert prefill["form"]["mother_id_number"] == MOTHER
    assert {c for c, m in status.items() if m["status"] == "from_wallet"} == {
        "mother_id_card",
        "household_register",
        "marriage_certificate",
    }
    assert status["father_id_card"]["status"] == "from_department"
    needed = sorted(c for c, m in status.items() if m["status"] == "needed")
    assert needed == ["bank_account", "child_photo", "hospital_invoice", "vaccination_register"]  # the last is optional

    form = {
        "child_name": "李小满",
        "child_sex": "女",
        "child_born_at": "2026-11-18",
        "father_id_number": FATHER,
        "mother_id_number": MOTHER,
        "household_address": ADDRESS,
        "bank_account_no": "6222020202020202",
        "delivery_record_no": "ZZ-2026-1118-007",
    }
    uploads = [
        {"code": c, "blob_sha256": f"{i:02d}" * 32}
        for i, c in enumerate(["child_photo", "bank_account", "hospital_invoice"])
    ]
    r = await client.post(
        "/v1/applications",
        headers=mum,
        json={"id": str(uuid.uuid4()), "bundle_code": "birth", "form": form, "materials": uploads},
    )
    assert r.status_code == 201, r.text
    app = r.json()
    child = app["for_person_id"]
    assert child not in (app["applicant_person_id"],)
    # No payment year given: 医保缴费 does not apply; nine tasks, the first ones ready.
    tasks = {t["matter_code"]: t for t in app["tasks"]}
    assert len(tasks) == 9 and "430200-YB-002" not in tasks
    assert {c for c, t in tasks.items() if t["status"] == "pending"} == {"430200-WJ-001", "430200-WJ-005"}
    sources = {m["code"]: m["source"] for m in app["materials"]}
    assert sources["mother_id_card"] == "wallet" and sources["father_id_card"] == "department"
    assert sources["birth_medical_certificate"] == "bundle" and sources["delivery_record"] == "department"

    # The father, a guardian, sees the application too.
    assert (await client.get(f"/v1/applications/{app['id']}", headers=auth(father["access_token"]))).status_code == 200

    handlers = {"430200-WJ": weijian, "430200-GA": gongan, "430200-RS": renshe, "430200-YB": yibao}
    results = {
        "430200-WJ-001": {
            "result_fields": {
                "birth_place": "株洲市中心医院",
                "mother_name": "王芳",
                "father_name": "李强",
                "institution": "株洲市中心医院",
            }
        },
        "430200-GA-001": {
            "result_fields": {
                "household_head": "李强",
                "relation": "女",
                "address": ADDRESS,
                "registered_on": "2026-11-20",
            },
            "assigned_id_number": CHILD,
        },
        "430200-RS-001": {"result_fields": {"card_no": "A12345678", "bank": "中国工商银行", "issued_on": "2026-11-21"}},
        "430200-YB-001": {"result_fields": {"insurance_type": "城乡居民医保", "start_on": "2026-11-18"}},
        "430200-WJ-004": {"result_fields": {"clinic": "天元区社区卫生服务中心"}},
        "430200-WJ-005": {"result_fields": {"mother_name": "王芳", "issued_on": "2026-11-21"}},
    }
    order: list[str] = []
    while True:
        current = (await client.get(f"/v1/applications/{app['id']}", headers=mum)).json()
        ready = [t for t in current["tasks"] if t["status"] == "pending"]
        if not ready:
            break
        for t in ready:
            h = handlers[t["matter_code"][:9]]
            assert (await client.post(f"/v1/dept/tasks/{t['id']}/claim", headers=h)).status_code == 200
            r = await client.post(
                f"/v1/dept/tasks/{t['id']}/approve", json=results.get(t["matter_code"], {}), headers=h
            )
            assert r.status_code == 200, (t["matter_code"], r.text)
            order.append(t["matter_code"])
    assert current["status"] == "completed", current
    # The bundle's order held: 出生登记 after 出生医学证明, 社保卡 and 参保 after 出生登记.
    assert order.index("430200-GA-001") > order.index("430200-WJ-001")
    assert order.index("430200-RS-001") > order.index("430200-GA-001")
    assert order.index("430200-WJ-004") > order.index("430200-WJ-003")

    # The child's certificates are in the child's wallet, which the guardians can read.
    r = await client.get("/v1/wallet/items", params={"kind": "certificate", "person_id": child}, headers=mum)
    assert r.status_code == 200, r.text
    held = {i["certificate"]["type_code"] for i in r.json()["items"]}
    assert {
        "birth_medical_certificate",
        "household_register",
        "social_security_card",
        "medical_insurance_record",
        "vaccination_certificate",
    } <= held
    # 出生登记 recorded the assigned ID number: the child is found by it like anyone else.
    hukou = next(i for i in r.json()["items"] if i["certificate"]["type_code"] == "household_register")
    assert hukou["certificate"]["holder"]["id_masked"] == CHILD[:3] + "*" * 11 + CHILD[-4:]

    r = await client.post(
        f"/v1/applications/{app['id']}/evaluation", json={"level": 5, "comment": "跑一次都不用"}, headers=mum
    )
    assert r.status_code == 201 and r.json()["rectification"] is None

    # The child is who the form said: the export of the child's wallet shows the sex given at birth.
    r = await client.get("/v1/wallet/export", params={"person_id": child}, headers=mum)
    assert r.status_code == 200, r.text
    assert (r.json()["person"]["born_on"], r.json()["person"]["sex"]) == ("2026-11-18", "female")
