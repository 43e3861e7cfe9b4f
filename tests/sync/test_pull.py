"""Pull over HTTP: pages, resets, ETags, the tombstone horizon, dependents coming and going."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from api.kernel import changelog
from auth import persons
from sync import cursor as cursors
from sync import jobs
from tests.auth.helpers import assert_problem, auth, sms_login
from tests.sync.helpers import apply, mutation, person_of, pull_all, push, pushed, save, wallet_write


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


async def test_an_unchanged_state_answers_304(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool
) -> None:
    token = mother["access_token"]
    me = person_of(token)
    await wallet_write(pool, me, uuid.uuid4(), item(1))
    r = await client.get("/v1/sync/pull", headers=auth(token))
    page, etag = r.json(), r.headers["etag"]
    assert r.headers["cache-control"] == "private, no-cache"
    again = await client.get(
        "/v1/sync/pull", params={"cursor": page["cursor"]}, headers=auth(token) | {"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
    await wallet_write(pool, me, uuid.uuid4(), item(2))
    changed = await client.get(
        "/v1/sync/pull", params={"cursor": page["cursor"]}, headers=auth(token) | {"If-None-Match": etag}
    )
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
    assert_problem(
        await client.get("/v1/sync/pull", params={"cursor": "%%%"}, headers=auth(token)), 400, "cursor_invalid"
    )
    assert_problem(
        await client.get("/v1/sync/pull", params={"limit": 501}, headers=auth(token)), 422, "validation_failed"
    )
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
    again = await client.get(
        "/v1/sync/pull", params={"cursor": page["cursor"]}, headers=auth(token) | {"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304


async def newborn(conn: asyncpg.Connection, keyring: Any, guardian: uuid.UUID, *, name: str = "李小宝") -> uuid.UUID:
    async with conn.transaction():
        child = await persons.create_newborn(
            conn, keyring, name=name, born_on=date(2026, 1, 2), sex="F", now=datetime.now(UTC)
        )
        await persons.add_guardian(
            conn, guardian, child, source="birth_bundle", now=datetime.now(UTC) - timedelta(seconds=1)
        )
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
    assert await pull_all(client, token, cursor) == (
        [],
        cursor,
        [{"changes": [], "cursor": cursor, "has_more": False, "reset": False}],
    )


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


async def test_concurrent_writers_and_a_paging_reader(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool
) -> None:
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
            r = await client.get(
                "/v1/sync/pull", params={"limit": 7} | ({"cursor": cursor} if cursor else {}), headers=auth(token)
            )
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


async def _pages(
    client: AsyncTestClient, token: str, cursor: str | None, *, limit: int, etag: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Follow cursors until has_more is false, each request sending the ETag of the answer before it
    (a client that keeps its last tag); at most 20 pages. Returns the pages and the last tag."""
    pages: list[dict[str, Any]] = []
    for _ in range(20):
        headers = auth(token) | ({"If-None-Match": etag} if etag else {})
        r = await client.get(
            "/v1/sync/pull", params={"limit": limit} | ({"cursor": cursor} if cursor else {}), headers=headers
        )
        assert r.status_code == 200, (len(pages), r.status_code)  # never a 304 while the state is incomplete
        page, etag = r.json(), r.headers["etag"]
        pages.append(page)
        cursor = page["cursor"]
        if not page["has_more"]:
            return pages, etag
    raise AssertionError("the pull never completed")


