"""Pull over HTTP: pages, resets, ETags, the tombstone horizon, dependents coming and going."""

from __future__ import annotations

import asyncio
import random
import uuid
from types import SimpleNamespace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from api import changelog, persons
from api.sync import cursor as cursors
from api.sync import jobs
from tests.auth.helpers import assert_problem, auth, sms_login
from tests.sync.helpers import apply, person_of, pull_all, wallet_write


def item(n: int, **more: Any) -> dict[str, Any]:
    return {"title": f"证照 {n}", "kind": "certificate", **more}


async def test_the_first_pull_is_a_reset_then_pages_carry_only_latest_states(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool
) -> None:
    token = mother["access_token"]
    me = person_of(token)
    ids = [uuid.uuid4() for _ in range(7)]
    for n, i in enumerate(ids):
        await wallet_write(pool, me, i, item(n))
    await wallet_write(pool, me, ids[0], item(0, status="revoked"))
    await wallet_write(pool, me, ids[1], None)

    changes, last, pages = await pull_all(client, token, limit=3)
    assert [p["reset"] for p in pages] == [True, False, False]
    assert [c["version"] for c in changes] == sorted({c["version"] for c in changes})  # strictly increasing
    state = apply({}, changes)
    assert set(state) == {("wallet_item", str(i)) for i in ids if i != ids[1]}
    assert state[("wallet_item", str(ids[0]))]["status"] == "revoked"
    # The first page of a reset has no deletions (the client holds nothing yet); later pages carry
    # those made after the reset began, since the client may hold what they delete.
    assert [[c["op"] for c in p["changes"]] for p in pages] == [["put"] * 3, ["put"] * 3, ["del"]]

    # Incremental: the latest entry of each changed record, deletions included.
    await wallet_write(pool, me, ids[2], item(2, status="suspended"))
    await wallet_write(pool, me, ids[2], item(2, status="valid"))
    await wallet_write(pool, me, ids[3], None)
    more, _, pages = await pull_all(client, token, last)
    assert pages[0]["reset"] is False
    assert [(c["id"], c["op"]) for c in more] == [(str(ids[2]), "put"), (str(ids[3]), "del")]
    assert "data" not in more[1] and more[0]["data"]["status"] == "valid"


