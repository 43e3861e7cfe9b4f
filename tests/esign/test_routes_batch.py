"""``POST /v1/dept/certificates:batch``: queued (202), issued by the workers' job, each item issued, existing
or failed on its own; large batches signed beside the writes and written in chunks; a chunk that loses a race
is redone one item at a time; a worker that breaks off is followed by another that issues nothing twice."""

from __future__ import annotations

import functools
from datetime import date, timedelta

import asyncpg
import msgspec
import pytest
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from api.config import Settings
from api.kernel.crypto import Keyring
from esign import delivery
from esign.batch import flows as batch
from esign.batch import jobs as batches
from esign.codec import licence, tokens
from esign.store import certificate as store
from tests.conftest import TEST_MASTER_KEY
from tests.esign import api
from tests.esign.api import auth, batch_results, household, issue, issue_batch, submit_batch
from wallet import store as wallet_store

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(i: int) -> str:
    body = f"430202{date(1980, 1, 1) + timedelta(days=i // 1000):%Y%m%d}{i % 1000:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


@pytest.mark.parametrize("chunk", [batch.CHUNK, 2])
async def test_each_item_on_its_own(
    client: AsyncTestClient,
    worker: State,
    police_issuer: str,
    police_seal: dict,
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
) -> None:
    # In chunks of 2 the repeats, replays and failures fall in other chunks than what they refer to.
    monkeypatch.setattr(batch, "issue_batch", functools.partial(batch.issue_batch, chunk=chunk))
    earlier = household(ref="earlier")
    first = await issue(client, police_issuer, earlier)
    good = household(id_number(1), ref="b-1")
    items = [
        good,  # 0 issued
        household(id_number(2), ref="b-2", fields={"relation": "户主"}),  # 1 failed: fields
        household("36042619910102009X", ref="b-3"),  # 2 failed: id number
        good,  # 3 existing: same ref and body, earlier in the batch
        good | {"holder": {"id_number": id_number(4), "name": "王五"}},  # 4 failed: same ref, other body
        earlier,  # 5 existing: issued before
        earlier | {"fields": earlier["fields"] | {"relation": "子"}},  # 6 failed: conflict with the earlier one
        household(ref="b-7", type_code="nope"),  # 7 failed: unknown type
        household(id_number(8), ref="b-8"),  # 8 issued
    ]
    results = await issue_batch(client, worker, police_issuer, items)
    assert [x["index"] for x in results] == list(range(9))
    assert [x["status"] for x in results] == [
        "issued",
        "failed",
        "failed",
        "existing",
        "failed",
        "existing",
        "failed",
        "failed",
        "issued",
    ]
    errors = {x["index"]: x["error"] for x in results if x["status"] == "failed"}
    assert {i: e["type"] for i, e in errors.items()} == {
        1: "certificate_fields_invalid",
        2: "id_number_invalid",
        4: "external_ref_conflict",
        6: "external_ref_conflict",
        7: "certificate_type_unknown",
    }
    assert {e["field"] for e in errors[1]["errors"]} == {
        "fields.household_head",
        "fields.address",
        "fields.registered_on",
    }
    assert errors[2]["status"] == 422 and errors[2]["title"]
    assert results[3]["certificate_id"] == results[0]["certificate_id"] and results[5]["certificate_id"] == first["id"]
    r = await client.get(f"/v1/dept/certificates/{results[8]['certificate_id']}", headers=auth(police_issuer))
    cert = r.json()
    assert cert["fields"]["address"] == "株洲市天元区泰山路88号" and (await api.verify(client, cert["token"]))["valid"]
    ids = [results[0]["certificate_id"], results[8]["certificate_id"]]
    assert (
        await conn.fetchval("SELECT count(*) FROM wallet_item WHERE certificate_id::text = ANY($1::text[])", ids) == 2
    )
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'certificate.issued'") == 3
    audits = await conn.fetch("SELECT data FROM audit_log WHERE action = 'esign.certificates_issued'")
    assert sum(a["data"]["count"] for a in audits) == 2
    assert sorted(c for a in audits for c in a["data"]["certificates"]) == sorted(ids)
    again = await issue_batch(client, worker, police_issuer, items[:1])
    assert again == [{"index": 0, "status": "existing", "certificate_id": ids[0]}]


