"""授权用证: a holder lets a department read named items for a purpose; every read is logged for the holder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from esign.state import EsignState
from tests.auth.helpers import assert_problem, auth
from tests.people import citizen, id_number, staff
from tests.wallet import helpers
from tests.wallet.helpers import ID_CARD_FIELDS, record

ZHANG = id_number("19900101", 51)


async def _setup(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, pool: asyncpg.Pool, esign: EsignState
) -> tuple[dict, list[str], str]:
    me = auth((await citizen(client, clerk, name="张三", id_number=ZHANG))["access_token"])
    await helpers.issue(
        pool, esign, "gongan", "id_card", id_number=ZHANG, name="张三", fields={"name": "张三", **ID_CARD_FIELDS}
    )
    system = auth(await helpers.dept_system(client, op, conn, "renshe", ["records:write"]))
    assert (await client.post("/v1/dept/records", json=record(ZHANG, "SI-1"), headers=system)).status_code == 201
    items = [i["id"] for i in (await client.get("/v1/wallet/items", headers=me)).json()["items"]]
    return me, items, str(await helpers.department_id(conn, "yibao"))


def grant(dept: str, items: list[str], **over: object) -> dict[str, object]:
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return {"grantee_department_id": dept, "item_ids": items, "purpose": "医保参保登记", "expires_at": expires, **over}


async def test_a_two_use_consent_serves_two_reads_and_logs_three(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, pool: asyncpg.Pool, esign: EsignState
) -> None:
    me, items, yibao = await _setup(client, op, clerk, conn, pool, esign)
    r = await client.post(
        "/v1/wallet/consents", json=grant(yibao, items, max_uses=2, matter_code="430200-YB-001"), headers=me
    )
    assert r.status_code == 201, r.text
    consent = r.json()
    assert consent["status"] == "active" and consent["uses"] == 0 and consent["grantee"]["name"] == "株洲市医疗保障局"

    reader = auth(await helpers.dept_system(client, op, conn, "yibao", ["consents:use"]))
    url = f"/v1/dept/consents/{consent['id']}/items"
    first = await client.get(url, headers=reader)
    assert first.status_code == 200, first.text
    got = first.json()
    assert got["consent"]["uses"] == 1 and {i["id"] for i in got["items"]} == set(items)
    record_item = next(i for i in got["items"] if i["kind"] == "record")
    # No fields named: the grantee sees what anyone but the holder sees, the sensitive amount masked.
    assert record_item["record"]["data"] == {"month": "2026-10", "amount": "***", "employer": "株洲市某公司"}
    assert record_item["masked"] is True
    assert (await client.get(url, headers=reader)).status_code == 200
    body = assert_problem(await client.get(url, headers=reader), 403, "consent_not_active")
    assert body["reason"] == "used_up"

    log = (await client.get("/v1/wallet/access-log", headers=me)).json()["items"]
    assert [(e["outcome"], e["reason"]) for e in log] == [("refused", "used_up"), ("served", None), ("served", None)]
    assert all(e["department"]["name"] == "株洲市医疗保障局" and e["purpose"] == "医保参保登记" for e in log)
    assert all(e["actor"].startswith("client:") and set(e["item_ids"]) == set(items) for e in log)
    mine = (await client.get("/v1/wallet/consents", headers=me)).json()["items"]
    assert [(c["id"], c["status"], c["uses"]) for c in mine] == [(consent["id"], "used_up", 2)]
    # The holder's devices see the grant and each use through the change log.
    versions = await conn.fetch("SELECT data::json AS data FROM sync_change WHERE entity = 'consent' ORDER BY version")
    assert [v["data"]["uses"] for v in versions] == [0, 1, 2]
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'wallet.consent_used'") == 3


async def test_revoked_and_expired_consents_stop_working(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    esign: EsignState,
    app: Litestar,
) -> None:
    me, items, yibao = await _setup(client, op, clerk, conn, pool, esign)
    staffer = auth(await staff(client, op, conn, "yibao", ["clerk"]))
    revoked = (await client.post("/v1/wallet/consents", json=grant(yibao, items[:1]), headers=me)).json()
    assert (await client.get(f"/v1/dept/consents/{revoked['id']}/items", headers=staffer)).status_code == 200
    r = await client.delete(f"/v1/wallet/consents/{revoked['id']}", headers=me)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert (await client.delete(f"/v1/wallet/consents/{revoked['id']}", headers=me)).json()["revoked_at"] == r.json()[
        "revoked_at"
    ]
    body = assert_problem(
        await client.get(f"/v1/dept/consents/{revoked['id']}/items", headers=staffer), 403, "consent_not_active"
    )
    assert body["reason"] == "revoked"

    short = grant(yibao, items[:1], expires_at=(datetime.now(UTC) + timedelta(minutes=1)).isoformat())
    expiring = (await client.post("/v1/wallet/consents", json=short, headers=me)).json()
    later = datetime.now(UTC) + timedelta(minutes=2)
    app.state.clock = lambda: later
    body = assert_problem(
        await client.get(f"/v1/dept/consents/{expiring['id']}/items", headers=staffer), 403, "consent_not_active"
    )
    assert body["reason"] == "expired"
    listed = (await client.get("/v1/dept/consents", headers=staffer)).json()["items"]
    assert [c["status"] for c in listed] == ["expired", "revoked"]


async def test_only_the_grantee_reads_and_only_the_holder_grants(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    esign: EsignState,
    app: Litestar,
) -> None:
    me, items, yibao = await _setup(client, op, clerk, conn, pool, esign)
    consent = (await client.post("/v1/wallet/consents", json=grant(yibao, items), headers=me)).json()
    other_dept = auth(await helpers.dept_system(client, op, conn, "renshe", ["consents:use"]))
    assert_problem(
        await client.get(f"/v1/dept/consents/{consent['id']}/items", headers=other_dept), 404, "consent_not_found"
    )
    no_scope = auth(await helpers.dept_system(client, op, conn, "yibao", ["records:write"]))
    assert_problem(await client.get(f"/v1/dept/consents/{consent['id']}/items", headers=no_scope), 403, "forbidden")
    assert await conn.fetchval("SELECT count(*) FROM wallet_access_log") == 0

    stranger = auth((await citizen(client, clerk, name="李四", id_number=id_number("19800101", 52)))["access_token"])
    body = assert_problem(
        await client.post("/v1/wallet/consents", json=grant(yibao, items), headers=stranger), 422, "consent_invalid"
    )
    assert [e["field"] for e in body["errors"]] == ["item_ids[0]", "item_ids[1]"]
    assert_problem(
        await client.delete(f"/v1/wallet/consents/{consent['id']}", headers=stranger), 404, "consent_not_found"
    )
    assert_problem(
        await client.post("/v1/wallet/consents", json=grant(yibao, [str(consent["id"])]), headers=me),
        422,
        "consent_invalid",
    )
    assert_problem(
        await client.post("/v1/wallet/consents", json=grant("01890000-0000-7000-8000-000000000000", items), headers=me),
        422,
        "consent_invalid",
    )
    assert_problem(
        await client.post("/v1/wallet/consents", json=grant(yibao, items, matter_code="nope"), headers=me),
        422,
        "consent_invalid",
    )
    assert_problem(
        await client.post(
            "/v1/wallet/consents", json=grant(yibao, items, expires_at="2020-01-01T00:00:00Z"), headers=me
        ),
        422,
        "consent_invalid",
    )
    assert_problem(
        await client.post("/v1/wallet/consents", json=grant(yibao, items, max_uses=0), headers=me),
        422,
        "validation_failed",
    )
    later = datetime.now(UTC) + timedelta(minutes=6)
    app.state.clock = lambda: later
    assert_problem(
        await client.post("/v1/wallet/consents", json=grant(yibao, items), headers=me), 403, "assurance_required"
    )


async def test_concurrent_reads_never_overspend(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, pool: asyncpg.Pool, esign: EsignState
) -> None:
    me, items, yibao = await _setup(client, op, clerk, conn, pool, esign)
    consent = (await client.post("/v1/wallet/consents", json=grant(yibao, items[:1], max_uses=3), headers=me)).json()
    reader = auth(await helpers.dept_system(client, op, conn, "yibao", ["consents:use"]))
    results = await asyncio.gather(
        *[client.get(f"/v1/dept/consents/{consent['id']}/items", headers=reader) for _ in range(8)]
    )
    assert sorted(r.status_code for r in results) == [200] * 3 + [403] * 5
    assert await conn.fetchval("SELECT uses FROM wallet_consent") == 3
    assert await conn.fetchval("SELECT count(*) FROM wallet_access_log") == 8


async def test_a_consent_discloses_the_fields_it_names_and_masks_the_rest(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, pool: asyncpg.Pool, esign: EsignState
) -> None:
    me, _items, yibao = await _setup(client, op, clerk, conn, pool, esign)
    listed = (await client.get("/v1/wallet/items", headers=me)).json()["items"]
    card = next(i["id"] for i in listed if i["kind"] == "certificate")
    rec = next(i["id"] for i in listed if i["kind"] == "record")

    # Names must be fields of the item they are named for.
    bad = await client.post(
        "/v1/wallet/consents", json=grant(yibao, [card], fields={card: ["name", "salary"]}), headers=me
    )
    assert [e["field"] for e in assert_problem(bad, 422, "consent_invalid")["errors"]] == [f"fields.{card}.salary"]
    bad = await client.post("/v1/wallet/consents", json=grant(yibao, [card], fields={rec: ["amount"]}), headers=me)
    assert [e["field"] for e in assert_problem(bad, 422, "consent_invalid")["errors"]] == [f"fields.{rec}"]

    r = await client.post(
        "/v1/wallet/consents",
        headers=me,
        json=grant(yibao, [card, rec], fields={card: ["name", "address"], rec: ["month"]}),
    )
    assert r.status_code == 201, r.text
    consent = r.json()
    assert consent["fields"] == {card: ["name", "address"], rec: ["month"]}
    reader = auth(await helpers.dept_system(client, op, conn, "yibao", ["consents:use"]))
    got = {
        i["id"]: i
        for i in (await client.get(f"/v1/dept/consents/{consent['id']}/items", headers=reader)).json()["items"]
    }
    # The ID card's sensitive address goes to the grantee because the consent names it; nothing else does.
    assert got[card]["certificate"]["fields"] == {"name": "张三", "address": ID_CARD_FIELDS["address"]}
    assert got[rec]["record"]["data"] == {"month": "2026-10"}
    assert not got[card].get("masked") and not got[rec].get("masked")
    # Its token is a presentation of just those fields: verifying it shows the two, not the sex or birth date.
    verdict = (await client.post("/v1/verify", json={"token": got[card]["certificate"]["token"]})).json()
    assert verdict["valid"], verdict
    assert {f["key"]: f["value"] for f in verdict["certificate"]["fields"]} == {
        "name": "张三",
        "address": ID_CARD_FIELDS["address"],
    }
    assert [f["label"] for f in verdict["certificate"]["fields"]] == ["姓名", "住址"]

    # Without names, the certificate's sensitive address stays masked for the grantee.
    plain = (await client.post("/v1/wallet/consents", json=grant(yibao, [card]), headers=me)).json()
    seen = (await client.get(f"/v1/dept/consents/{plain['id']}/items", headers=reader)).json()["items"][0]
    assert seen["certificate"]["fields"]["address"] == "***" and seen["masked"] is True
    assert ID_CARD_FIELDS["address"] not in str(seen)


async def test_granting_on_someone_elses_item_answers_as_for_an_unknown_id(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, pool: asyncpg.Pool, esign: EsignState
) -> None:
    _me, items, yibao = await _setup(client, op, clerk, conn, pool, esign)
    stranger = auth((await citizen(client, clerk, name="李四", id_number=id_number("19800101", 53)))["access_token"])
    unknown = "01890000-0000-7000-8000-0000000000aa"
    theirs = await client.post("/v1/wallet/consents", json=grant(yibao, [items[0]]), headers=stranger)
    nothing = await client.post("/v1/wallet/consents", json=grant(yibao, [unknown]), headers=stranger)
    assert theirs.status_code == nothing.status_code == 422
    assert theirs.json() == nothing.json()
    # Mixed with the stranger's own item, someone else's is still just "no such item".
    await helpers.issue(
        pool,
        esign,
        "gongan",
        "id_card",
        id_number=id_number("19800101", 53),
        name="李四",
        fields={"name": "李四", **ID_CARD_FIELDS},
    )
    own = (await client.get("/v1/wallet/items", headers=stranger)).json()["items"][0]["id"]
    mixed = await client.post("/v1/wallet/consents", json=grant(yibao, [own, items[0]]), headers=stranger)
    unknown_mixed = await client.post("/v1/wallet/consents", json=grant(yibao, [own, unknown]), headers=stranger)
    assert mixed.json() == unknown_mixed.json()
    assert assert_problem(mixed, 422, "consent_invalid")["errors"] == [
        {"field": "item_ids[1]", "message": "no such item"}
    ]
    assert await conn.fetchval("SELECT count(*) FROM wallet_consent") == 0
