"""经办人: the legal representative authorises a person for some matters; the agent acts for the entity within
that scope until the authorisation ends; every use is logged for both; another entity's agent sees nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth
from tests.enterprise.helpers import BLOB, act_as, market_dept, open_business, valid
from tests.people import citizen, id_number

AGENT_NUMBER = id_number("19950707", 11)


def matter_application(code: str) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "matter_code": code,
        "form": {"entity_name": "周记餐饮"},
        "materials": [{"code": "applicant_id_card", "blob_sha256": BLOB}],
    }


async def test_an_agent_acts_for_the_company_within_the_authorisation_until_it_ends(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    code, other = valid("91430200MA4AGENT1X"), valid("91430200MA4QTHER1X")
    founder = auth((await citizen(client, clerk, name="周老板", id_number=id_number("19800808", 2)))["access_token"])
    agent_login = await citizen(client, clerk, name="吴经办", id_number=AGENT_NUMBER)
    agent = auth(agent_login["access_token"])
    rival = auth((await citizen(client, clerk, name="郑老板", id_number=id_number("19810909", 6)))["access_token"])
    market = await market_dept(client, op, conn)
    await open_business(client, founder, market, credit_code=code, name="周记餐饮")
    await open_business(client, rival, market, credit_code=other, name="郑记")

    # Before any authorisation the agent may not act for the company.
    assert_problem(await client.post("/v1/auth/act-as", json={"credit_code": code}, headers=agent), 404, "not_found")

    # The legal representative, acting for the company, names the agent for one matter, applying only.
    company = await act_as(client, founder, code)
    ends = datetime.now(UTC) + timedelta(days=7)
    r = await client.post(
        "/v1/delegations",
        headers=company,
        json={
            "agent": {"id_number": AGENT_NUMBER, "name": "吴经办"},
            "matters": ["430200-SW-001"],
            "actions": ["apply"],
            "expires_at": ends.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["principal"] == {"kind": "organisation", "id": grant["principal"]["id"], "name_masked": "周记餐饮"}

    # Both see it: the company through its representative, the agent as themselves.
    assert [d["id"] for d in (await client.get("/v1/delegations", headers=company)).json()["items"]] == [grant["id"]]
    assert [d["id"] for d in (await client.get("/v1/delegations", headers=agent)).json()["items"]] == [grant["id"]]
    listed = (await client.get("/v1/auth/organisations", headers=agent)).json()["items"]
    assert [(o["credit_code"], o["role"], o["delegation_id"]) for o in listed] == [(code, "agent", grant["id"])]

    # The agent acts for the company: its wallet, and an application within the scope.
    as_agent = await act_as(client, agent, code)
    items = (await client.get("/v1/wallet/items?kind=certificate", headers=as_agent)).json()["items"]
    assert [i["certificate"]["type_code"] for i in items] == ["business_license"]
    r = await client.post("/v1/applications", json=matter_application("430200-SW-001"), headers=as_agent)
    assert r.status_code == 201, r.text
    assert r.json()["applicant_person_id"] == grant["principal"]["id"]
    # Outside the scope: refused, and the refusal is logged too.
    assert_problem(
        await client.post("/v1/applications", json=matter_application("430200-RS-003"), headers=as_agent),
        403,
        "delegation_out_of_scope",
    )
    # An agent may not hand the company's authority on.
    assert_problem(
        await client.post(
            "/v1/delegations",
            headers=as_agent,
            json={
                "agent": {"id_number": id_number("19960101", 12), "name": "某人"},
                "matters": ["*"],
                "actions": ["apply"],
                "expires_at": ends.isoformat(),
            },
        ),
        403,
        "forbidden",
    )
    uses = (await client.get(f"/v1/delegations/{grant['id']}/uses", headers=company)).json()["items"]
    assert sorted((u["outcome"], u["matter_code"]) for u in uses) == [
        ("refused", "430200-RS-003"),
        ("served", "430200-SW-001"),
    ]
    assert (await client.get(f"/v1/delegations/{grant['id']}/uses", headers=agent)).json()["items"] == uses

    # Another company's legal representative and its agent see nothing of it.
    as_rival = await act_as(client, rival, other)
    assert_problem(
        await client.get(f"/v1/wallet/items/{items[0]['id']}", headers=as_rival), 404, "wallet_item_not_found"
    )
    assert_problem(
        await client.get(f"/v1/delegations/{grant['id']}/uses", headers=as_rival), 404, "delegation_not_found"
    )

    # The authorisation ends: the agent's acting token with it, and a new switch is refused.
    client.app.state.clock = lambda: ends + timedelta(minutes=1)
    try:
        assert_problem(await client.get("/v1/wallet/items", headers=as_agent), 401, "unauthorized")
        r = await client.post("/v1/auth/refresh", json={"refresh_token": agent_login["refresh_token"]})
        assert r.status_code == 200, r.text
        later = auth(r.json()["access_token"])
        assert_problem(
            await client.post("/v1/auth/act-as", json={"credit_code": code}, headers=later), 403, "delegation_inactive"
        )
        assert (await client.get("/v1/auth/organisations", headers=later)).json()["items"] == []
    finally:
        client.app.state.clock = None
    # Revoked is the same as expired for the agent, at once: the acting token in hand is refused on its next
    # request, not when its 15 minutes end.
    as_agent = await act_as(client, agent, code)
    assert (await client.get("/v1/wallet/items", headers=as_agent)).status_code == 200
    r = await client.post(f"/v1/delegations/{grant['id']}/revoke", headers=company)
    assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
    assert_problem(await client.get("/v1/wallet/items", headers=as_agent), 403, "delegation_inactive")
    assert (await client.get("/v1/wallet/items", headers=agent)).status_code == 200  # as themselves, still served
    assert_problem(
        await client.post("/v1/auth/act-as", json={"credit_code": code}, headers=agent), 403, "delegation_inactive"
    )
    assert_problem(
        await client.post("/v1/applications", json=matter_application("430200-SW-001"), headers=as_agent),
        403,
        "delegation_inactive",
    )