async def test_a_large_batch_is_signed_beside_the_writes(
    client: AsyncTestClient, worker: State, police_issuer: str, police_seal: dict, conn: asyncpg.Connection
) -> None:
    count = batch.INLINE_BELOW + 100
    items = [household(id_number(1000 + i), f"持证人{i}", ref=f"big-{i}") for i in range(count)]
    results = await issue_batch(client, worker, police_issuer, items)
    assert {x["status"] for x in results} == {"issued"}
    rows = await conn.fetch(
        "SELECT licence_id, status_list_id, status_index, person_id, token, record_salt FROM esign_certificate "
        "WHERE external_ref LIKE 'big-%'"
    )
    assert len(rows) == count and len({(x["status_list_id"], x["status_index"]) for x in rows}) == count
    serials = sorted(licence.parse_licence_id(x["licence_id"]).serial for x in rows)
    assert len(set(serials)) == count and len({x["person_id"] for x in rows}) == count
    assert await conn.fetchval("SELECT count(*) FROM wallet_item WHERE kind = 'certificate'") == count
    assert await conn.fetchval("SELECT count(*) FROM sync_change WHERE entity = 'wallet_item'") == count
    # Each change carries the item as the single path records it (delivery.synced_data), token included.
    changes = await conn.fetch(
        "SELECT c.data::json AS data, to_jsonb(w) AS item, t.token FROM sync_change c JOIN wallet_item w "
        "ON w.id = c.entity_id JOIN esign_certificate t ON t.id = w.certificate_id "
        "WHERE c.entity = 'wallet_item'"
    )
    for change in changes[::50]:
        item = msgspec.convert(
            {k: v for k, v in change["item"].items() if k in wallet_store.COLUMNS},
            wallet_store.WalletItem,
            strict=False,
        )
        assert "token" not in item.data
        synced = delivery.synced_data(item, change["token"])
        assert change["data"] == msgspec.json.decode(msgspec.json.encode(synced))
    sample = rows[::97]
    for row in sample:
        verdict = await api.verify(client, row["token"])
        assert verdict["valid"] is True and verdict["certificate"]["licence_id"] == row["licence_id"]
        assert tokens.decode_token(row["token"]).claims.serial == row["licence_id"].split(".")[7]
        assert len(row["record_salt"]) == 16


