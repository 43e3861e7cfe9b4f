"""A 代办人 acts for the person who named them, from the app: the same model as an enterprise's 经办人."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth, claims
from tests.matters.family import png, sha
from tests.matters.test_window import RETIREMENT_FORM
from tests.people import citizen, id_number

MOTHER = ("王桂兰", id_number("19650812", 71, male=False))
SON = ("李志强", id_number("19910302", 72))


async def test_a_son_applies_for_his_mother_from_his_app_within_her_authorisation(
    client: AsyncTestClient, clerk: str, conn: asyncpg.Connection
) -> None:
    mother = await citizen(client, clerk, name=MOTHER[0], id_number=MOTHER[1])
    son = await citizen(client, clerk, name=SON[0], id_number=SON[1])
    her, his = auth(mother["access_token"]), auth(son["access_token"])
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = await client.post(
        "/v1/delegations",
        headers=her,
        json={
            "agent": {"id_number": SON[1], "name": SON[0]},
            "matters": ["retirement"],
            "actions": ["apply"],
            "expires_at": later,
        },
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    # He finds it among the authorisations he received, and switches to acting for her.
    received = (await client.get("/v1/delegations", headers=his)).json()["items"]
    assert [(d["id"], d["principal"]["kind"]) for d in received] == [(grant["id"], "person")]
    her_id = received[0]["principal"]["id"]
    r = await client.post("/v1/auth/act-as", headers=his, json={"person_id": her_id})
    assert r.status_code == 200, r.text
    acting = r.json()
    assert acting["person"]["delegation_id"] == grant["id"] and acting["person"]["name_masked"] != MOTHER[0]
    c = claims(acting["access_token"])
    assert (c["psn"], c["dlg"], c["pid"]) == (her_id, grant["id"], claims(son["access_token"])["pid"])
    assert c["exp"] <= int(datetime.fromisoformat(grant["expires_at"]).timestamp())
    as_her = auth(acting["access_token"])

    # Within the scope: 退休一件事, with the scans he uploads; outside it (another matter): refused.
    r = await client.post(
        "/v1/applications",
        headers=as_her,
        json={
            "id": str(uuid.uuid4()),
            "matter_code": "430200-GA-002",
            "form": {"household_address": "株洲市"},
            "materials": [],
        },
    )
    assert_problem(r, 403, "delegation_out_of_scope")
    scans = {c: png(f"agent-{c}") for c in ("retirement_application", "employment_record", "applicant_id_card")}
    for data in scans.values():
        r = await client.put(f"/v1/blobs/{sha(data)}", content=data, headers=as_her | {"Content-Type": "image/png"})
        assert r.status_code in (200, 201), r.text
    r = await client.post(
        "/v1/applications",
        headers=as_her,
        json={
            "id": str(uuid.uuid4()),
            "bundle_code": "retirement",
            "form": RETIREMENT_FORM,
            "materials": [{"code": c, "blob_sha256": sha(d)} for c, d in scans.items()],
            "deferred_materials": ["bank_account"],
        },
    )
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["applicant_person_id"] == her_id
    # It is hers: in her list, and in his view as her; not in his own.
    assert [a["id"] for a in (await client.get("/v1/applications", headers=her)).json()["items"]] == [app["id"]]
    assert [a["id"] for a in (await client.get("/v1/applications", headers=as_her)).json()["items"]] == [app["id"]]
    assert (await client.get("/v1/applications", headers=his)).json()["items"] == []
    # An agent gives no authorisations in her name.
    r = await client.post(
        "/v1/delegations",
        headers=as_her,
        json={
            "agent": {"id_number": id_number("19800101", 73), "name": "外人"},
            "matters": ["*"],
            "actions": ["apply"],
            "expires_at": later,
        },
    )
    assert_problem(r, 403, "forbidden")
    # Nor shows her certificates, consents or exports for her, or queues acts the authorisation cannot check.
    assert_problem(
        await client.post(
            "/v1/wallet/consents",
            headers=as_her,
            json={
                "grantee_department_id": str(uuid.uuid4()),
                "item_ids": [str(uuid.uuid4())],
                "purpose": "x",
                "expires_at": later,
            },
        ),
        403,
        "reserved_to_principal",
    )
    assert_problem(await client.get("/v1/wallet/export", headers=as_her), 403, "reserved_to_principal")
    assert_problem(
        await client.post("/v1/sync/push", headers=as_her, json={"client_id": str(uuid.uuid4()), "mutations": []}),
        403,
        "reserved_to_principal",
    )

    # Every use is in her access log, the refused one too, naming the authorisation.
    log = (await client.get("/v1/wallet/access-log", headers=her)).json()["items"]
    by_agent = [(e["purpose"], e["outcome"]) for e in log if e["delegation_id"] == grant["id"]]
    assert by_agent == [
        ("代办人代为申请（retirement）", "served"),
        ("代办人代为申请（430200-GA-002）", "refused"),
        ("代办人切换为代您办理", "served"),
    ]
    assert all(e["department"] is None for e in log if e["delegation_id"])

    # Expired: the switch is refused and logged; a token still held is refused at the next act.
    await conn.execute(
        "UPDATE delegation SET created_at = created_at - interval '40 days', "
        "expires_at = now() - interval '1 minute' WHERE id = $1",
        uuid.UUID(grant["id"]),
    )
    assert_problem(
        await client.post("/v1/auth/act-as", headers=his, json={"person_id": her_id}), 403, "delegation_inactive"
    )
    r = await client.post(
        "/v1/applications",
        headers=as_her,
        json={"id": str(uuid.uuid4()), "bundle_code": "retirement", "form": RETIREMENT_FORM, "materials": []},
    )
    assert_problem(r, 403, "delegation_inactive")
    log = (await client.get("/v1/wallet/access-log", headers=her)).json()["items"]
    assert [(e["purpose"], e["reason"]) for e in log[:2]] == [
        ("代办人代为申请（retirement）", "delegation_inactive"),
        ("代办人切换为代您办理", "delegation_inactive"),
    ]
    # Someone she never authorised: as if she did not exist.
    assert_problem(
        await client.post("/v1/auth/act-as", headers=her, json={"person_id": claims(son["access_token"])["pid"]}),
        404,
        "not_found",
    )
    assert_problem(
        await client.post(
            "/v1/auth/act-as", headers=his, json={"person_id": her_id, "credit_code": "11430200MB0001000R"}
        ),
        422,
        "validation_failed",
    )
