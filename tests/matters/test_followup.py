"""After submission: 电子监察 overdue flags, 好差评 with rectification, 找茬 routing, stats, burden."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
from litestar.testing import AsyncTestClient

from matters.jobs import flag_overdue
from tests.auth.helpers import assert_problem, auth
from tests.matters.test_applications import MOTHER, maternity_allowance
from tests.people import citizen, staff


async def _completed_application(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection
) -> tuple[dict, dict, dict]:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    app = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    r = await client.post(f"/v1/dept/tasks/{app['tasks'][0]['id']}/approve", json={}, headers=yibao)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    return r.json(), h, yibao


async def test_prefill_says_where_each_material_comes_from(client: AsyncTestClient, clerk: str) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    r = await client.get("/v1/bundles/birth/prefill", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    # The applicant is a woman (17th digit even): she is the mother.
    assert body["form"] == {"mother_id_number": MOTHER}
    status = {m["code"]: m["status"] for m in body["materials"]}
    assert status["delivery_record"] == "from_department"
    assert status["birth_medical_certificate"] == "from_bundle"
    assert status["insurance_registration"] == "from_bundle"
    assert status["child_photo"] == "needed" and status["mother_id_card"] == "needed"
    assert_problem(await client.get("/v1/bundles/nope/prefill", headers=h), 404, "bundle_not_found")


async def test_overdue_tasks_are_flagged_once_and_counted(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    submitted = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    later = datetime.now(UTC) + timedelta(days=30)
    state = SimpleNamespace(pool=pool)
    assert await flag_overdue(state, now=later) == 1
    assert await flag_overdue(state, now=later) == 0
    events = await conn.fetch(
        "SELECT payload::json AS payload FROM outbox WHERE payload::json->>'event' = 'task.overdue'"
    )
    assert [e["payload"]["task_id"] for e in events] == [submitted["tasks"][0]["id"]]
    timeline = (await client.get(f"/v1/applications/{submitted['id']}", headers=h)).json()["timeline"]
    assert "task_overdue" in [e["event"] for e in timeline]
    window = {"from": (later - timedelta(days=60)).isoformat(), "to": later.isoformat()}
    stats = (await client.get("/v1/admin/stats", params=window, headers=auth(op))).json()
    single = next(r for r in stats["by_bundle"] if r["bundle_code"] is None)
    assert single["received"] == 1 and single["overdue"] == 1 and single["completed"] == 0
    dept = next(r for r in stats["by_department"] if r["department_name"] == "株洲市医疗保障局")
    assert dept["overdue"] == 1


async def test_rating_badly_opens_a_case_the_department_answers(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection
) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    pending = (await client.post("/v1/applications", json=maternity_allowance(), headers=h)).json()
    r = await client.post(f"/v1/applications/{pending['id']}/evaluation", json={"level": 5}, headers=h)
    assert_problem(r, 409, "application_not_finished")
    r = await client.post("/v1/applications/" + pending["id"] + "/evaluation", json={"level": 9}, headers=h)
    assert_problem(r, 422, "validation_failed")

    done, h2, yibao = await _completed_application(client, clerk, op, conn)
    rating = {"level": 2, "comment": "等太久", "tags": ["慢"]}
    keyed = h2 | {"Idempotency-Key": "rating-1"}
    r = await client.post(f"/v1/applications/{done['id']}/evaluation", json=rating, headers=keyed)
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["level_name"] == "不满意" and ev["rectification"]["status"] == "open"
    # The phone lost the answer and sends the same request again: it gets the same answer.
    again = await client.post(f"/v1/applications/{done['id']}/evaluation", json=rating, headers=keyed)
    assert (again.status_code, again.json(), again.headers["idempotent-replayed"]) == (201, ev, "true")
    assert_problem(
        await client.post(f"/v1/applications/{done['id']}/evaluation", json={"level": 5}, headers=h2),
        409,
        "evaluation_exists",
    )

    cases = (await client.get("/v1/dept/rectifications", headers=yibao)).json()["items"]
    assert [c["application_id"] for c in cases] == [done["id"]]
    other = auth(await staff(client, op, conn, "gongan", ["approver"]))
    assert (await client.get("/v1/dept/rectifications", headers=other)).json()["items"] == []
    assert_problem(
        await client.post(f"/v1/dept/rectifications/{cases[0]['id']}/respond", json={"text": "x"}, headers=other),
        404,
        "rectification_not_found",
    )
    r = await client.post(
        f"/v1/dept/rectifications/{cases[0]['id']}/respond", json={"text": "已优化流程，致歉"}, headers=yibao
    )
    assert r.status_code == 200
    seen = (await client.get(f"/v1/applications/{done['id']}/evaluation", headers=h2)).json()
    assert seen["rectification"]["status"] == "answered" and seen["rectification"]["answer"] == "已优化流程，致歉"
    stats = (await client.get("/v1/admin/stats", headers=auth(op))).json()
    single = next(r for r in stats["by_bundle"] if r["bundle_code"] is None)
    assert single["satisfaction"] == 0.0 and single["bad_ratings_open"] == 0
    assert_problem(await client.get("/v1/admin/stats", headers=h2), 403, "forbidden")


async def test_feedback_is_routed_and_answered(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection
) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    report = {"kind": "error_report", "text": "办事指南地址写错了", "matter_code": "430200-YB-003"}
    r = await client.post("/v1/feedback", json=report, headers=h | {"Idempotency-Key": "report-1"})
    assert r.status_code == 201
    fb = r.json()
    # A retry with the same key is the same case, not a second one.
    again = await client.post("/v1/feedback", json=report, headers=h | {"Idempotency-Key": "report-1"})
    assert (again.status_code, again.json()["id"]) == (201, fb["id"])
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    assert [f["id"] for f in (await client.get("/v1/dept/feedback", headers=yibao)).json()["items"]] == [fb["id"]]
    r = await client.post(f"/v1/dept/feedback/{fb['id']}/answer", json={"text": "已更正"}, headers=yibao)
    assert r.status_code == 200
    mine = (await client.get(f"/v1/feedback/{fb['id']}", headers=h)).json()
    assert mine["status"] == "answered" and mine["answer"] == "已更正"
    general = (
        await client.post("/v1/feedback", json={"kind": "suggestion", "text": "希望增加夜间服务"}, headers=h)
    ).json()
    assert general["department_id"] is None
    assert [f["id"] for f in (await client.get("/v1/admin/feedback", headers=auth(op))).json()["items"]] == [
        general["id"]
    ]
    r = await client.post("/v1/feedback", json={"kind": "praise", "text": "x"}, headers=h)
    assert_problem(r, 422, "validation_failed")


def test_burden_command_prints_every_bundle(database_url: str) -> None:
    env = {
        **os.environ,
        "ZB_DATABASE_URL": database_url,
        "ZB_REDIS_URL": "redis://127.0.0.1:1/0",
        "ZB_MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "ZB_LOG_LEVEL": "WARNING",
    }
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "burden"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    birth = next(line for line in out.stdout.splitlines() if line.startswith("birth "))
    assert birth.split()[1:9] == ["citizen", "26", "11", "3", "10", "4", "2", "0"] and "出生一件事" in birth
    # The business entity's life cycle beside the individual's: opening a company in 1 working day, no visit.
    lines = out.stdout.splitlines()
    company = next(line for line in lines if line.startswith("open_company "))
    assert company.split()[1] == "entity" and company.split()[7:9] == ["1", "0"] and "企业开办一件事" in company
    assert [line.split()[0] for line in lines if " entity " in line] == [
        "company_change",
        "company_closure",
        "open_company",
        "open_restaurant",
    ]
    assert max(i for i, line in enumerate(lines) if " citizen " in line) < lines.index(company)
    assert sum(1 for line in lines if "一件事" in line) == 14