async def test_a_chunk_that_loses_a_race_is_redone_item_by_item(
    client: AsyncTestClient, worker: State, police_issuer: str, police_seal: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = await issue(client, police_issuer, household(ref="raced"))

    async def sees_nothing(conn: asyncpg.Connection, department_id: object, refs: list[str]) -> dict:
        return {}  # as if another request issued "raced" between the batch's check and its write

    monkeypatch.setattr(store, "find_external_refs", sees_nothing)
    items = [household(id_number(5001), ref="r-1"), household(ref="raced"), household(id_number(5003), ref="r-3")]
    results = await issue_batch(client, worker, police_issuer, items)
    assert [x["status"] for x in results] == ["issued", "existing", "issued"]
    assert results[1]["certificate_id"] == taken["id"]


async def test_batch_limits(client: AsyncTestClient, police_issuer: str) -> None:
    r = await client.post("/v1/dept/certificates:batch", json={"items": []}, headers=auth(police_issuer))
    assert r.status_code in (400, 422) and r.headers["content-type"] == "application/problem+json"
    r = await client.post(
        "/v1/dept/certificates:batch", json={"items": [{"type_code": "x"}] * 10001}, headers=auth(police_issuer)
    )
    assert r.status_code in (400, 422)


async def test_a_batch_that_breaks_midway_is_taken_up_again_and_issues_each_item_once(
    client: AsyncTestClient,
    worker: State,
    police_issuer: str,
    police_seal: dict,
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batch, "issue_batch", functools.partial(batch.issue_batch, chunk=2))
    monkeypatch.setattr(batches, "RETRY_AFTER", timedelta(0))
    reserve, calls = batch._reserve, []

    async def breaks_on_the_third_chunk(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        await reserve(*args, **kwargs)

    monkeypatch.setattr(batch, "_reserve", breaks_on_the_third_chunk)
    items = [household(id_number(7000 + i), ref=f"m-{i}") for i in range(8)]
    r = await submit_batch(client, police_issuer, items)
    assert await batches.work_once(worker)  # breaks off after two chunks
    midway = (await client.get(r.headers["location"], headers=auth(police_issuer))).json()
    # The chunks written before the break (none, one or two: the second lane writes as the first checks).
    assert midway["state"] == "running" and midway["processed"] in (0, 2, 4)
    assert midway["issued"] == midway["processed"] and midway["progress"] == midway["processed"] / 8
    assert len(await batch_results(client, police_issuer, r.headers["location"])) == midway["processed"]
    # A chunk is written whole or not at all, with its items' results; the batch taken up again goes
    # on with what is missing, and every item is issued once, reported as issued.
    await batches.drain(worker)
    done = (await client.get(r.headers["location"], headers=auth(police_issuer))).json()
    assert (done["state"], done["issued"], done["processed"], done["progress"]) == ("done", 8, 8, 1.0)
    results = await batch_results(client, police_issuer, r.headers["location"], limit=3)
    assert [x["index"] for x in results] == list(range(8)) and {x["status"] for x in results} == {"issued"}
    counts = await conn.fetchrow(
        "SELECT count(*), count(DISTINCT external_ref) FROM esign_certificate WHERE external_ref LIKE 'm-%'"
    )
    assert tuple(counts) == (8, 8)
    assert {
        str(x) for x in await conn.fetchval("SELECT array_agg(id) FROM esign_certificate WHERE external_ref LIKE 'm-%'")
    } == {x["certificate_id"] for x in results}
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM wallet_item w JOIN esign_certificate c ON c.person_id = w.person_id AND c.id = w.certificate_id "
            "WHERE c.external_ref LIKE 'm-%'"
        )
        == 8
    )


