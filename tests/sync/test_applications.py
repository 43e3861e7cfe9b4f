"""Applying offline: the mutations call the same services as the HTTP routes, with the same answers."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import auth
from tests.people import staff
from tests.sync.conftest import MOTHER
from tests.sync.helpers import MATTER, mutation, pushed
from tests.sync_client import SyncClient

BLOB = "ab" * 32


def application(app_id: str, **over: Any) -> dict[str, Any]:
    args = {
        "application_id": app_id,
        "matter_code": MATTER,
        "form": {"mother_id_number": MOTHER, "bank_account_no": "6222020202020202"},
        "materials": [
            {"code": "mother_id_card", "blob_sha256": BLOB},
            {"code": "birth_medical_certificate", "blob_sha256": BLOB},
            {"code": "bank_account", "blob_sha256": BLOB},
            {"code": "hospital_invoice", "blob_sha256": BLOB},
        ],
    }
    return args | over


async def test_a_draft_submitted_offline_becomes_an_application_on_every_device(
    phone: SyncClient, tablet: SyncClient, client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection
) -> None:
    draft_id, app_id = str(uuid.uuid4()), str(uuid.uuid4())
    phone.online = False
    args = application(app_id)
    phone.save_draft(draft_id, args["form"], materials=args["materials"][:2])
    phone.save_draft(draft_id, args["form"], materials=args["materials"])
    submit = phone.mutate("application.submit", args | {"draft_id": draft_id})
    phone.online = True
    await phone.sync()
    result = phone.outcomes[submit]
    assert result["status"] == "applied" and result["data"]["id"] == app_id and result["data"]["status"] == "submitted"
    # As over HTTP, citizens see ID numbers in a form masked.
    assert result["data"]["form"]["mother_id_number"] == MOTHER[:3] + "*" * 11 + MOTHER[-4:]

    await tablet.sync()
    assert set(tablet.records) == {("application", app_id)} and tablet.records == phone.records
    over_http = await client.get(f"/v1/applications/{app_id}", headers=auth(mother["access_token"]))
    assert over_http.json() == tablet.records[("application", app_id)]
    assert await conn.fetchval("SELECT deleted_at IS NOT NULL FROM sync_draft WHERE id = $1", uuid.UUID(draft_id))


async def test_business_rules_answer_as_they_do_over_http(client: AsyncTestClient, mother: dict[str, Any]) -> None:
    token, cid = mother["access_token"], str(uuid.uuid4())
    missing = application(str(uuid.uuid4()))
    missing["materials"] = missing["materials"][:2]
    app_id = str(uuid.uuid4())
    out = await pushed(
        client,
        token,
        cid,
        [
            mutation(1, "application.submit", missing),
            mutation(2, "application.submit", application(app_id)),
            mutation(
                3, "application.submit", application(app_id, form={"mother_id_number": MOTHER, "bank_account_no": "1"})
            ),
            mutation(4, "application.submit", application(str(uuid.uuid4())) | {"id": "x"}),
            mutation(5, "evaluation.submit", {"application_id": app_id, "level": 5}),
        ],
    )
    r = out["results"]
    assert (r[0]["status"], r[0]["code"], sorted(r[0]["data"]["missing"])) == (
        "rejected",
        "materials_missing",
        ["bank_account", "hospital_invoice"],
    )
    assert r[1]["status"] == "applied"
    assert (r[2]["status"], r[2]["code"]) == ("rejected", "application_id_reused")
    assert (r[3]["code"], r[3]["data"]["errors"][0]["field"]) == ("validation_failed", "args.id")
    assert (r[4]["status"], r[4]["code"]) == ("rejected", "application_not_finished")
    # The same application id under a new mutation id is the stored application, as a repeated POST is.
    again = await pushed(client, token, cid, [mutation(6, "application.submit", application(app_id))])
    assert again["results"][0]["status"] == "applied" and again["results"][0]["data"]["id"] == app_id


async def test_supplement_withdraw_and_rating_offline(
    client: AsyncTestClient, mother: dict[str, Any], op: str, conn: asyncpg.Connection, phone: SyncClient
) -> None:
    yibao = auth(await staff(client, op, conn, "yibao", ["clerk", "approver"]))
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    phone.mutate("application.submit", application(first))
    phone.mutate("application.submit", application(second))
    await phone.sync()
    tasks = {a: phone.records[("application", a)]["tasks"][0]["id"] for a in (first, second)}

    r = await client.post(
        f"/v1/dept/tasks/{tasks[first]}/request-supplement",
        headers=yibao,
        json={"required_materials": ["hospital_invoice"], "note": "票据不清晰"},
    )
    assert r.status_code == 200
    await phone.pull()
    assert phone.records[("application", first)]["status"] == "needs_supplement"

    phone.online = False
    supplement = phone.mutate(
        "application.supplement",
        {"application_id": first, "materials": [{"code": "hospital_invoice", "blob_sha256": "cd" * 32}]},
    )
    withdraw = phone.mutate("application.withdraw", {"application_id": second})
    withdraw_again = phone.mutate("application.withdraw", {"application_id": second})
    phone.online = True
    await phone.sync()
    assert phone.outcomes[supplement]["status"] == "applied"
    assert phone.records[("application", first)]["status"] == "in_progress"
    assert phone.outcomes[withdraw]["status"] == "applied"
    assert (phone.outcomes[withdraw_again]["status"], phone.outcomes[withdraw_again]["code"]) == (
        "rejected",
        "application_closed",
    )
    assert phone.records[("application", second)]["status"] == "withdrawn"

    assert (await client.post(f"/v1/dept/tasks/{tasks[first]}/approve", json={}, headers=yibao)).status_code == 200
    rate = phone.mutate(
        "evaluation.submit", {"application_id": first, "level": 2, "comment": "等太久", "tags": ["办理慢"]}
    )
    twice = phone.mutate("evaluation.submit", {"application_id": first, "level": 5})
    await phone.sync()
    assert phone.outcomes[rate]["status"] == "applied" and phone.outcomes[rate]["data"]["level"] == 2
    assert phone.outcomes[twice]["code"] == "evaluation_exists"
    assert phone.records[("application", first)]["evaluation"]["level"] == 2
    # A bad rating opens a rectification case, as it does over HTTP.
    assert await conn.fetchval("SELECT count(*) FROM rectification WHERE application_id = $1", uuid.UUID(first)) == 1
