"""Push over HTTP: exactly once, in seq order, rejections that never block, transient failures that record nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from api.kernel import redis_client
from notify import live
from sync import push as push_module
from tests.auth.helpers import assert_problem, auth, sms_login
from tests.sync.conftest import MOTHER
from tests.sync.helpers import MATTER, mutation, person_of, push, pushed, save, server_drafts
from tests.sync_client import SyncClient


async def ledger(conn: asyncpg.Connection) -> list[tuple[int, str, str | None]]:
    return [
        (r["seq"], r["status"], r["code"])
        for r in await conn.fetch("SELECT seq, status, code FROM sync_mutation ORDER BY n")
    ]


async def test_a_duplicate_batch_has_one_effect(
    client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection
) -> None:
    token, cid = mother["access_token"], str(uuid.uuid4())
    d1, d2 = str(uuid.uuid4()), str(uuid.uuid4())
    batch = [save(1, d1, {"bank_account_no": "1"}), save(2, d2, {"bank_account_no": "2"})]
    first = await pushed(client, token, cid, batch)
    assert [r["status"] for r in first["results"]] == ["applied", "applied"] and first["last_seq"] == 2
    again = await pushed(client, token, cid, batch)
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"] and again["last_seq"] == 2
    # The stored result comes back: same version, same draft.
    for a, b in zip(first["results"], again["results"], strict=True):
        assert (a["id"], a["version"], a["data"]) == (b["id"], b["version"], b["data"])
    assert await conn.fetchval("SELECT count(*) FROM sync_change WHERE entity = 'draft'") == 2
    assert await conn.fetchval("SELECT array_agg(version) FROM sync_draft") == [1, 1]
    assert await ledger(conn) == [(1, "applied", None), (2, "applied", None)]


async def test_a_response_lost_after_commit_is_answered_from_the_ledger(
    phone: SyncClient, conn: asyncpg.Connection
) -> None:
    d = str(uuid.uuid4())
    mid = phone.save_draft(d, {"bank_account_no": "6222"})
    lost = await phone.push(drop_response=True)  # committed; the phone never saw the answer
    assert lost is not None and lost.json()["results"][0]["status"] == "applied"
    assert phone.queue  # so it is still queued
    retry = await phone.push()
    assert retry is not None
    result = retry.json()["results"][0]
    assert result["status"] == "duplicate" and result["id"] == mid
    assert result["version"] == 1 and result["data"] == lost.json()["results"][0]["data"]
    assert not phone.queue and await conn.fetchval("SELECT version FROM sync_draft") == 1


async def test_out_of_order_is_a_gap_until_the_gap_fills(
    client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection
) -> None:
    token, cid = mother["access_token"], str(uuid.uuid4())
    m1, m2, m3 = (save(i, str(uuid.uuid4()), {"n": i}) for i in (1, 2, 3))
    out = await pushed(client, token, cid, [m2, m3])
    assert [r["status"] for r in out["results"]] == ["gap", "gap"] and out["last_seq"] == 0
    # Behind a gap nothing is applied, even what would fit: 1 is applied, 3 is a gap, 2 after it waits.
    out = await pushed(client, token, cid, [m1, m3, m2])
    assert [r["status"] for r in out["results"]] == ["applied", "gap", "gap"] and out["last_seq"] == 1
    out = await pushed(client, token, cid, [m1, m2, m3])
    assert [r["status"] for r in out["results"]] == ["duplicate", "applied", "applied"] and out["last_seq"] == 3
    assert await conn.fetchval("SELECT count(*) FROM sync_draft") == 3


async def test_a_rejection_does_not_block_what_follows(
    client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection
) -> None:
    token, cid = mother["access_token"], str(uuid.uuid4())
    batch = [
        mutation(1, "application.withdraw", {"application_id": str(uuid.uuid4())}),
        mutation(2, "draft.save", {"draft_id": str(uuid.uuid4()), "bundle_code": "no-such-bundle", "form": {}}),
        mutation(3, "draft.save", {"draft_id": "not-a-uuid"}),
        save(4, str(uuid.uuid4()), {"ok": True}),
    ]
    out = await pushed(client, token, cid, batch)
    results = out["results"]
    assert [(r["status"], r.get("code")) for r in results] == [
        ("rejected", "application_not_found"),
        ("rejected", "bundle_not_found"),
        ("rejected", "validation_failed"),
        ("applied", None),
    ]
    assert results[0]["data"]["title"] == "申请不存在"
    assert results[2]["data"]["errors"][0]["field"] == "args.draft_id"
    assert out["last_seq"] == 4
    # A rejection is final: its retry is answered the same way, and counts once in the ledger.
    again = await pushed(client, token, cid, batch)
    assert [(r["status"], r.get("code")) for r in again["results"]][:3] == [
        (r["status"], r.get("code")) for r in results
    ][:3]
    assert await ledger(conn) == [
        (1, "rejected", "application_not_found"),
        (2, "rejected", "bundle_not_found"),
        (3, "rejected", "validation_failed"),
        (4, "applied", None),
    ]


async def test_the_same_id_with_other_args_is_id_reused(
    client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection
) -> None:
    token, cid = mother["access_token"], str(uuid.uuid4())
    d = str(uuid.uuid4())
    first = save(1, d, {"a": 1})
    await pushed(client, token, cid, [first])
    reused = save(2, d, {"a": 2}, base_version=1) | {"id": first["id"]}
    out = await pushed(client, token, cid, [reused, save(3, str(uuid.uuid4()))])
    assert [(r["status"], r.get("code")) for r in out["results"]] == [("rejected", "id_reused"), ("applied", None)]
    assert out["last_seq"] == 3
    assert (await server_drafts(conn, _keyring(client), person_of(token)))[d]["form"] == {"a": 1}
    # A new id under a seq already processed is refused too, and changes nothing.
    out = await pushed(client, token, cid, [save(2, d, {"a": 3}, base_version=1)])
    assert [(r["status"], r.get("code")) for r in out["results"]] == [("rejected", "seq_reused")]


def _keyring(client: AsyncTestClient) -> Any:
    return client.app.state.keyring


async def test_clients_of_one_account_keep_their_own_seq(client: AsyncTestClient, mother: dict[str, Any]) -> None:
    token = mother["access_token"]
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert (await pushed(client, token, a, [save(1, str(uuid.uuid4()))]))["last_seq"] == 1
    assert (await pushed(client, token, b, [save(1, str(uuid.uuid4()))]))["results"][0]["status"] == "applied"
    assert (await pushed(client, token, b, []))["last_seq"] == 1


async def test_a_transient_failure_is_503_and_records_nothing(
    client: AsyncTestClient,
    mother: dict[str, Any],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token, cid = mother["access_token"], str(uuid.uuid4())
    busy = str(uuid.uuid4())
    await pushed(client, token, cid, [save(1, busy, {"v": 1})])
    monkeypatch.setattr(push_module, "LOCK_TIMEOUT_MS", 200)
    batch = [save(2, str(uuid.uuid4()), {"v": 2}), save(3, busy, {"v": 3}, base_version=1), save(4, str(uuid.uuid4()))]
    async with pool.acquire() as other, other.transaction():
        # Another writer holds the draft's row: mutation 3 cannot take it in time.
        await other.execute("SELECT 1 FROM sync_draft WHERE id = $1 FOR UPDATE", uuid.UUID(busy))
        r = await push(client, token, cid, batch)
        assert_problem(r, 503, "sync_unavailable")
        assert r.headers["retry-after"] == "2"
    # Mutation 2 committed before the failure; 3 and 4 left no trace.
    assert await ledger(conn) == [(1, "applied", None), (2, "applied", None)]
    assert await conn.fetchval("SELECT last_seq FROM sync_client") == 2
    out = await pushed(client, token, cid, batch)
    assert [r["status"] for r in out["results"]] == ["duplicate", "applied", "applied"] and out["last_seq"] == 4
    assert await conn.fetchval("SELECT version FROM sync_draft WHERE id = $1", uuid.UUID(busy)) == 2


async def test_a_database_outage_is_503(
    client: AsyncTestClient, mother: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = mother["access_token"]
    await pushed(client, token, str(uuid.uuid4()), [])  # signing keys cached while the database was up

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionRefusedError("database is down")

    monkeypatch.setattr(asyncpg.pool.Pool, "acquire", down)
    r = await push(client, token, str(uuid.uuid4()), [save(1, str(uuid.uuid4()))])
    assert_problem(r, 503, "sync_unavailable")
    assert r.headers["retry-after"]


async def test_concurrent_pushes_of_one_client_apply_each_mutation_once(
    client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection
) -> None:
    token, cid = mother["access_token"], str(uuid.uuid4())
    batch = [save(i, str(uuid.uuid4()), {"i": i}) for i in range(1, 21)]
    outs = await asyncio.gather(*(pushed(client, token, cid, batch) for _ in range(4)))
    applied = [r["id"] for out in outs for r in out["results"] if r["status"] == "applied"]
    assert sorted(applied) == sorted(m["id"] for m in batch)
    assert all(r["status"] in ("applied", "duplicate", "gap") for out in outs for r in out["results"])
    assert await conn.fetchval("SELECT count(*) FROM sync_draft") == 20
    assert await conn.fetchval("SELECT count(*) FROM sync_mutation") == 20


async def test_stale_drafts_conflict_and_carry_the_server_copy(phone: SyncClient, tablet: SyncClient) -> None:
    d = str(uuid.uuid4())
    phone.save_draft(d, {"bank_account_no": "1", "note": "phone"})
    await phone.sync()
    await tablet.sync()
    phone.save_draft(d, {"bank_account_no": "2", "note": "phone"})
    tablet.save_draft(d, {"bank_account_no": "1", "note": "tablet"})
    await phone.sync()
    r = await tablet.push()
    assert r is not None
    result = r.json()["results"][0]
    assert result["status"] == "conflict" and result["version"] == 2
    assert result["data"]["form"] == {"bank_account_no": "2", "note": "phone"} and result["data"]["version"] == 2
    # The reference client lays its edit over the server copy and tries again, based on version 2.
    await tablet.sync()
    await phone.sync()
    assert phone.records == tablet.records
    assert phone.records[("draft", d)]["form"] == {"bank_account_no": "1", "note": "tablet"}
    assert phone.records[("draft", d)]["version"] == 3


async def test_a_deleted_draft_wins_over_a_late_edit(
    phone: SyncClient, tablet: SyncClient, conn: asyncpg.Connection
) -> None:
    d = str(uuid.uuid4())
    phone.save_draft(d, {"a": 1})
    await phone.sync()
    await tablet.sync()
    phone.delete_draft(d)
    tablet.save_draft(d, {"a": 2})
    await phone.sync()
    r = await tablet.push()
    assert (
        r is not None and r.json()["results"][0]["status"] == "conflict" and r.json()["results"][0].get("data") is None
    )
    await tablet.sync()
    assert ("draft", d) not in tablet.records and tablet.records == phone.records
    assert await conn.fetchval("SELECT form FROM sync_draft WHERE id = $1", uuid.UUID(d)) is None


async def test_draft_forms_are_sealed_at_rest(phone: SyncClient, tablet: SyncClient, conn: asyncpg.Connection) -> None:
    d = str(uuid.uuid4())
    phone.save_draft(d, {"mother_id_number": MOTHER, "bank_account_no": "6222020202020202"})
    await phone.sync()
    await tablet.sync()
    # The person's own devices see the form whole …
    assert tablet.records[("draft", d)]["form"]["mother_id_number"] == MOTHER
    # … and no table holds it in the clear: not the drafts, not the change log, not the ledger.
    for sql in (
        "SELECT form FROM sync_draft",
        "SELECT data::text FROM sync_change WHERE entity = 'draft'",
        "SELECT result::text FROM sync_mutation",
    ):
        for row in await conn.fetch(sql):
            raw = row[0].encode() if isinstance(row[0], str) else bytes(row[0])
            assert MOTHER.encode() not in raw and b"6222020202020202" not in raw, sql


async def test_server_owned_unknown_and_malformed_names(client: AsyncTestClient, mother: dict[str, Any]) -> None:
    token = mother["access_token"]
    names = [
        "wallet_item.delete",
        "certificate.revoke",
        "record.update",
        "nonsense",
        "consent.grant",
        "notification.read",
    ]
    out = await pushed(
        client, token, str(uuid.uuid4()), [mutation(i + 1, n, {"id": str(uuid.uuid4())}) for i, n in enumerate(names)]
    )
    assert [r["code"] for r in out["results"]] == [
        "server_owned",
        "server_owned",
        "server_owned",
        "unknown_mutation",
        "validation_failed",
        "validation_failed",
    ]
    assert out["last_seq"] == len(names)


async def test_a_login_without_identity_can_push_nothing_personal(client: AsyncTestClient) -> None:
    token = (await sms_login(client, "13811110000"))["access_token"]
    out = await pushed(
        client,
        token,
        str(uuid.uuid4()),
        [
            save(1, str(uuid.uuid4())),
            mutation(2, "application.submit", {"application_id": str(uuid.uuid4()), "matter_code": MATTER}),
        ],
    )
    assert [r["code"] for r in out["results"]] == ["identity_required", "assurance_required"]
    assert out["results"][1]["data"]["required_level"] == "L2"


async def test_bad_envelopes_are_problems(client: AsyncTestClient, mother: dict[str, Any]) -> None:
    h = auth(mother["access_token"])
    r = await client.post(
        "/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": [save(0, str(uuid.uuid4()))]}, headers=h
    )
    assert_problem(r, 422, "validation_failed")
    r = await client.post("/v1/sync/push", content=b"{not json", headers=h | {"content-type": "application/json"})
    assert_problem(r, 400, "malformed_request")
    r = await client.post("/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": []})
    assert_problem(r, 401, "unauthorized")


async def test_the_other_devices_are_poked_after_an_applied_push(
    client: AsyncTestClient, mother: dict[str, Any], redis_url: str
) -> None:
    token = mother["access_token"]
    redis = redis_client.from_url(redis_url)
    try:
        async with live.Hub(redis).listen(
            [live.channel(person_of(token), None)]
        ) as heard:  # as a server process listens
            await pushed(client, token, str(uuid.uuid4()), [save(1, str(uuid.uuid4())), save(2, str(uuid.uuid4()))])
            assert msgspec.json.decode(await asyncio.wait_for(heard.get(), 5)) == {"t": "s", "v": 2}
            # Nothing applied (only rejections), nothing to pull: no poke.
            await pushed(client, token, str(uuid.uuid4()), [mutation(1, "nonsense", {})])
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(heard.get(), 0.5)
    finally:
        await redis.aclose()


async def test_one_id_under_two_seqs_at_once_is_applied_once(
    client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection
) -> None:
    """A confused client sends one mutation as seq 1 on one install and seq 1 on another, concurrently."""
    token = mother["access_token"]
    m = save(1, str(uuid.uuid4()), {"a": 1})
    rs = await asyncio.gather(*(push(client, token, cid, [m]) for cid in (str(uuid.uuid4()), str(uuid.uuid4()))))
    assert sorted(r.status_code for r in rs) in ([200, 200], [200, 503])
    assert await conn.fetchval("SELECT count(*) FROM sync_mutation") == 1
    assert await conn.fetchval("SELECT version FROM sync_draft") == 1