async def test_a_batch_writes_the_rows_a_single_issue_writes(
    client: AsyncTestClient,
    worker: State,
    police_issuer: str,
    police_seal: dict,
    conn: asyncpg.Connection,
) -> None:
    # The batch's rows are encoded by the signing processes, the single issue's by asyncpg from values:
    # apart from what differs by nature (ids, serial, slot, times, nonces, signature), they must agree.
    keyring = Keyring.from_settings(Settings(master_key=TEST_MASTER_KEY))
    single = await issue(client, police_issuer, household(id_number(9001), "李四", ref="same-1"))
    items = [household(id_number(9001), "李四", ref="same-2"), household(id_number(9002), "赵六", ref="same-3")]
    batched = [x["certificate_id"] for x in await issue_batch(client, worker, police_issuer, items)]
    rows = {
        str(x["id"]): dict(x)
        for x in await conn.fetch(
            "SELECT * FROM esign_certificate WHERE id::text = ANY($1::text[])", [single["id"], *batched]
        )
    }
    one, other, new_holder = rows[single["id"]], rows[batched[0]], rows[batched[1]]
    differ = {
        "id",
        "licence_id",
        "status_index",
        "record_digest",
        "token",
        "external_ref",
        "request_hash",
        "issued_at",
        "valid_from",
        "created_at",
        "holder_name",
        "holder_id",
        "sealed_fields",
        "record_salt",
    }
    assert len(one["record_salt"]) == len(other["record_salt"]) == 16 and one["record_salt"] != other["record_salt"]
    assert {k: v for k, v in one.items() if k not in differ} == {k: v for k, v in other.items() if k not in differ}
    for column, context in (
        ("holder_name", "esign_certificate.holder_name"),
        ("holder_id", "esign_certificate.holder_id"),
        ("sealed_fields", "esign_certificate.sealed_fields"),
    ):
        assert keyring.decrypt(one[column], context=context) == keyring.decrypt(other[column], context=context)
    assert one["valid_until"] is None  # the household register has no end (so the two agree on it above)
    # A holder new to the batch became a person, with the ID number and name the single path seals.
    person = await conn.fetchrow("SELECT * FROM person WHERE id = $1", new_holder["person_id"])
    assert keyring.decrypt_str(person["id_number"], context="person.id_number") == id_number(9002)
    assert keyring.decrypt_str(person["name"], context="person.name") == "赵六"
    assert person["id_number_index"] == new_holder["holder_index"]
    items_of = {
        str(x["certificate_id"]): x
        for x in await conn.fetch(
            "SELECT * FROM wallet_item WHERE certificate_id::text = ANY($1::text[])", [single["id"], batched[0]]
        )
    }
    a, b = items_of[single["id"]], items_of[batched[0]]
    assert (a["kind"], a["title"], a["person_id"]) == (b["kind"], b["title"], b["person_id"])
    assert {**a["summary"], "licence_id": ""} == {**b["summary"], "licence_id": ""}
    assert b["summary"]["licence_id"] == other["licence_id"]
    assert {k: v for k, v in b["data"].items() if k not in ("certificate_id", "status_ref", "valid_from")} == {
        k: v for k, v in a["data"].items() if k not in ("certificate_id", "status_ref", "valid_from")
    }
    assert b["data"]["status_ref"] == [other["status_list_id"], other["status_index"]]
    events = {
        x["payload"]["certificate_id"]: x
        for x in await conn.fetch(
            "SELECT dedup_key, partition_key, payload::json AS payload FROM outbox WHERE topic = 'certificate.issued' "
            "AND payload::json->>'certificate_id' = ANY($1::text[])",
            [single["id"], *batched],
        )
    }
    assert events[batched[0]]["payload"] == events[single["id"]]["payload"] | {
        "certificate_id": batched[0],
        "licence_id": other["licence_id"],
    }
    assert events[batched[1]]["payload"]["person_id"] == str(new_holder["person_id"])
    assert (events[batched[0]]["dedup_key"], events[batched[0]]["partition_key"]) == (
        f"certificate.issued:{batched[0]}",
        events[single["id"]]["partition_key"],
    )
    changes = await conn.fetch(
        "SELECT version, data::json AS data FROM sync_change WHERE person_id = $1 ORDER BY version", one["person_id"]
    )
    assert [c["version"] for c in changes] == [1, 2] and changes[1]["data"]["data"]["token"] == other["token"]


