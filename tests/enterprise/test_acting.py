"""法定代表人: acting for a business entity proven by the registry, with another entity's data kept apart."""

from __future__ import annotations

import asyncpg
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from esign.batch import jobs as batches
from tests.auth.helpers import assert_problem, auth
from tests.enterprise.helpers import act_as, market_dept, open_business, valid
from tests.people import citizen, id_number

ACME = "91430200MA4L0C1K0M"
OTHER = "91310115MA1K3BTP2B"


async def test_the_legal_representative_acts_for_the_company_and_sees_only_its_wallet(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    acme, other = valid(ACME), valid(OTHER)
    founder_number = id_number("19850312", 7)
    founder = auth((await citizen(client, clerk, name="李店主", id_number=founder_number))["access_token"])
    rival = auth((await citizen(client, clerk, name="王老板", id_number=id_number("19790101", 8)))["access_token"])
    market = await market_dept(client, op, conn)
    await open_business(client, founder, market, credit_code=acme)
    await open_business(client, rival, market, credit_code=other, name="另一家公司")

    # The registry names the applicant as legal representative: the entity is listed, and the switch works.
    listed = (await client.get("/v1/auth/organisations", headers=founder)).json()["items"]
    assert [(o["credit_code"], o["role"], o["status"]) for o in listed] == [(acme, "legal_representative", "active")]
    as_acme = await act_as(client, founder, acme)

    # The company's wallet holds its 营业执照; the founder's own wallet does not.
    items = (await client.get("/v1/wallet/items?kind=certificate", headers=as_acme)).json()["items"]
    assert [i["certificate"]["type_code"] for i in items] == ["business_license"]
    licence = items[0]
    assert licence["certificate"]["holder"]["id_masked"] == acme
    assert licence["certificate"]["fields"]["legal_representative"] == "李店主"
    # The legal representative at L3 sees the company's full licence, which names them.
    assert licence["certificate"]["fields"]["legal_representative_id_number"] == founder_number
    own = (await client.get("/v1/wallet/items?kind=certificate", headers=founder)).json()["items"]
    assert all(i["certificate"]["type_code"] != "business_license" for i in own)
    me = await client.get(f"/v1/wallet/items/{licence['id']}", headers=as_acme)
    assert me.status_code == 200, me.text

    # Another company's legal representative sees nothing of it, and may not act for it.
    as_other = await act_as(client, rival, other)
    assert_problem(
        await client.get(f"/v1/wallet/items/{licence['id']}", headers=as_other), 404, "wallet_item_not_found"
    )
    assert_problem(await client.get(f"/v1/wallet/items/{licence['id']}", headers=rival), 404, "wallet_item_not_found")
    assert_problem(await client.post("/v1/auth/act-as", json={"credit_code": acme}, headers=rival), 404, "not_found")
    theirs = (await client.get("/v1/wallet/items?kind=certificate", headers=as_other)).json()["items"]
    assert [i["certificate"]["holder"]["id_masked"] for i in theirs] == [other]

    # The company's applications are its own: the founder's personal list does not mix them.
    back = await act_as(client, as_acme, None)
    assert (await client.get("/v1/wallet/items?kind=certificate", headers=back)).json()["items"] == own


async def test_a_pushed_licence_names_the_legal_representative_by_id_number_only(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    boss_number = id_number("19700505", 9)
    boss = auth((await citizen(client, clerk, name="赵总", id_number=boss_number))["access_token"])
    stranger = auth((await citizen(client, clerk, name="钱某", id_number=id_number("19700606", 3)))["access_token"])
    market = await market_dept(client, op, conn)
    code = valid("91430200MA4PUCH10X")
    fields = {
        "entity_name": "推送公司",
        "entity_type": "有限责任公司",
        "legal_representative": "赵总",
        "scope": "软件",
        "established_on": "2020-01-02",
        "legal_representative_id_number": boss_number,
    }
    r = await client.post(
        "/v1/dept/certificates",
        headers=market,
        json={
            "type_code": "business_license",
            "holder": {"credit_code": code, "name": "推送公司"},
            "fields": fields,
            "external_ref": "scjg:push:1",
        },
    )
    assert r.status_code == 201, r.text

    assert [o["credit_code"] for o in (await client.get("/v1/auth/organisations", headers=boss)).json()["items"]] == [
        code
    ]
    assert (await client.get("/v1/auth/organisations", headers=stranger)).json()["items"] == []
    assert_problem(await client.post("/v1/auth/act-as", json={"credit_code": code}, headers=stranger), 404, "not_found")
    as_company = await act_as(client, boss, code)
    items = (await client.get("/v1/wallet/items", headers=as_company)).json()["items"]
    assert [i["certificate"]["licence_id"] for i in items if i["kind"] == "certificate"] == [r.json()["licence_id"]]

    # A malformed ID number in the registry is refused, not stored.
    bad = fields | {"legal_representative_id_number": "36042619910102009X"}
    r = await client.post(
        "/v1/dept/certificates",
        headers=market,
        json={
            "type_code": "business_license",
            "holder": {"credit_code": code, "name": "推送公司"},
            "fields": bad,
            "external_ref": "scjg:push:2",
        },
    )
    assert_problem(r, 422, "legal_representative_invalid")


async def test_a_licence_issued_in_a_batch_registers_the_company_as_a_single_one_does(
    client: AsyncTestClient, worker: State, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    boss_number = id_number("19720303", 5)
    boss = auth((await citizen(client, clerk, name="冯总", id_number=boss_number))["access_token"])
    market = await market_dept(client, op, conn)
    code = valid("91430200MA4BATCH1X")

    def licence(ref: str, rep: str) -> dict[str, object]:
        return {
            "type_code": "business_license",
            "holder": {"credit_code": code, "name": "批量公司"},
            "external_ref": ref,
            "fields": {
                "entity_name": "批量公司",
                "entity_type": "有限责任公司",
                "legal_representative": "冯总",
                "scope": "软件",
                "established_on": "2026-01-02",
                "legal_representative_id_number": rep,
            },
        }

    items = [licence("scjg:batch:1", boss_number), licence("scjg:batch:2", "36042619910102009X")]
    r = await client.post("/v1/dept/certificates:batch", json={"items": items}, headers=market)
    assert r.status_code == 202, r.text
    await batches.drain(worker)
    results = (await client.get(f"{r.headers['location']}/results", headers=market)).json()["items"]
    assert [(x["status"], (x.get("error") or {}).get("type")) for x in results] == [
        ("issued", None),
        ("failed", "legal_representative_invalid"),
    ]

    # The registry now names the boss: the company is theirs to act for, its wallet holds the licence and 开业.
    listed = (await client.get("/v1/auth/organisations", headers=boss)).json()["items"]
    assert [(o["credit_code"], o["role"]) for o in listed] == [(code, "legal_representative")]
    company = await act_as(client, boss, code)
    held = (await client.get("/v1/wallet/items", headers=company)).json()["items"]
    assert sorted((i["kind"], i["title"]) for i in held) == [("certificate", "营业执照"), ("event", "开业")]
    certificate = next(i for i in held if i["kind"] == "certificate")["certificate"]
    assert certificate["id"] == results[0]["certificate_id"]

    # The same batch again: the licence is the existing one, and nothing is registered twice.
    again = await client.post("/v1/dept/certificates:batch", json={"items": items[:1]}, headers=market)
    await batches.drain(worker)
    results = (await client.get(f"{again.headers['location']}/results", headers=market)).json()["items"]
    assert [x["status"] for x in results] == ["existing"]
    assert len((await client.get("/v1/wallet/items", headers=company)).json()["items"]) == 2
