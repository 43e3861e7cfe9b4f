"""免提交 for real: the department handling a task reads its own matter's materials, and only those."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem
from tests.matters.family import BANK_CARD, FATHER, MOTHER, birth_application, family, sha, task_of


async def test_a_department_reads_its_own_matters_materials_and_the_holder_sees_each_read(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    f = await family(client, op, clerk, conn)
    r = await client.post("/v1/applications", json=birth_application(f), headers=f.mother)
    assert r.status_code == 201, r.text
    app = r.json()
    weijian, yibao, gongan = f.depts["weijian"], f.depts["yibao"], f.depts["gongan"]
    certificate_task = task_of(app, "430200-WJ-001")["id"]  # 出生医学证明签发, 卫健委

    # The task shows its own matter's form fields and materials, not the bank card or the address.
    task = (await client.get(f"/v1/dept/tasks/{certificate_task}", headers=weijian)).json()
    assert set(task["form"]) == {
        "child_name",
        "child_sex",
        "child_born_at",
        "father_id_number",
        "mother_id_number",
        "delivery_record_no",
    }
    assert {m["code"] for m in task["materials"]} == {"father_id_card", "mother_id_card", "delivery_record"}
    assert BANK_CARD not in str(task)

    listed = (await client.get(f"/v1/dept/tasks/{certificate_task}/materials", headers=weijian)).json()
    by_code = {m["code"]: m for m in listed["items"]}
    assert set(by_code) == {"father_id_card", "mother_id_card", "delivery_record"}
    assert by_code["mother_id_card"]["source"] == "wallet" and by_code["mother_id_card"]["read"] == "certificate"
    assert by_code["father_id_card"]["source"] == "department" and by_code["father_id_card"]["read"] == "certificate"
    assert by_code["delivery_record"]["read"] is None and by_code["delivery_record"]["held_by_department"]["name"]
    assert (await client.get("/v1/wallet/access-log", headers=f.mother)).json()["items"] == []  # listing reads nothing

    # The mother's ID card from her wallet, the father's fetched by the ID number the form names.
    mum = await client.get(f"/v1/dept/tasks/{certificate_task}/materials/mother_id_card", headers=weijian)
    assert mum.status_code == 200, mum.text
    assert mum.json()["certificate"]["type_code"] == "id_card" and mum.json()["certificate"]["fields"]["name"] == "王芳"
    dad = await client.get(f"/v1/dept/tasks/{certificate_task}/materials/father_id_card", headers=weijian)
    assert dad.status_code == 200, dad.text
    assert dad.json()["certificate"]["fields"]["name"] == "李强"

    # Each read is in its holder's access log, with the department and the task.
    for who, code in ((f.mother, "mother_id_card"), (f.father, "father_id_card")):
        log = (await client.get("/v1/wallet/access-log", headers=who)).json()["items"]
        assert len(log) == 1, log
        assert log[0]["task_id"] == certificate_task and log[0]["material"] == code and log[0]["consent_id"] is None
        assert log[0]["department"]["name"] == "株洲市卫生健康委员会" and log[0]["outcome"] == "served"
        assert log[0]["actor"].startswith("account:") and "出生医学证明签发" in log[0]["purpose"]
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'task.material_read'") == 2

    # The bank card belongs to 医保's matters: 卫健委 gets 404 for it, by its task and by its hash.
    assert_problem(
        await client.get(f"/v1/dept/tasks/{certificate_task}/materials/bank_account/file", headers=weijian),
        404,
        "material_not_found",
    )
    assert_problem(
        await client.get(f"/v1/dept/tasks/{certificate_task}/materials/bank_account", headers=weijian),
        404,
        "material_not_found",
    )
    assert_problem(
        await client.get(f"/v1/blobs/{sha(f.uploads['bank_account'])}", headers=weijian), 404, "blob_not_found"
    )
    # Another department cannot reach 卫健委's task at all.
    assert_problem(
        await client.get(f"/v1/dept/tasks/{certificate_task}/materials", headers=gongan), 404, "task_not_found"
    )
    assert_problem(
        await client.get(f"/v1/dept/tasks/{certificate_task}/materials/mother_id_card", headers=gongan),
        404,
        "task_not_found",
    )
    assert_problem(await client.get(f"/v1/dept/tasks/{certificate_task}/materials", headers=f.mother), 403, "forbidden")

    # 医保's 生育津贴 reads the bank card and the invoice it asks for; the birth certificate once 卫健委 issued it.
    allowance = task_of(app, "430200-YB-003")["id"]
    assert_problem(
        await client.get(f"/v1/dept/tasks/{allowance}/materials/birth_medical_certificate", headers=yibao),
        409,
        "material_not_available",
    )
    assert (await client.post(f"/v1/dept/tasks/{certificate_task}/claim", headers=weijian)).status_code == 200
    r = await client.post(
        f"/v1/dept/tasks/{certificate_task}/approve",
        headers=weijian,
        json={
            "result_fields": {
                "birth_place": "株洲市中心医院",
                "mother_name": "王芳",
                "father_name": "李强",
                "institution": "株洲市中心医院",
            }
        },
    )
    assert r.status_code == 200, r.text
    card = await client.get(f"/v1/dept/tasks/{allowance}/materials/bank_account/file", headers=yibao)
    assert card.status_code == 200 and card.content == f.uploads["bank_account"]
    assert card.headers["content-type"] == "image/png"
    bmc = await client.get(f"/v1/dept/tasks/{allowance}/materials/birth_medical_certificate", headers=yibao)
    assert bmc.status_code == 200, bmc.text
    assert bmc.json()["source"] == "bundle" and bmc.json()["certificate"]["fields"]["child_name"] == "李小满"
    # 医保 never sees the photo of the child: not one of its matter's materials.
    assert_problem(
        await client.get(f"/v1/dept/tasks/{allowance}/materials/child_photo/file", headers=yibao),
        404,
        "material_not_found",
    )

    mine = (await client.get("/v1/wallet/access-log", headers=f.mother)).json()["items"]
    assert [(e["material"], e["department"]["name"]) for e in mine][:1] == [("bank_account", "株洲市医疗保障局")]
    child = app["for_person_id"]
    childs = (await client.get("/v1/wallet/access-log", params={"person_id": child}, headers=f.father)).json()["items"]
    assert [(e["material"], e["task_id"]) for e in childs] == [("birth_medical_certificate", allowance)]
    assert MOTHER not in str(mine) and FATHER not in str(childs)
