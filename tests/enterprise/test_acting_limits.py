"""What acting for a company does not cover: a 经办人's offline queue is held to the authorisation like the HTTP routes;
亮证, consents and export stay the 法定代表人's; a replaced 法定代表人's acting token ends at once; and who may apply for a
matter — a person or the entity — is the catalogue's to say."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth
from tests.enterprise.helpers import BLOB, act_as, market_dept, open_business, valid
from tests.people import citizen, id_number

AGENT_NUMBER = id_number("19930303", 14)
NEW_REP_NUMBER = id_number("19770707", 15)
IN_SCOPE, OUT_OF_SCOPE = "430200-SW-001", "430200-RS-003"


def application(code: str) -> dict[str, Any]:
    return {
        "matter_code": code,
        "form": {"entity_name": "何记餐饮"},
        "materials": [{"code": "applicant_id_card", "blob_sha256": BLOB}],
    }


def mutation(seq: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "seq": seq, "name": name, "args": args}


async def test_an_agent_is_held_to_the_authorisation_everywhere_and_a_replaced_representative_is_cut_off(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    code = valid("91430200MA4LMTED1X")
    founder = auth((await citizen(client, clerk, name="何老板", id_number=id_number("19800909", 16)))["access_token"])
    agent = auth((await citizen(client, clerk, name="韩经办", id_number=AGENT_NUMBER))["access_token"])
    successor = auth((await citizen(client, clerk, name="许新任", id_number=NEW_REP_NUMBER))["access_token"])
    market = await market_dept(client, op, conn)
    await open_business(client, founder, market, credit_code=code, name="何记餐饮")
    company = await act_as(client, founder, code)
    r = await client.post(
        "/v1/delegations",
        headers=company,
        json={
            "agent": {"id_number": AGENT_NUMBER, "name": "韩经办"},
            "matters": [IN_SCOPE],
            "actions": ["apply"],
            "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    as_agent = await act_as(client, agent, code)

    # The offline queue: drafts and submissions outside the authorisation are refused, within it served and logged.
    out_draft, in_draft, out_app, in_app = (str(uuid.uuid4()) for _ in range(4))
    r = await client.post(
        "/v1/sync/push",
        headers=as_agent,
        json={
            "client_id": str(uuid.uuid4()),
            "mutations": [
                mutation(1, "draft.save", {"draft_id": out_draft, "matter_code": OUT_OF_SCOPE, "form": {}}),
                mutation(2, "draft.save", {"draft_id": in_draft, "matter_code": IN_SCOPE, "form": {}}),
                mutation(3, "application.submit", {"application_id": out_app, **application(OUT_OF_SCOPE)}),
                mutation(
                    4,
                    "application.submit",
                    {"application_id": in_app, "draft_id": in_draft, **application(IN_SCOPE)},
                ),
                mutation(
                    5,
                    "consent.grant",
                    {
                        "grantee_department_id": str(uuid.uuid4()),
                        "item_ids": [str(uuid.uuid4())],
                        "purpose": "核验",
                        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                    },
                ),
            ],
        },
    )
    assert r.status_code == 200, r.text
    assert [(x["status"], x.get("code")) for x in r.json()["results"]] == [
        ("rejected", "delegation_out_of_scope"),
        ("applied", None),
        ("rejected", "delegation_out_of_scope"),
        ("applied", None),
        ("rejected", "reserved_to_principal"),
    ]
    applied = (await client.get(f"/v1/applications/{in_app}", headers=company)).json()
    assert applied["matter_code"] == IN_SCOPE
    assert_problem(await client.get(f"/v1/applications/{out_app}", headers=company), 404, "application_not_found")
    uses = (await client.get(f"/v1/delegations/{grant['id']}/uses", headers=company)).json()["items"]
    assert ("served", IN_SCOPE, in_app) in {(u["outcome"], u["matter_code"], u.get("application_id")) for u in uses}

    # 亮证, consents and export are the 法定代表人's acts: the agent hears a 403 with a stable type.
    licence = next(
        i
        for i in (await client.get("/v1/wallet/items?kind=certificate", headers=as_agent)).json()["items"]
        if i["certificate"]["type_code"] == "business_license"
    )
    assert_problem(
        await client.post(
            f"/v1/wallet/items/{licence['id']}/present", json={"fields": ["entity_name"]}, headers=as_agent
        ),
        403,
        "reserved_to_principal",
    )
    market_id = str(await conn.fetchval("SELECT id FROM department WHERE key = 'shichang'"))
    consent = {
        "grantee_department_id": market_id,
        "item_ids": [licence["id"]],
        "purpose": "核验",
        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    assert_problem(
        await client.post("/v1/wallet/consents", json=consent, headers=as_agent), 403, "reserved_to_principal"
    )
    assert_problem(await client.get("/v1/wallet/export", headers=as_agent), 403, "reserved_to_principal")
    assert (await client.get("/v1/wallet/export", headers=company)).status_code == 200

    # Who may apply: the company applies for an entity's matter, not a person's; a person not for an entity's bundle.
    assert (await client.get("/v1/bundles/open_restaurant")).json()["applicant_kinds"] == ["organisation"]
    assert (await client.get("/v1/bundles/open_company")).json()["applicant_kinds"] == ["person"]
    assert (await client.get("/v1/bundles/birth")).json()["applicant_kinds"] == ["person"]
    assert (await client.get(f"/v1/matters/{IN_SCOPE}")).json()["applicant_kinds"] == ["person", "organisation"]
    assert (await client.get("/v1/matters/430200-GA-002")).json()["applicant_kinds"] == ["person"]
    person_matter = {
        "id": str(uuid.uuid4()),
        "matter_code": "430200-GA-002",
        "form": {"household_address": "株洲市芦淞区1号"},
        "materials": [
            {"code": "discharge_certificate", "blob_sha256": BLOB},
            {"code": "household_register", "blob_sha256": BLOB},
        ],
    }
    assert_problem(
        await client.post("/v1/applications", json=person_matter, headers=company), 403, "applicant_kind_not_allowed"
    )
    entity_bundle = {"id": str(uuid.uuid4()), "bundle_code": "company_closure", "form": {}, "materials": []}
    assert_problem(
        await client.post("/v1/applications", json=entity_bundle, headers=founder), 403, "applicant_kind_not_allowed"
    )

    # 市场监管 registers another legal representative: the former one's acting token is refused from its next
    # request on (each process reads the changed entities at least every 2 s; here at once), the new one's served.
    assert (await client.get("/v1/wallet/items", headers=company)).status_code == 200
    r = await client.post(
        "/v1/dept/certificates",
        headers=market,
        json={
            "type_code": "business_license",
            "holder": {"credit_code": code, "name": "何记餐饮"},
            "fields": {
                "entity_name": "何记餐饮",
                "entity_type": "有限责任公司",
                "legal_representative": "许新任",
                "scope": "餐饮服务",
                "established_on": "2026-11-20",
                "legal_representative_id_number": NEW_REP_NUMBER,
            },
            "external_ref": "scjg:limits:rep-change",
        },
    )
    assert r.status_code == 201, r.text
    client.app.state.revoked_logins.stale()
    assert_problem(await client.get("/v1/wallet/items", headers=company), 403, "legal_representative_changed")
    assert_problem(await client.post("/v1/auth/act-as", json={"credit_code": code}, headers=founder), 404, "not_found")
    assert (await client.get("/v1/wallet/items", headers=founder)).status_code == 200  # as themselves, still served
    successor_company = await act_as(client, successor, code)
    assert (await client.get("/v1/wallet/items", headers=successor_company)).status_code == 200
