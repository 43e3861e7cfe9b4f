"""Departments push records and life events into wallets; idempotent by their own reference."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from esign.batch import jobs as batches
from esign.state import EsignState
from tests.auth.helpers import assert_problem, auth
from tests.people import citizen, id_number, staff
from tests.wallet import helpers
from tests.wallet.helpers import record
from wallet.errors import WalletClosed

ZHANG = id_number("19900101", 21)


async def test_a_record_lands_once_and_a_changed_body_is_refused(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, esign: EsignState
) -> None:
    system = auth(await helpers.dept_system(client, op, conn, "renshe", ["records:write"]))
    r = await client.post(
        "/v1/dept/records",
        json=record(ZHANG, "SI-2026-10", holder={"id_number": ZHANG, "name": "张三"}),
        headers=system,
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["kind"] == "record" and item["title"] == "2026年10月 养老保险缴费"
    assert item["record"]["kind"] == "social_insurance_payment" and item["record"]["data"]["amount"] == 1280
    assert item["record"]["department"]["name"] == "株洲市人力资源和社会保障局"

    # A retry with the same body is the same item; the name only matters for a new person.
    again = await client.post(
        "/v1/dept/records",
        json=record(ZHANG, "SI-2026-10", holder={"id_number": ZHANG, "name": "张三"}),
        headers=system,
    )
    assert again.status_code == 200 and again.json()["id"] == item["id"]
    changed = await client.post(
        "/v1/dept/records",
        json=record(ZHANG, "SI-2026-10", title="改过的标题", holder={"id_number": ZHANG, "name": "张三"}),
        headers=system,
    )
    body = assert_problem(changed, 409, "external_ref_conflict")
    assert body["external_ref"] == "SI-2026-10"
    assert await conn.fetchval("SELECT count(*) FROM wallet_item WHERE kind = 'record'") == 1

    # The sealed value is not in the table in the clear, and the change log carries only the rest.
    row = await conn.fetchrow("SELECT data, sealed_data FROM wallet_item WHERE id = $1", item["id"])
    assert "1280" not in str(row["data"]) and row["sealed_data"] and b"1280" not in row["sealed_data"]
    synced = await conn.fetchval(
        "SELECT data::json AS data FROM sync_change WHERE entity = 'wallet_item' AND entity_id = $1", item["id"]
    )
    assert synced["data"]["data"] == {"month": "2026-10", "employer": "株洲市某公司"}
    assert (
        await conn.fetchval("SELECT count(*) FROM outbox WHERE dedup_key = $1", f"wallet.record_added:{item['id']}")
        == 1
    )
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'wallet.record_added'") == 1


async def test_the_holder_sees_sensitive_values_only_at_l3_recently(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, esign: EsignState, app
) -> None:
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    system = auth(await helpers.dept_system(client, op, conn, "renshe", ["records:write"]))
    assert (await client.post("/v1/dept/records", json=record(ZHANG, "SI-1"), headers=system)).status_code == 201

    fresh = (await client.get("/v1/wallet/items", params={"kind": "record"}, headers=me)).json()["items"][0]
    assert fresh["record"]["data"]["amount"] == 1280 and "masked" not in fresh

    # Ten minutes on, the L3 proof is no longer recent: the value is masked until the next step-up.
    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC) + timedelta(minutes=10)
    app.state.clock = lambda: later
    stale = (await client.get("/v1/wallet/items", params={"kind": "record"}, headers=me)).json()["items"][0]
    assert stale["record"]["data"] == {"month": "2026-10", "amount": "***", "employer": "株洲市某公司"}
    assert stale["masked"] is True


async def test_who_may_push(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, esign: EsignState
) -> None:
    wrong_scope = auth(await helpers.dept_system(client, op, conn, "renshe", ["tasks:handle"]))
    assert_problem(
        await client.post("/v1/dept/records", json=record(ZHANG, "x"), headers=wrong_scope), 403, "forbidden"
    )
    citizen_token = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    assert_problem(
        await client.post("/v1/dept/records", json=record(ZHANG, "x"), headers=citizen_token), 403, "forbidden"
    )
    staffer = auth(await staff(client, op, conn, "gongjijin", ["clerk"]))
    r = await client.post(
        "/v1/dept/records", json=record(ZHANG, "x", kind="housing_fund", title="公积金缴存"), headers=staffer
    )
    assert r.status_code == 201, r.text
    assert_problem(await client.post("/v1/dept/records", json=record(ZHANG, "x")), 401, "unauthorized")


async def test_bad_pushes_are_problems(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, esign: EsignState
) -> None:
    system = auth(await helpers.dept_system(client, op, conn, "renshe", ["records:write"]))
    unknown = id_number("19850505", 22)
    nameless = record(unknown, "a", holder={"id_number": unknown})
    body = assert_problem(
        await client.post("/v1/dept/records", json=nameless, headers=system), 422, "validation_failed"
    )
    assert body["errors"][0]["field"] == "holder" and "name" in body["errors"][0]["message"]
    body = assert_problem(
        await client.post("/v1/dept/records", json=record("36042619910102009X", "b"), headers=system),
        422,
        "id_number_invalid",
    )
    assert body["errors"][0]["field"] == "holder.id_number"
    body = assert_problem(
        await client.post("/v1/dept/records", json=record(ZHANG, "c", sensitive=["salary"]), headers=system),
        422,
        "record_invalid",
    )
    assert body["errors"][0]["field"] == "sensitive.salary"
    assert_problem(
        await client.post(
            "/v1/dept/records", json=record(ZHANG, "d", occurred_at="2099-01-01T00:00:00Z"), headers=system
        ),
        422,
        "record_invalid",
    )
    assert_problem(
        await client.post("/v1/dept/records", json=record(ZHANG, "e", kind="社保"), headers=system),
        422,
        "validation_failed",
    )
    assert_problem(
        await client.post("/v1/dept/records", json=record(ZHANG, "f", occurred_at="2026-10-15"), headers=system),
        422,
        "validation_failed",
    )
    r = await client.post("/v1/dept/records", content=b"{", headers=system | {"content-type": "application/json"})
    assert_problem(r, 400, "malformed_request")


async def test_life_events_happen_once_where_the_law_says_so(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, esign: EsignState
) -> None:
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    minzheng = auth(await helpers.dept_system(client, op, conn, "minzheng", ["records:write"]))
    married = {
        "holder": {"id_number": ZHANG, "name": "张三"},
        "event": "married",
        "occurred_at": "2020-05-01T00:00:00Z",
        "external_ref": "MZ-1",
        "detail": {"registry": "天元区民政局"},
    }
    r = await client.post("/v1/dept/life-events", json=married, headers=minzheng)
    assert r.status_code == 201, r.text
    assert r.json()["event"] == {"type": "married", "source": "department", "detail": {"registry": "天元区民政局"}}
    assert (await client.post("/v1/dept/life-events", json=married, headers=minzheng)).status_code == 200
    # A remarriage is another event; a second birth is not.
    assert (
        await client.post("/v1/dept/life-events", json=married | {"external_ref": "MZ-2"}, headers=minzheng)
    ).status_code == 201
    born = {
        "holder": {"id_number": ZHANG, "name": "张三"},
        "event": "born",
        "occurred_at": "1990-01-01T00:00:00Z",
        "external_ref": "B-1",
    }
    weijian = auth(await helpers.dept_system(client, op, conn, "weijian", ["records:write"]))
    assert (await client.post("/v1/dept/life-events", json=born, headers=weijian)).status_code == 201
    body = assert_problem(
        await client.post("/v1/dept/life-events", json=born | {"external_ref": "B-2"}, headers=weijian),
        409,
        "life_event_exists",
    )
    assert body["item_id"]

    timeline = (await client.get("/v1/wallet/timeline", headers=me)).json()
    assert [(e["kind"], e.get("event")) for e in timeline["items"]] == [
        ("event", "born"),
        ("event", "married"),
        ("event", "married"),
    ]


async def test_a_death_closes_the_wallet_to_new_writes(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, esign: EsignState, pool: asyncpg.Pool
) -> None:
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    gongan = auth(await helpers.dept_system(client, op, conn, "gongan", ["records:write"]))
    died = {
        "holder": {"id_number": ZHANG, "name": "张三"},
        "event": "died",
        "occurred_at": "2026-11-01T00:00:00Z",
        "external_ref": "D-1",
    }
    assert (await client.post("/v1/dept/life-events", json=died, headers=gongan)).status_code == 201
    renshe = auth(await helpers.dept_system(client, op, conn, "renshe", ["records:write"]))
    assert_problem(
        await client.post("/v1/dept/records", json=record(ZHANG, "after"), headers=renshe), 409, "wallet_closed"
    )
    minzheng = auth(await helpers.dept_system(client, op, conn, "minzheng", ["records:write"]))
    married = died | {"event": "married", "external_ref": "M-1"}
    assert_problem(await client.post("/v1/dept/life-events", json=married, headers=minzheng), 409, "wallet_closed")
    timeline = (await client.get("/v1/wallet/timeline", headers=me)).json()
    assert timeline["closed_at"] is not None
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'wallet.closed'") == 1
    # No department can issue a certificate into it either.
    with pytest.raises(WalletClosed):
        await helpers.issue(
            pool,
            esign,
            "gongan",
            "id_card",
            id_number=ZHANG,
            name="张三",
            fields={"name": "张三", **helpers.ID_CARD_FIELDS},
        )
    assert await conn.fetchval("SELECT count(*) FROM esign_certificate") == 0


async def test_a_department_learns_only_whether_the_name_fits(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    await citizen(client, clerk, name="张三", id_number=ZHANG)
    system = auth(await helpers.dept_system(client, op, conn, "renshe", ["records:write"]))
    stranger = id_number("19850505", 23)
    # A known ID number with its name, and one nobody knows yet: the same answer; the record is kept for the person.
    known = await client.post("/v1/dept/records", json=record(ZHANG, "K-1"), headers=system)
    new = await client.post("/v1/dept/records", json=record(stranger, "N-1", name="李四"), headers=system)
    assert (known.status_code, new.status_code) == (201, 201)
    assert known.json().keys() == new.json().keys()
    # Without a name both are the same validation problem.
    nameless = [
        await client.post("/v1/dept/records", json=record(n, "X-1", holder={"id_number": n}), headers=system)
        for n in (ZHANG, stranger)
    ]
    assert nameless[0].json() == nameless[1].json() and nameless[0].status_code == 422
    # Another name than the known person's is refused, and the stored name is not told.
    wrong = await client.post("/v1/dept/records", json=record(ZHANG, "W-1", name="王五"), headers=system)
    body = assert_problem(wrong, 422, "holder_mismatch")
    assert body["errors"] == [{"field": "holder.name", "message": "does not match the person with this ID number"}]
    assert "张" not in wrong.text
    # Compatibility forms and spaces are the same name.
    assert (
        await client.post("/v1/dept/records", json=record(ZHANG, "K-2", name=" 张 三 "), headers=system)
    ).status_code == 201
    born = {
        "holder": {"id_number": ZHANG, "name": "王五"},
        "event": "born",
        "occurred_at": "1990-01-01T00:00:00Z",
        "external_ref": "B-9",
    }
    weijian = auth(await helpers.dept_system(client, op, conn, "weijian", ["records:write"]))
    assert_problem(await client.post("/v1/dept/life-events", json=born, headers=weijian), 422, "holder_mismatch")

    # The person new to the platform finds the record once they prove who they are.
    li = auth((await citizen(client, clerk, name="李四", id_number=stranger))["access_token"])
    items = (await client.get("/v1/wallet/items", params={"kind": "record"}, headers=li)).json()["items"]
    assert [i["id"] for i in items] == [new.json()["id"]]


async def test_certificates_for_a_known_id_number_need_its_name(
    client: AsyncTestClient, worker: State, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    from tests.authz.world import household

    await citizen(client, clerk, name="张三", id_number=ZHANG)
    police = auth(await staff(client, op, conn, "gongan", ["dept_admin", "issuer"]))
    assert (await client.post("/v1/dept/seals", json={"name": "电子证照专用章"}, headers=police)).status_code == 201
    wrong = await client.post("/v1/dept/certificates", json=household(ZHANG, "王五", "HR-1"), headers=police)
    assert_problem(wrong, 422, "holder_mismatch")
    assert "张" not in wrong.text
    batch = await client.post(
        "/v1/dept/certificates:batch",
        headers=police,
        json={
            "items": [
                household(ZHANG, "王五", "HR-2"),
                household(ZHANG, "张三", "HR-3"),
                household(id_number("19850505", 24), "李四", "HR-4"),
            ]
        },
    )
    assert batch.status_code == 202, batch.text
    await batches.drain(worker)
    results = (await client.get(f"{batch.headers['location']}/results", headers=police)).json()["items"]
    assert [r["status"] for r in results] == ["failed", "issued", "issued"]
    assert results[0]["error"]["type"] == "holder_mismatch" and "张" not in str(results[0])
