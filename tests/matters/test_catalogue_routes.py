"""The catalogue through HTTP: search, filter, pages, bundles with merged materials and burden stats."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from matters import routes


async def test_birth_bundle_reproduces_the_burden_figures(client: AsyncTestClient) -> None:
    r = await client.get("/v1/bundles/birth")
    assert r.status_code == 200
    b = r.json()
    assert b["name"] == "出生一件事"
    assert b["stats"] == {
        "materials_before": 26,
        "materials_after": 11,
        "uploads_typical": 3,
        "matters": 10,
        "departments": 4,
        "visits": 0,
    }
    assert len(b["matters"]) == 10
    codes = [m["code"] for m in b["materials"]]
    assert len(codes) == len(set(codes)) == 11
    # The three a family still uploads (the seed report's "20 → 3").
    usual = {"id_card", "household_register", "marriage_certificate"}
    left = [
        m["code"]
        for m in b["materials"]
        if m["required"]
        and not m["held_by_department"]
        and not m["produced_by_matter"]
        and not usual & set(m["satisfied_by_certificate_types"])
    ]
    assert sorted(left) == ["bank_account", "child_photo", "hospital_invoice"]


async def test_bundle_materials_say_where_they_come_from(client: AsyncTestClient) -> None:
    b = (await client.get("/v1/bundles/birth")).json()
    by_code = {m["code"]: m for m in b["materials"]}
    # The hospital's delivery record is shared by the department that holds it.
    assert by_code["delivery_record"]["held_by_department"]["name"] == "株洲市卫生健康委员会"
    # The birth medical certificate is produced by the bundle's first matter and feeds the rest.
    assert by_code["birth_medical_certificate"]["produced_by_matter"] == "430200-WJ-001"
    assert set(by_code["birth_medical_certificate"]["used_by"]) >= {"430200-GA-001", "430200-YB-003"}
    # The parents' household register is not "produced" by 出生登记: that matter needs it first.
    assert by_code["household_register"]["produced_by_matter"] is None
    # A form field several matters ask for is asked once.
    keys = [f["key"] for f in b["form"]]
    assert len(keys) == len(set(keys)) and "child_name" in keys
    child_name = next(f for f in b["form"] if f["key"] == "child_name")
    assert len(child_name["used_by"]) > 1
    conditional = [m for m in b["matters"] if m["condition"]]
    assert [(m["code"], m["condition"]) for m in conditional] == [("430200-YB-002", "form.payment_year != null")]


async def test_every_bundle_lists_and_reduces_the_burden(client: AsyncTestClient) -> None:
    page = (await client.get("/v1/bundles", params={"limit": 4})).json()
    seen = list(page["items"])
    while page["next_cursor"]:
        page = (await client.get("/v1/bundles", params={"limit": 4, "cursor": page["next_cursor"]})).json()
        seen.extend(page["items"])
    assert len(seen) == 14
    for b in seen:
        s = b["stats"]
        assert s["materials_before"] >= s["materials_after"] >= s["uploads_typical"] >= 0, b["code"]
        assert s["matters"] == len(b["matters"])
    # Both life cycles: the business entity's bundles are applied for acting for it; opening a company is
    # promised in one working day with no visit (国务院: 企业开办 ≤ 1 个工作日).
    entity = {b["code"]: b for b in seen if b["holder_kind"] == "organisation"}
    assert sorted(entity) == ["company_change", "company_closure", "open_company", "open_restaurant"]
    assert entity["open_company"]["promised_limit_days"] == 1 and entity["open_company"]["stats"]["visits"] == 0
    assert entity["open_company"]["stats"]["departments"] == 6
    # 免提交: an entity's 营业执照 is in its wallet, so opening a restaurant leaves only its own papers to upload.
    restaurant = entity["open_restaurant"]
    assert restaurant["stats"]["uploads_typical"] == restaurant["stats"]["materials_after"] - 1


async def test_matter_has_its_guide(client: AsyncTestClient) -> None:
    r = await client.get("/v1/matters/430200-WJ-001")
    assert r.status_code == 200
    m = r.json()
    assert m["name"] == "出生医学证明签发" and m["result_certificate_type"] == "birth_medical_certificate"
    assert m["guide"]["promised_limit_days"] == 1 and m["guide"]["online_depth"] == "全程网办"
    assert m["department"]["name"] == "株洲市卫生健康委员会"
    assert {x["code"] for x in m["materials"]} == {"father_id_card", "mother_id_card", "delivery_record"}


async def test_unknown_matter_and_bundle_are_404_problems(client: AsyncTestClient) -> None:
    r = await client.get("/v1/matters/NOPE")
    assert r.status_code == 404 and r.json() == {
        "type": "matter_not_found",
        "title": "事项不存在",
        "status": 404,
        "code": "NOPE",
    }
    r = await client.get("/v1/bundles/nope")
    assert r.status_code == 404 and r.json()["type"] == "bundle_not_found"


async def test_search_by_name_and_filter_by_department(client: AsyncTestClient) -> None:
    found = (await client.get("/v1/matters", params={"q": "出生"})).json()["items"]
    assert {m["code"] for m in found} == {"430200-WJ-001", "430200-GA-001"}
    # Wildcards in the query are text, not patterns.
    assert (await client.get("/v1/matters", params={"q": "%"})).json()["items"] == []
    assert [m["code"] for m in (await client.get("/v1/matters", params={"q": "430200-RS-001"})).json()["items"]] == [
        "430200-RS-001"
    ]
    dept = found[0]["department"]["id"]
    same = (await client.get("/v1/matters", params={"department_id": dept, "limit": 500})).json()["items"]
    assert same and all(m["department"]["id"] == dept for m in same)


async def test_matter_pages_cover_everything_once(client: AsyncTestClient) -> None:
    codes: list[str] = []
    cursor = None
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/matters", params=params)).json()
        codes.extend(m["code"] for m in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(codes) == 59 and codes == sorted(set(codes))


async def test_certificate_types_have_field_schemas(client: AsyncTestClient) -> None:
    items = (await client.get("/v1/certificate-types", params={"limit": 100})).json()["items"]
    assert len(items) == 23
    id_card = next(t for t in items if t["code"] == "id_card")
    assert id_card["gb_type_code"] == "11430200MB0001074D001"
    assert {f["key"]: f["sensitive"] for f in id_card["fields"]}["address"] is True
    assert id_card["issuer_department_ids"]
    birth = next(t for t in items if t["code"] == "birth_medical_certificate")
    assert birth["defining_department"]["name"] == "株洲市卫生健康委员会"


async def test_a_process_serves_the_bundle_it_built_until_the_minute_is_up(
    client: AsyncTestClient, conn: asyncpg.Connection
) -> None:
    first = (await client.get("/v1/bundles/birth")).content
    await conn.execute("UPDATE catalog_bundle SET name = '新生儿出生一件事' WHERE code = 'birth'")
    assert (await client.get("/v1/bundles/birth")).content == first  # within the minute: the copy it built
    expires, body = client.app.state.built_bundles["birth"]
    client.app.state.built_bundles["birth"] = (expires - routes.BUNDLE_TTL, body)  # the minute is up
    fresh = await client.get("/v1/bundles/birth")
    assert fresh.status_code == 200 and fresh.json()["name"] == "新生儿出生一件事"
    assert fresh.headers["content-type"].startswith("application/json")