async def test_a_holder_whose_wallet_closed_fails_alone(
    client: AsyncTestClient,
    worker: State,
    police_issuer: str,
    police_seal: dict,
    conn: asyncpg.Connection,
) -> None:
    # The signing joins a chunk's rows table by table; the writing takes the closed wallet's out of them.
    died = await issue(client, police_issuer, household(id_number(7002), "持证人2", ref="c-0"))
    person_id = await conn.fetchval("SELECT person_id FROM esign_certificate WHERE id::text = $1", died["id"])
    await conn.execute(
        "INSERT INTO wallet_closure (person_id, closed_at, source) VALUES ($1, now(), 'test')", person_id
    )
    items = [household(id_number(7000 + i), f"持证人{i}", ref=f"c-{i}") for i in range(1, 4)]
    results = await issue_batch(client, worker, police_issuer, items)
    assert [x["status"] for x in results] == ["issued", "failed", "issued"]
    assert results[1]["error"]["type"] == "wallet_closed"
    ids = {results[0]["certificate_id"], results[2]["certificate_id"]}
    certificates = await conn.fetch("SELECT id, external_ref, token FROM esign_certificate WHERE external_ref <> 'c-0'")
    assert {(str(c["id"]), c["external_ref"]) for c in certificates} == {
        (results[0]["certificate_id"], "c-1"),
        (results[2]["certificate_id"], "c-3"),
    }
    for c in certificates:
        assert (await api.verify(client, c["token"]))["valid"] is True
    items_of = await conn.fetch(
        "SELECT certificate_id, person_id FROM wallet_item WHERE certificate_id::text <> $1", died["id"]
    )
    assert {str(x["certificate_id"]) for x in items_of} == ids and person_id not in {x["person_id"] for x in items_of}
    synced = await conn.fetch(
        "SELECT data::json AS data FROM sync_change WHERE entity = 'wallet_item' AND person_id <> $1", person_id
    )
    assert {x["data"]["certificate_id"] for x in synced} == ids
    events = await conn.fetch("SELECT payload::json AS payload FROM outbox WHERE topic = 'certificate.issued'")
    assert {x["payload"]["certificate_id"] for x in events} == ids | {died["id"]}
    # Written as a chunk, not redone item by item after a failed write.
    audits = await conn.fetch("SELECT data FROM audit_log WHERE action = 'esign.certificates_issued'")
    assert [set(a["data"]["certificates"]) for a in audits] == [ids]