async def test_a_reset_after_compaction_completes_page_by_page(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    me = person_of(token)
    ids = [uuid.uuid4() for _ in range(12)]
    for n, i in enumerate(ids[:10]):
        await wallet_write(pool, me, i, item(n))
    await wallet_write(pool, me, ids[9], None)  # version 11: its deletion will be compacted
    for n, i in enumerate(ids[10:], start=10):
        await wallet_write(pool, me, i, item(n))
    await wallet_write(pool, me, ids[0], item(0, status="revoked"))
    removed = await jobs.compact(SimpleNamespace(pool=pool), now=datetime.now(UTC) + timedelta(days=40))
    assert removed["tombstones"] == 1
    assert await conn.fetchval("SELECT version FROM sync_horizon WHERE person_id = $1", me) == 11
    expected = {("wallet_item", str(i)): item(n) for n, i in enumerate(ids) if n != 9} | {
        ("wallet_item", str(ids[0])): item(0, status="revoked")
    }

    # A new device (no cursor), three records a page: every page moves on, the first alone says reset.
    pages, etag = await _pages(client, token, None, limit=3)
    assert [p["reset"] for p in pages] == [True, False, False, False]
    assert len({p["cursor"] for p in pages}) == len(pages)
    changes = [c for p in pages for c in p["changes"]]
    assert [c["version"] for c in changes] == sorted({c["version"] for c in changes})
    assert apply({}, changes) == expected
    # Converged: polling with the last cursor and tag answers 304 until something changes.
    last = pages[-1]["cursor"]
    polled = await client.get(
        "/v1/sync/pull", params={"limit": 3, "cursor": last}, headers=auth(token) | {"If-None-Match": etag}
    )
    assert polled.status_code == 304
    await wallet_write(pool, me, ids[1], item(1, status="suspended"))
    more, _ = await _pages(client, token, last, limit=3, etag=etag)
    assert [(c["id"], c["data"]["status"]) for c in more[0]["changes"]] == [(str(ids[1]), "suspended")]
    assert more[0]["reset"] is False

    # A deletion compacted while a reset is under way may hide a record the device already holds:
    # that reset starts over, and the new one completes too.
    first = (await client.get("/v1/sync/pull", params={"limit": 3}, headers=auth(token))).json()
    await wallet_write(pool, me, uuid.UUID(first["changes"][0]["id"]), None)
    await jobs.compact(SimpleNamespace(pool=pool), now=datetime.now(UTC) + timedelta(days=80))
    pages, _ = await _pages(client, token, first["cursor"], limit=3)
    assert pages[0]["reset"] is True
    device = apply({}, [c for p in pages for c in p["changes"]])
    assert set(device) == set(expected) - {("wallet_item", first["changes"][0]["id"])}


async def test_a_client_that_pulled_an_empty_state_hears_of_deletions_of_what_it_pushed(
    client: AsyncTestClient, mother: dict[str, Any]
) -> None:
    """A new device pulls (nothing yet), saves a draft (the push answer carries it) and deletes it from
    another device: its next pull says the draft is gone, although its cursor stood at version 0."""
    token = mother["access_token"]
    phone, web, draft = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    changes, cursor, _ = await pull_all(client, token)
    assert changes == []
    saved = await pushed(client, token, phone, [save(1, draft, {"a": 1})])
    assert saved["results"][0]["data"]["id"] == draft  # the phone holds the draft now
    out = await pushed(client, token, web, [mutation(1, "draft.delete", {"draft_id": draft})])
    assert [x["status"] for x in out["results"]] == ["applied"]
    more, _, _ = await pull_all(client, token, cursor)
    assert [(c["entity"], c["id"], c["op"]) for c in more] == [("draft", draft, "del")]


async def test_pull_tells_a_client_its_last_seq(client: AsyncTestClient, mother: dict[str, Any]) -> None:
    """A push whose response was lost: the next pull says the mutations were processed."""
    token = mother["access_token"]
    device = str(uuid.uuid4())
    drafts = [str(uuid.uuid4()), str(uuid.uuid4())]
    r = await push(client, token, device, [save(1, drafts[0], {"a": 1}), save(2, drafts[1], {"a": 2})])
    assert r.status_code == 200  # the device never sees this answer

    page = (await client.get("/v1/sync/pull", params={"client_id": device}, headers=auth(token))).json()
    assert page["last_seq"] == 2
    assert {c["id"] for c in page["changes"] if c["entity"] == "draft"} == set(drafts)
    # Another device of the same login has processed nothing; without client_id there is no last_seq.
    other = (await client.get("/v1/sync/pull", params={"client_id": str(uuid.uuid4())}, headers=auth(token))).json()
    assert other["last_seq"] == 0
    assert "last_seq" not in (await client.get("/v1/sync/pull", headers=auth(token))).json()

    # A rejected mutation changes nothing the device mirrors, yet moves last_seq: no 304 hides it.
    r = await client.get("/v1/sync/pull", params={"client_id": device, "cursor": page["cursor"]}, headers=auth(token))
    etag = r.headers["etag"]
    assert r.json()["changes"] == [] and r.json()["last_seq"] == 2
    params = {"client_id": device, "cursor": r.json()["cursor"]}
    assert (
        await client.get("/v1/sync/pull", params=params, headers=auth(token) | {"If-None-Match": etag})
    ).status_code == 304
    out = await pushed(client, token, device, [mutation(3, "draft.delete", {"draft_id": str(uuid.uuid4())})])
    assert [x["status"] for x in out["results"]] == ["rejected"]
    r = await client.get("/v1/sync/pull", params=params, headers=auth(token) | {"If-None-Match": etag})
    assert r.status_code == 200 and r.json()["changes"] == [] and r.json()["last_seq"] == 3


def recompute(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """What a client computes over the copy it assembled, as the pull's description defines it: one line
    ``entity:id:version`` per record held (a record that came from several persons' logs with its highest
    version), sorted by bytes, each ending in a newline, SHA-256 in lower-case hex."""
    import hashlib

    held: dict[tuple[str, str], int] = {}
    for c in changes:
        key = (c["entity"], c["id"])
        if c["op"] == "put":
            held[key] = max(c["version"], held.get(key, 0))
        else:
            held.pop(key, None)
    lines = sorted(f"{e}:{i}:{v}\n".encode() for (e, i), v in held.items())
    return {"count": len(lines), "digest": hashlib.sha256(b"".join(lines)).hexdigest()}


async def test_a_resets_last_page_carries_the_checkpoint_of_what_the_pages_add_up_to(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    me = person_of(token)
    child = await newborn(conn, client.app.state.keyring, me)
    ids = [uuid.uuid4() for _ in range(8)]
    for n, i in enumerate(ids):
        await wallet_write(pool, me, i, item(n))
    await wallet_write(pool, me, ids[0], item(0, status="revoked"))
    await wallet_write(pool, me, ids[1], None)
    await wallet_write(pool, child, uuid.uuid4(), item(20, holder="child"))
    shared = uuid.uuid4()
    async with pool.acquire() as c, c.transaction():
        for p in (child, me, child):  # logged for both, the child's log running ahead
            await changelog.record_change(c, p, "application", shared, "put", {"status": "submitted"})
    await pushed(
        client,
        token,
        str(uuid.uuid4()),
        [mutation(1, "draft.save", {"draft_id": str(uuid.uuid4()), "matter_code": "430200-YB-003", "form": {}})],
    )

    changes, cursor, pages = await pull_all(client, token, limit=3)
    assert len(pages) >= 4 and pages[0]["reset"]
    # Only the last page of the reset carries it, and it is what the client assembled.
    assert [("checkpoint" in p) for p in pages] == [False] * (len(pages) - 1) + [True]
    check = pages[-1]["checkpoint"]
    assert check == recompute(changes) and check["count"] == 7 + 1 + 1 + 1  # items, child's item, application, draft
    # A client that lost a page in the middle would not match.
    missing = [c for c in changes if c not in pages[1]["changes"]]
    assert recompute(missing) != check

    # A write between two pages of a reset is in the checkpoint too.
    first = (await client.get("/v1/sync/pull", params={"limit": 4}, headers=auth(token))).json()
    await wallet_write(pool, me, ids[2], item(2, status="suspended"))
    rest, _, later = await pull_all(client, token, first["cursor"], limit=4)
    assert "checkpoint" not in first and not later[0]["reset"]
    assert later[-1]["checkpoint"] == recompute(first["changes"] + rest)
    assert later[-1]["checkpoint"] != check

    # Pulls that are not a reset carry none; a new reset carries one again.
    await wallet_write(pool, me, ids[3], None)
    after, _, plain = await pull_all(client, token, cursor)
    assert [c["op"] for c in after] == ["put", "del"] and all("checkpoint" not in p for p in plain)
    again, _, fresh = await pull_all(client, token)
    assert fresh[-1]["checkpoint"] == recompute(again) == recompute(changes + after)