async def test_an_unchanged_state_answers_304(client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool) -> None:
    token = mother["access_token"]
    me = person_of(token)
    await wallet_write(pool, me, uuid.uuid4(), item(1))
    r = await client.get("/v1/sync/pull", headers=auth(token))
    page, etag = r.json(), r.headers["etag"]
    assert r.headers["cache-control"] == "private, no-cache"
    again = await client.get("/v1/sync/pull", params={"cursor": page["cursor"]}, headers=auth(token) | {"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
    await wallet_write(pool, me, uuid.uuid4(), item(2))
    changed = await client.get("/v1/sync/pull", params={"cursor": page["cursor"]}, headers=auth(token) | {"If-None-Match": etag})
    assert changed.status_code == 200 and len(changed.json()["changes"]) == 1


async def test_a_cursor_from_elsewhere_resets_and_a_forged_one_is_refused(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    me = person_of(token)
    await wallet_write(pool, me, uuid.uuid4(), item(1))
    _, last, _ = await pull_all(client, token)
    keyring = client.app.state.keyring
    epoch = await conn.fetchval("SELECT epoch FROM sync_epoch")

    # Another server epoch (say, a restored backup after `UPDATE sync_epoch SET epoch = gen_random_uuid()`).
    foreign = cursors.encode(keyring, cursors.SyncCursor(uuid.uuid4(), me, {me: 1}))
    _, _, pages = await pull_all(client, token, foreign)
    assert pages[0]["reset"] and len(pages[0]["changes"]) == 1
    # Another person's cursor, correctly signed: a reset to the caller's own state, nothing of theirs.
    theirs = cursors.encode(keyring, cursors.SyncCursor(epoch, uuid.uuid4(), {me: 1}))
    assert (await pull_all(client, token, theirs))[2][0]["reset"]
    # Edited bytes under this epoch: 400, whatever they claim.
    raw = cursors.parse(keyring, last)
    forged = cursors.encode(client.app.state.keyring, raw.cursor)[:-4] + "AAAA"
    r = await client.get("/v1/sync/pull", params={"cursor": forged}, headers=auth(token))
    assert_problem(r, 400, "cursor_invalid")
    assert_problem(await client.get("/v1/sync/pull", params={"cursor": "%%%"}, headers=auth(token)), 400, "cursor_invalid")
    assert_problem(await client.get("/v1/sync/pull", params={"limit": 501}, headers=auth(token)), 422, "validation_failed")
    assert_problem(await client.get("/v1/sync/pull"), 401, "unauthorized")


async def test_a_cursor_older_than_the_tombstone_horizon_resets(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    me = person_of(token)
    keep, gone = uuid.uuid4(), uuid.uuid4()
    await wallet_write(pool, me, keep, item(1))
    await wallet_write(pool, me, gone, item(2))
    _, before_delete, _ = await pull_all(client, token)
    await wallet_write(pool, me, gone, None)
    await wallet_write(pool, me, keep, item(1, status="revoked"))
    _, after_delete, _ = await pull_all(client, token, before_delete)

    # Forty days later the compaction job drops the deletion and the history it replaced.
    now = datetime.now(UTC) + timedelta(days=40)
    removed = await jobs.compact(SimpleNamespace(pool=pool), now=now)
    assert removed == {"superseded": 2, "tombstones": 1, "ledger": 0}
    assert await conn.fetchval("SELECT version FROM sync_horizon WHERE person_id = $1", me) == 3
    assert await conn.fetch("SELECT entity_id, version FROM sync_change ORDER BY version") == [(keep, 4)]

    # The old cursor could have missed the deletion: reset, to the same state as everyone else.
    changes, _, pages = await pull_all(client, token, before_delete)
    assert pages[0]["reset"] and apply({}, changes) == {("wallet_item", str(keep)): item(1, status="revoked")}
    # A cursor past the deletion goes on as before.
    changes, _, pages = await pull_all(client, token, after_delete)
    assert not pages[0]["reset"] and changes == []


async def test_a_login_without_identity_mirrors_nothing(client: AsyncTestClient) -> None:
    token = (await sms_login(client, "13811119999"))["access_token"]
    r = await client.get("/v1/sync/pull", headers=auth(token))
    page = r.json()
    assert page["changes"] == [] and page["reset"] and not page["has_more"]
    again = await client.get("/v1/sync/pull", params={"cursor": page["cursor"]}, headers=auth(token) | {"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


async def newborn(conn: asyncpg.Connection, keyring: Any, guardian: uuid.UUID, *, name: str = "李小宝") -> uuid.UUID:
    async with conn.transaction():
        child = await persons.create_newborn(conn, keyring, name=name, born_on=date(2026, 1, 2), sex="F", now=datetime.now(UTC))
        await persons.add_guardian(conn, guardian, child, source="birth_bundle", now=datetime.now(UTC) - timedelta(seconds=1))
    return child


async def test_guardians_see_dependents_until_the_guardianship_ends(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    me = person_of(token)
    keyring = client.app.state.keyring
    mine, shared = uuid.uuid4(), uuid.uuid4()
    await wallet_write(pool, me, mine, item(1))
    _, cursor, _ = await pull_all(client, token)

    # A child is born: its records join the mother's pulls, without a reset.
    child = await newborn(conn, keyring, me)
    birth_cert = uuid.uuid4()
    await wallet_write(pool, child, birth_cert, item(2, holder="child"))
    async with pool.acquire() as c, c.transaction():
        # An application the mother made for the child is logged for both of them.
        for p in (me, child):
            await changelog.record_change(c, p, "application", shared, "put", {"status": "submitted"})
        # A draft in the child's own log stays the child's.
        await changelog.record_change(c, child, "draft", uuid.uuid4(), "put", {"sealed_form": "x"})
    changes, cursor, pages = await pull_all(client, token, cursor)
    assert not pages[0]["reset"]
    state = apply({}, changes)
    assert set(state) == {("wallet_item", str(birth_cert)), ("application", str(shared))}

    # The guardianship ends: what the mother saw only through the child is deleted on her side.
    await conn.execute("UPDATE guardianship SET until = now() WHERE dependent_person_id = $1", child)
    changes, cursor, pages = await pull_all(client, token, cursor, limit=1)
    assert [(c["entity"], c["id"], c["op"]) for c in changes] == [("wallet_item", str(birth_cert), "del")]
    assert await pull_all(client, token, cursor) == ([], cursor, [{"changes": [], "cursor": cursor, "has_more": False, "reset": False}])


async def test_deletions_for_a_lost_dependent_page_like_everything_else(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    me = person_of(token)
    child = await newborn(conn, client.app.state.keyring, me)
    items = [uuid.uuid4() for _ in range(5)]
    for n, i in enumerate(items):
        await wallet_write(pool, child, i, item(n))
    device = apply({}, (await pull_all(client, token))[0])
    _, cursor, _ = await pull_all(client, token)
    assert len(device) == 5
    await conn.execute("UPDATE guardianship SET until = now() WHERE dependent_person_id = $1", child)
    await wallet_write(pool, me, uuid.uuid4(), item(9))
    changes, _, pages = await pull_all(client, token, cursor, limit=2)
    assert [len(p["changes"]) for p in pages] == [2, 2, 2]
    assert [c["op"] for c in changes] == ["del"] * 5 + ["put"]
    apply(device, changes)
    assert [entity for entity, _ in device] == ["wallet_item"]


async def test_concurrent_writers_and_a_paging_reader(client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool) -> None:
    """The union of the pages read while writers commit is the final state; versions only go up."""
    token = mother["access_token"]
    me = person_of(token)
    writers, writes_each = 6, 25
    rng = random.Random(11)
    final: dict[str, Any] = {}
    done = asyncio.Event()

    async def writer(w: int) -> None:
        own = [uuid.uuid4() for _ in range(5)]  # each writer has its own records: its last write is their final state
        for n in range(writes_each):
            target = rng.choice(own)
            data = None if rng.random() < 0.2 else {"w": w, "n": n}
            async with pool.acquire() as c, c.transaction():
                await changelog.record_change(c, me, "wallet_item", target, "put" if data else "del", data)
                await asyncio.sleep(rng.random() / 400)  # commits interleave with the reader's pages
            if data is None:
                final.pop(str(target), None)
            else:
                final[str(target)] = data

    device: dict[tuple[str, str], Any] = {}
    seen: list[int] = []

    async def reader() -> None:
        cursor = None
        while True:
            r = await client.get("/v1/sync/pull", params={"limit": 7} | ({"cursor": cursor} if cursor else {}), headers=auth(token))
            page = r.json()
            if page["reset"]:
                device.clear()
            apply(device, page["changes"])
            seen.extend(c["version"] for c in page["changes"])
            cursor = page["cursor"]
            if not page["has_more"] and done.is_set():
                return
            if not page["changes"]:
                await asyncio.sleep(0.002)

    read = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    await read
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert {i: d for (_, i), d in device.items()} == final