async def test_a_holder_new_to_the_batch_becomes_one_person(
    client: AsyncTestClient,
    worker: State,
    police_issuer: str,
    police_seal: dict,
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In chunks of 2: the first item writes the person, the second (same chunk) and the third (next
    # chunk) take that person; another holder follows in the second chunk.
    monkeypatch.setattr(batch, "issue_batch", functools.partial(batch.issue_batch, chunk=2))
    items = [household(id_number(8001), "孙八", ref=f"same-holder-{i}") for i in range(3)]
    items.append(household(id_number(8002), "周九", ref="other-holder"))
    assert [x["status"] for x in await issue_batch(client, worker, police_issuer, items)] == ["issued"] * 4
    holders = await conn.fetch(
        "SELECT external_ref, person_id, holder_index FROM esign_certificate "
        "WHERE external_ref LIKE 'same-holder-%' OR external_ref = 'other-holder'"
    )
    by_ref = {h["external_ref"]: h for h in holders}
    same = {by_ref[f"same-holder-{i}"]["person_id"] for i in range(3)}
    assert len(same) == 1 and by_ref["other-holder"]["person_id"] not in same
    people = await conn.fetch(
        "SELECT id, id_number_index FROM person WHERE id = ANY($1::uuid[])",
        [*same, by_ref["other-holder"]["person_id"]],
    )
    assert len(people) == 2
    assert {p["id"]: p["id_number_index"] for p in people}[same.pop()] == by_ref["same-holder-0"]["holder_index"]
    versions = await conn.fetch(
        "SELECT version FROM sync_change WHERE person_id = $1 ORDER BY version", by_ref["same-holder-0"]["person_id"]
    )
    assert [v["version"] for v in versions] == [1, 2, 3]
    heads = await conn.fetch(
        "SELECT person_id, version FROM sync_head WHERE person_id = ANY($1::uuid[])",
        [by_ref["same-holder-0"]["person_id"], by_ref["other-holder"]["person_id"]],
    )
    assert sorted(h["version"] for h in heads) == [1, 3]  # a new holder's head is written, then bumped
    audits = await conn.fetch("SELECT data FROM audit_log WHERE action = 'esign.certificates_issued'")
    assert sorted(a["data"]["count"] for a in audits) == [2, 2]  # both chunks written whole, none redone


async def test_a_batch_is_queued_then_shows_its_progress_and_results_to_its_department_only(
    client: AsyncTestClient,
    worker: State,
    op: str,
    police_issuer: str,
    police_seal: dict,
    conn: asyncpg.Connection,
) -> None:
    items = [household(id_number(6000 + i), ref=f"q-{i}") for i in range(5)]
    items[3] = household("36042619910102009X", ref="q-3")  # fails: the ID number's check digit
    key = {"Idempotency-Key": "batch-q"}
    r = await submit_batch(client, police_issuer, items, **key)
    queued = r.json()
    assert queued | {"id": None, "created_at": None} == {
        "id": None,
        "state": "queued",
        "total": 5,
        "processed": 0,
        "issued": 0,
        "existing": 0,
        "failed": 0,
        "progress": 0.0,
        "created_at": None,
        "started_at": None,
        "finished_at": None,
        "error": None,
        "results_url": f"/v1/dept/certificate-batches/{queued['id']}/results",
    }
    # The same request again with its key is the same batch, not a second one.
    again = await submit_batch(client, police_issuer, items, **key)
    assert again.json() == queued and again.headers["idempotent-replayed"] == "true"
    assert await conn.fetchval("SELECT count(*) FROM esign_certificate_batch") == 1
    # The items wait sealed: the holders' ID numbers are not in the row in the clear.
    sealed = await conn.fetchval("SELECT items FROM esign_certificate_batch")
    assert id_number(6000).encode() not in sealed and "张三丰".encode() not in sealed
    # Another department's issuer does not see it.
    other = await api.staff(client, op, conn, "yibao", ["issuer"])
    for path in (r.headers["location"], f"{r.headers['location']}/results"):
        api.problem(await client.get(path, headers=auth(other)), 404, "certificate_batch_not_found")

    await batches.drain(worker)
    done = (await client.get(r.headers["location"], headers=auth(police_issuer))).json()
    assert (done["state"], done["total"], done["processed"], done["issued"], done["failed"], done["progress"]) == (
        "done",
        5,
        5,
        4,
        1,
        1.0,
    )
    assert done["started_at"] and done["finished_at"]
    assert await conn.fetchval("SELECT items FROM esign_certificate_batch") is None  # dropped once finished
    page = await client.get(f"{r.headers['location']}/results", params={"limit": 2}, headers=auth(police_issuer))
    assert [x["index"] for x in page.json()["items"]] == [0, 1] and page.json()["next_cursor"]
    failures = await batch_results(client, police_issuer, r.headers["location"], status="failed")
    assert [(x["index"], x["error"]["type"]) for x in failures] == [(3, "id_number_invalid")]
    # The department's webhooks hear that it finished.
    [event] = await conn.fetch(
        "SELECT payload::json AS payload FROM outbox WHERE topic = 'notify'"
        " AND payload::json->>'event' = 'certificate_batch.finished'"
    )
    assert event["payload"] | {"department_id": None} == {
        "event": "certificate_batch.finished",
        "batch_id": queued["id"],
        "department_id": None,
        "state": "done",
        "total": 5,
        "issued": 4,
        "existing": 0,
        "failed": 1,
    }


async def test_items_of_a_type_the_department_may_not_issue_fail_and_are_audited_once(
    client: AsyncTestClient,
    worker: State,
    op: str,
    conn: asyncpg.Connection,
) -> None:
    issuer = await api.staff(client, op, conn, "yibao", ["issuer", "dept_admin"])
    await api.make_seal(client, issuer)
    results = await issue_batch(
        client, worker, issuer, [household(id_number(6100 + i), ref=f"a-{i}") for i in range(3)]
    )
    assert {(x["status"], x["error"]["type"], x["error"]["status"]) for x in results} == {
        ("failed", "authority_required", 403)
    }
    refused = await conn.fetch("SELECT data FROM audit_log WHERE action = 'authority.refused'")
    assert [(x["data"]["power"], x["data"]["route"]) for x in refused] == [
        ("certificate:household_register", "POST /v1/dept/certificates:batch")
    ]
