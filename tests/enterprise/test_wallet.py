"""The entity's wallet: its licence, records departments push by credit code, its life events, consents, the
access log and sync, all keyed by the entity; after 注销 it is kept, read only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth
from tests.enterprise.helpers import act_as, market_dept, open_business, valid
from tests.people import citizen, id_number, staff

CODE = "91430200MA4WALLE1X"


async def test_departments_push_into_the_entity_wallet_which_syncs_and_closes_read_only(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    code = valid(CODE)
    founder = auth((await citizen(client, clerk, name="孙掌柜", id_number=id_number("19820202", 4)))["access_token"])
    market = await market_dept(client, op, conn)
    await open_business(client, founder, market, credit_code=code, name="孙记商行")
    company = await act_as(client, founder, code)

    # 税务 pushes the tax credit grade by credit code, under the catalogue's authority; 医保 may not.
    tax = auth(await staff(client, op, conn, "shuiwu", ["clerk"]))
    record = {
        "holder": {"credit_code": code, "name": "孙记商行"},
        "kind": "tax_credit_grade",
        "title": "2026年度纳税信用A级",
        "data": {"grade": "A", "year": 2026},
        "occurred_at": "2026-04-01T00:00:00Z",
        "external_ref": "tax:grade:1",
    }
    r = await client.post("/v1/dept/records", json=record, headers=tax)
    assert r.status_code == 201, r.text
    medical = auth(await staff(client, op, conn, "yibao", ["clerk"]))
    assert_problem(
        await client.post("/v1/dept/records", json=record | {"external_ref": "x"}, headers=medical),
        403,
        "authority_required",
    )
    stranger = record | {
        "holder": {"credit_code": valid("91430200MA4NKBDY10"), "name": "无此公司"},
        "external_ref": "t2",
    }
    assert_problem(await client.post("/v1/dept/records", json=stranger, headers=tax), 422, "holder_unknown")
    wrong_name = record | {"holder": {"credit_code": code, "name": "别的名字"}, "external_ref": "t3"}
    assert_problem(await client.post("/v1/dept/records", json=wrong_name, headers=tax), 422, "holder_mismatch")

    items = (await client.get("/v1/wallet/items", headers=company)).json()["items"]
    kinds = sorted((i["kind"], i["title"]) for i in items)
    assert ("record", "2026年度纳税信用A级") in kinds and ("certificate", "营业执照") in kinds
    assert ("event", "开业") in kinds
    # None of it is in the founder's own wallet.
    own = (await client.get("/v1/wallet/items", headers=founder)).json()["items"]
    assert not {i["id"] for i in own} & {i["id"] for i in items if i["kind"] != "application"}

    # A device acting for the company pulls the company's change log, not the person's.
    pulled = (await client.get("/v1/sync/pull", headers=company)).json()
    ids = {c["id"] for c in pulled["changes"] if c["entity"] == "wallet_item"}
    assert {i["id"] for i in items if i["kind"] != "application"} <= ids
    assert not ids & {i["id"] for i in own}

    # The company grants 税务 access to its licence; the read is in the company's access log.
    licence = next(i for i in items if i["kind"] == "certificate")
    tax_id = str(await conn.fetchval("SELECT id FROM department WHERE key = 'shuiwu'"))
    r = await client.post(
        "/v1/wallet/consents",
        headers=company,
        json={
            "grantee_department_id": tax_id,
            "item_ids": [licence["id"]],
            "purpose": "发票申领核验",
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/v1/dept/consents/{r.json()['id']}/items", headers=tax)
    assert r.status_code == 200, r.text
    log = (await client.get("/v1/wallet/access-log", headers=company)).json()["items"]
    assert [e["purpose"] for e in log] == ["发票申领核验"]
    assert (await client.get("/v1/wallet/access-log", headers=founder)).json()["items"] == []

    # 注销: 市场监管 declares the entity closed; the wallet stays readable, and takes nothing new.
    r = await client.post(
        "/v1/dept/life-events",
        headers=market,
        json={
            "holder": {"credit_code": code, "name": "孙记商行"},
            "event": "business_closed",
            "occurred_at": "2026-11-30T00:00:00Z",
            "external_ref": "close:1",
        },
    )
    assert r.status_code == 201, r.text
    assert_problem(
        await client.post("/v1/dept/records", json=record | {"external_ref": "tax:grade:2"}, headers=tax),
        409,
        "wallet_closed",
    )
    listed = (await client.get("/v1/auth/organisations", headers=founder)).json()["items"]
    assert [o["status"] for o in listed] == ["closed"]
    after = (await client.get("/v1/wallet/items", headers=await act_as(client, founder, code))).json()["items"]
    assert {i["id"] for i in items} <= {i["id"] for i in after}
    assert ("event", "注销") in {(i["kind"], i["title"]) for i in after}
