"""企业信息变更一件事: the changed registry reaches every department system holding the company's old data, by
webhook, over real HTTP to department systems on loopback; a department holding nothing hears nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from api.config import Settings
from tests.auth.helpers import auth
from tests.authz.world import drain
from tests.enterprise.helpers import BLOB, act_as, market_dept, open_business, valid
from tests.notify.helpers import add_webhook, running_receiver
from tests.people import citizen, id_number
from tests.wallet.helpers import dept_system

EVENT = "organisation.changed"


async def test_a_change_is_pushed_to_the_departments_holding_the_old_data(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, settings: Settings
) -> None:
    code, old_name, new_name = valid("91430200MA4CHANG1X"), "孙记商行", "孙记商贸（株洲）有限公司"
    founder = auth((await citizen(client, clerk, name="孙掌柜", id_number=id_number("19820303", 17)))["access_token"])
    market = await market_dept(client, op, conn)
    await open_business(client, founder, market, credit_code=code, name=old_name)
    company = await act_as(client, founder, code)
    licence = next(
        i
        for i in (await client.get("/v1/wallet/items?kind=certificate", headers=company)).json()["items"]
        if i["certificate"]["type_code"] == "business_license"
    )

    # 税务 holds the company's data by the record it pushed, 人社 by the consent the company gave it; 医保 holds none.
    tax = await dept_system(client, op, conn, "shuiwu", ["records:write", "webhooks:manage"])
    r = await client.post(
        "/v1/dept/records",
        headers=auth(tax),
        json={
            "holder": {"credit_code": code, "name": old_name},
            "kind": "tax_credit_grade",
            "title": "2026年度纳税信用A级",
            "data": {"grade": "A"},
            "occurred_at": "2026-04-01T00:00:00Z",
            "external_ref": "tax:grade:change",
        },
    )
    assert r.status_code == 201, r.text
    social = await dept_system(client, op, conn, "renshe", ["consents:use", "webhooks:manage"])
    renshe = str(await conn.fetchval("SELECT id FROM department WHERE key = 'renshe'"))
    r = await client.post(
        "/v1/wallet/consents",
        headers=company,
        json={
            "grantee_department_id": renshe,
            "item_ids": [licence["id"]],
            "purpose": "单位参保登记",
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    medical = await dept_system(client, op, conn, "yibao", ["webhooks:manage"])

    with running_receiver() as tax_hook, running_receiver() as social_hook, running_receiver() as medical_hook:
        for token, receiver in ((tax, tax_hook), (social, social_hook), (medical, medical_hook)):
            await add_webhook(client, token, receiver, [EVENT])

        # The company applies for 企业信息变更一件事: a new name and scope; 市场监管 approves 变更登记.
        b = (await client.get("/v1/bundles/company_change")).json()
        form = {f["key"]: "x" for f in b["form"] if f["required"]} | {"entity_name": new_name, "scope": "日用百货零售"}
        materials = [{"code": "business_license_copy", "wallet_item_id": licence["id"]}] + [
            {"code": m["code"], "blob_sha256": BLOB}
            for m in b["materials"]
            if m["code"] != "business_license_copy" and not m["held_by_department"] and not m["produced_by_matter"]
        ]
        r = await client.post(
            "/v1/applications",
            headers=company,
            json={"id": str(uuid.uuid4()), "bundle_code": "company_change", "form": form, "materials": materials},
        )
        assert r.status_code == 201, r.text
        task = next(t["id"] for t in r.json()["tasks"] if t["matter_code"] == "430200-SC-004")
        r = await client.post(f"/v1/dept/tasks/{task}/approve", headers=market, json={})
        assert r.status_code == 200, r.text
        await drain(settings)

        for receiver in (tax_hook, social_hook):
            (got,) = receiver.verified()  # signed with each department's own webhook secret
            assert got["type"] == EVENT
            data = got["data"]
            assert (data["credit_code"], data["entity_name"]) == (code, new_name)
            # What changed: the public name with its old and new value; the (sensitive) scope named only.
            assert data["changed"] == ["entity_name", "scope"]
            assert (data["fields"], data["previous"]) == ({"entity_name": new_name}, {"entity_name": old_name})
            assert "日用百货零售" not in str(got) and "餐饮服务" not in str(got)
        assert medical_hook.received == []

    # The new licence keeps what the change left alone, and the company's wallet records the change.
    items = (await client.get("/v1/wallet/items", headers=company)).json()["items"]
    newest = next(
        i for i in items if i["kind"] == "certificate" and i["certificate"]["fields"]["entity_name"] == new_name
    )
    assert (
        newest["certificate"]["fields"] | {"entity_name": old_name, "scope": "餐饮服务"}
        == licence["certificate"]["fields"]
    )
    assert ("event", "变更登记") in {(i["kind"], i["title"]) for i in items}
    listed = (await client.get("/v1/auth/organisations", headers=founder)).json()["items"]
    assert [(o["credit_code"], o["name"], o["role"]) for o in listed] == [(code, new_name, "legal_representative")]
