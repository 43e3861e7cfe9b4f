"""Listing a wallet: every kind together, newest first, paged; identity required; export of one's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from auth import persons
from esign.state import EsignState
from tests.auth.helpers import assert_problem, auth, sms_login
from tests.people import citizen, id_number, next_phone
from tests.wallet import helpers
from tests.wallet.helpers import ID_CARD_FIELDS, record

ZHANG = id_number("19900101", 71)


async def test_pages_cover_every_item_once_newest_first(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    esign: EsignState,
    app: Litestar,
) -> None:
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    person = await persons.find_person_id(conn, app.state.keyring, ZHANG)
    system = auth(await helpers.dept_system(client, op, conn, "renshe", ["records:write"]))
    for month in range(1, 8):
        body = record(ZHANG, f"SI-{month}", occurred_at=f"2026-{month:02d}-15T02:00:00Z", title=f"{month}月缴费")
        assert (await client.post("/v1/dept/records", json=body, headers=system)).status_code == 201
    await helpers.issue(
        pool, esign, "gongan", "id_card", id_number=ZHANG, name="张三", fields={"name": "张三", **ID_CARD_FIELDS}
    )
    app_id = await helpers.completed_application(
        conn,
        app.state.keyring,
        bundle_code="retirement",
        applicant=person,
        for_person=person,
        form={},
        completed_at=datetime(2026, 3, 1, tzinfo=UTC),
    )

    seen, cursor = [], None
    while True:
        r = await client.get(
            "/v1/wallet/items", params={"limit": 3} | ({"cursor": cursor} if cursor else {}), headers=me
        )
        assert r.status_code == 200, r.text
        page = r.json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 9 and len({i["id"] for i in seen}) == 9
    assert [i["at"] for i in seen] == sorted((i["at"] for i in seen), reverse=True)
    assert seen[0]["kind"] == "certificate"
    application = next(i for i in seen if i["kind"] == "application")
    assert application["id"] == str(app_id) and application["links"] == {
        "application_id": str(app_id),
        "bundle_code": "retirement",
    }

    only = (await client.get("/v1/wallet/items", params={"kind": "record", "limit": 50}, headers=me)).json()
    assert {i["kind"] for i in only["items"]} == {"record"} and len(only["items"]) == 7
    one = await client.get(f"/v1/wallet/items/{seen[0]['id']}", headers=me)
    assert one.status_code == 200 and one.json()["certificate"]["type_code"] == "id_card"
    assert_problem(await client.get(f"/v1/wallet/items/{app_id}", headers=me), 404, "wallet_item_not_found")
    assert_problem(
        await client.get("/v1/wallet/items", params={"cursor": "garbage!"}, headers=me), 400, "cursor_invalid"
    )
    assert_problem(await client.get("/v1/wallet/items", params={"kind": "photo"}, headers=me), 422, "validation_failed")


async def test_the_wallet_belongs_to_a_verified_person(client: AsyncTestClient) -> None:
    assert_problem(await client.get("/v1/wallet/items"), 401, "unauthorized")
    phone_only = auth((await sms_login(client, next_phone()))["access_token"])
    assert_problem(await client.get("/v1/wallet/items", headers=phone_only), 403, "identity_required")
    assert_problem(await client.get("/v1/wallet/dependents", headers=phone_only), 403, "identity_required")


async def test_export_holds_everything_about_oneself(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    esign: EsignState,
    app: Litestar,
) -> None:
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    person = await persons.find_person_id(conn, app.state.keyring, ZHANG)
    await helpers.issue(
        pool, esign, "gongan", "id_card", id_number=ZHANG, name="张三", fields={"name": "张三", **ID_CARD_FIELDS}
    )
    system = auth(await helpers.dept_system(client, op, conn, "renshe", ["records:write", "consents:use"]))
    record_item = (await client.post("/v1/dept/records", json=record(ZHANG, "SI-1"), headers=system)).json()
    renshe = str(await helpers.department_id(conn, "renshe"))
    consent = (
        await client.post(
            "/v1/wallet/consents",
            headers=me,
            json={
                "grantee_department_id": renshe,
                "item_ids": [record_item["id"]],
                "purpose": "退休审核",
                "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            },
        )
    ).json()
    assert (await client.get(f"/v1/dept/consents/{consent['id']}/items", headers=system)).status_code == 200
    app_id = await helpers.completed_application(
        conn, app.state.keyring, bundle_code="retirement", applicant=person, for_person=person, form={}
    )

    r = await client.get("/v1/wallet/export", headers=me)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["person"]["name"] == "张三" and doc["person"]["id_number"] == ZHANG
    assert sorted(i["kind"] for i in doc["items"]) == ["certificate", "record"]
    assert next(i for i in doc["items"] if i["kind"] == "record")["record"]["data"]["amount"] == 1280
    assert (
        next(i for i in doc["items"] if i["kind"] == "certificate")["certificate"]["fields"]["address"]
        == ID_CARD_FIELDS["address"]
    )
    assert [a["id"] for a in doc["applications"]] == [str(app_id)]
    assert [c["id"] for c in doc["consents"]] == [consent["id"]]
    assert [(e["consent_id"], e["outcome"]) for e in doc["access_log"]] == [(consent["id"], "served")]
    assert len(doc["timeline"]) == 2 and doc["closed_at"] is None
    # Their logins (with their own phone number, in full) and their inbox come too; never a session key.
    assert [a["assurance_level"] for a in doc["accounts"]] == ["L3"]
    assert doc["accounts"][0]["phone"] and len(doc["accounts"][0]["phone"]) == 11
    assert "session_key" not in r.text
    assert isinstance(doc["notifications"], list)

    later = datetime.now(UTC) + timedelta(minutes=6)
    app.state.clock = lambda: later
    assert_problem(await client.get("/v1/wallet/export", headers=me), 403, "assurance_required")
