"""One birth, one child: both parents apply, answer 补正, follow progress and rate the same case."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from api.config import Settings
from tests.auth.helpers import assert_problem, auth
from tests.authz.world import drain
from tests.matters.family import CHILD, birth_application, family, png, sha, task_of
from tests.people import citizen, id_number, staff

RESULTS = {
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
            "address": "株洲市天元区",
            "registered_on": "2026-11-20",
        },
        "assigned_id_number": CHILD,
    },
    "430200-RS-001": {"result_fields": {"card_no": "A12345678", "bank": "中国工商银行", "issued_on": "2026-11-21"}},
    "430200-YB-001": {"result_fields": {"insurance_type": "城乡居民医保", "start_on": "2026-11-18"}},
    "430200-WJ-004": {"result_fields": {"clinic": "天元区社区卫生服务中心"}},
    "430200-WJ-005": {"result_fields": {"mother_name": "王芳", "issued_on": "2026-11-21"}},
}
HANDLERS = {"430200-WJ": "weijian", "430200-GA": "gongan", "430200-RS": "renshe", "430200-YB": "yibao"}


async def _titles(client: AsyncTestClient, h: dict[str, str]) -> list[str]:
    return [
        n["title"] for n in (await client.get("/v1/notifications", params={"limit": 200}, headers=h)).json()["items"]
    ]


async def test_two_parents_one_child_through_the_whole_birth_flow(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, settings: Settings
) -> None:
    f = await family(client, op, clerk, conn)
    mum_body = birth_application(f)
    r = await client.post("/v1/applications", json=mum_body, headers=f.mother)
    assert r.status_code == 201, r.text
    app = r.json()
    child = app["for_person_id"]

    # The father applies for the same baby on his phone: the hospital's number (typed his way) finds the case.
    dad_body = birth_application(f, delivery_record_no=" zz-2026-1118-042", birth_certificate_no="Q430012345")
    r = await client.post("/v1/applications", json=dad_body, headers=f.father)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == app["id"] and r.json()["for_person_id"] == child
    again = await client.post("/v1/applications", json=dad_body, headers=f.father)  # his phone retries
    assert again.status_code == 200 and again.json()["id"] == app["id"]
    # Now the 出生医学证明 number alone finds it too.
    only_bmc = birth_application(f, delivery_record_no=None, birth_certificate_no="Q430012345")
    r = await client.post("/v1/applications", json=only_bmc, headers=f.mother)
    assert r.status_code == 200 and r.json()["id"] == app["id"]
    # One child: each parent keeps exactly one dependent, and one application for it.
    for who in (f.mother, f.father):
        deps = (await client.get("/v1/wallet/dependents", headers=who)).json()["items"]
        assert [d["person_id"] for d in deps] == [child]
        assert [a["id"] for a in (await client.get("/v1/applications", headers=who)).json()["items"]] == [app["id"]]
    assert await conn.fetchval("SELECT count(*) FROM application") == 1
    assert await conn.fetchval("SELECT count(*) FROM person WHERE id_number IS NULL") == 1

    # Parents the case does not name cannot join it, nor learn whose it is.
    stranger_number = id_number("19930101", 34, male=False)
    stranger = auth((await citizen(client, clerk, name="赵丽", id_number=stranger_number))["access_token"])
    body = birth_application(f, mother_id_number=stranger_number)
    body["materials"] = []
    body["deferred_materials"] = ["child_photo", "bank_account", "hospital_invoice"]
    r = await client.post("/v1/applications", json=body, headers=stranger)
    assert [e["field"] for e in assert_problem(r, 422, "form_invalid")["errors"]] == ["form.delivery_record_no"]
    assert app["id"] not in r.text and child not in r.text
    # Without either number a birth cannot be told apart from another.
    r = await client.post("/v1/applications", json=birth_application(f, delivery_record_no=None), headers=f.mother)
    fields = {e["field"] for e in assert_problem(r, 422, "form_invalid")["errors"]}
    assert fields >= {"form.delivery_record_no", "form.birth_certificate_no"}

    # 卫健委 asks for a clearer copy of the mother's ID card for 母子健康手册; the father answers the 补正.
    weijian = f.depts["weijian"]
    handbook = task_of(app, "430200-WJ-005")["id"]
    r = await client.post(
        f"/v1/dept/tasks/{handbook}/request-supplement",
        headers=weijian,
        json={"required_materials": ["mother_id_card"], "note": "请上传清晰的身份证件"},
    )
    assert r.status_code == 200 and r.json()["status"] == "needs_supplement"
    await drain(settings)
    for who in (f.mother, f.father):
        assert "需要补正材料" in await _titles(client, who)
    scan = png("clear-id-card")
    assert (
        await client.put(f"/v1/blobs/{sha(scan)}", content=scan, headers=f.father | {"Content-Type": "image/png"})
    ).status_code == 201
    r = await client.post(
        f"/v1/applications/{app['id']}/supplement",
        headers=f.father,
        json={"materials": [{"code": "mother_id_card", "blob_sha256": sha(scan)}]},
    )
    assert r.status_code == 200, r.text
    assert task_of(r.json(), "430200-WJ-005")["status"] == "claimed"

    # Every department works its task in the bundle's order; 公安 must assign a number that is the child's.
    while True:
        current = (await client.get(f"/v1/applications/{app['id']}", headers=f.father)).json()
        ready = [t for t in current["tasks"] if t["status"] in ("pending", "claimed")]
        if not ready:
            break
        for t in ready:
            h = f.depts[HANDLERS[t["matter_code"][:9]]]
            if t["status"] == "pending":
                assert (await client.post(f"/v1/dept/tasks/{t['id']}/claim", headers=h)).status_code == 200
            if t["matter_code"] == "430200-GA-001":
                for wrong, why in (
                    (id_number("20261119", 33, male=False), "birth date"),
                    (id_number("20261118", 33, male=True), "sex"),
                ):
                    r = await client.post(
                        f"/v1/dept/tasks/{t['id']}/approve",
                        headers=h,
                        json=RESULTS[t["matter_code"]] | {"assigned_id_number": wrong},
                    )
                    problem = assert_problem(r, 422, "assigned_id_number_mismatch")
                    assert [e["message"] for e in problem["errors"]] == [f"does not carry the child's {why}"]
            r = await client.post(
                f"/v1/dept/tasks/{t['id']}/approve", json=RESULTS.get(t["matter_code"], {}), headers=h
            )
            assert r.status_code == 200, (t["matter_code"], r.text)
    assert current["status"] == "completed", current
    hukou = await client.get("/v1/wallet/items", params={"kind": "certificate", "person_id": child}, headers=f.father)
    holder = next(i for i in hukou.json()["items"] if i["certificate"]["type_code"] == "household_register")
    assert holder["certificate"]["holder"]["id_masked"] == CHILD[:3] + "*" * 11 + CHILD[-4:]

    # Both parents heard how it went.
    await drain(settings)
    for who in (f.mother, f.father):
        titles = await _titles(client, who)
        assert "申请已受理" in titles and "申请已办结" in titles, titles

    # The father rates it; the rating is the case's, so the mother cannot rate it twice, and both read the answer.
    r = await client.post(
        f"/v1/applications/{app['id']}/evaluation", json={"level": 2, "comment": "等得久"}, headers=f.father
    )
    assert r.status_code == 201, r.text
    assert_problem(
        await client.post(f"/v1/applications/{app['id']}/evaluation", json={"level": 5}, headers=f.mother),
        409,
        "evaluation_exists",
    )
    lead = auth(await staff(client, op, conn, "shenpi", ["approver"]))  # the bundle's lead department answers
    rects = (await client.get("/v1/dept/rectifications", headers=lead)).json()["items"]
    assert len(rects) == 1
    assert (
        await client.post(
            f"/v1/dept/rectifications/{rects[0]['id']}/respond", json={"text": "已优化流程"}, headers=lead
        )
    ).status_code == 200
    for who in (f.mother, f.father):
        got = (await client.get(f"/v1/applications/{app['id']}/evaluation", headers=who)).json()
        assert got["level"] == 2 and got["rectification"]["answer"] == "已优化流程", got
    assert_problem(
        await client.get(f"/v1/applications/{app['id']}/evaluation", headers=stranger), 404, "application_not_found"
    )
    await drain(settings)
    for who in (f.mother, f.father):
        assert "评价已获答复" in await _titles(client, who)


async def test_a_withdrawn_birth_case_is_applied_for_again_for_the_same_child(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    f = await family(client, op, clerk, conn)
    first = (await client.post("/v1/applications", json=birth_application(f), headers=f.mother)).json()
    r = await client.post(f"/v1/applications/{first['id']}/withdraw", headers=f.mother)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = await client.post("/v1/applications", json=birth_application(f), headers=f.father)
    assert r.status_code == 201, r.text
    assert r.json()["id"] != first["id"] and r.json()["for_person_id"] == first["for_person_id"]
    # And the mother, applying again, joins the father's new case.
    r = await client.post("/v1/applications", json=birth_application(f), headers=f.mother)
    assert r.status_code == 200 and r.json()["id"] != first["id"]
    assert await conn.fetchval("SELECT count(*) FROM person WHERE id_number IS NULL") == 1


async def test_the_child_sex_must_be_said_plainly(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    f = await family(client, op, clerk, conn)
    r = await client.post("/v1/applications", json=birth_application(f, child_sex="girl"), headers=f.mother)
    assert [e["field"] for e in assert_problem(r, 422, "form_invalid")["errors"]] == ["form.child_sex"]
    assert await conn.fetchval("SELECT count(*) FROM application") == 0


async def test_a_parent_new_to_the_platform_joins_as_guardian(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    f = await family(client, op, clerk, conn)
    newcomer = id_number("19890707", 35, male=True)
    r = await client.post("/v1/applications", json=birth_application(f, father_id_number=newcomer), headers=f.mother)
    assert r.status_code == 201, r.text
    app = r.json()
    # The father proves who he is only now; applying for the same baby makes him the child's guardian.
    dad = auth((await citizen(client, clerk, name="陈刚", id_number=newcomer))["access_token"])
    assert (await client.get(f"/v1/applications/{app['id']}", headers=dad)).status_code == 404
    r = await client.post("/v1/applications", json=birth_application(f, father_id_number=newcomer), headers=dad)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == app["id"] and "guardian_joined" in [e["event"] for e in r.json()["timeline"]]
    deps = (await client.get("/v1/wallet/dependents", headers=dad)).json()["items"]
    assert [d["person_id"] for d in deps] == [app["for_person_id"]]
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'application.guardian_joined'") == 1
    # Joining again changes nothing.
    r = await client.post("/v1/applications", json=birth_application(f, father_id_number=newcomer), headers=dad)
    assert [e["event"] for e in r.json()["timeline"]].count("guardian_joined") == 1
