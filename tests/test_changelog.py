"""The change log never lets a paging reader skip a version, however writers interleave."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
import msgspec
import pytest

from api.kernel import changelog


async def test_versions_count_up_per_person(conn: asyncpg.Connection) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with conn.transaction():
        assert await changelog.record_change(conn, alice, "draft", uuid.uuid4(), "put", {"n": 1}) == 1
        assert await changelog.record_change(conn, alice, "draft", uuid.uuid4(), "del") == 2
        assert await changelog.record_change(conn, bob, "consent", uuid.uuid4(), "put", {"n": 1}) == 1
    changes = await changelog.list_changes(conn, alice, 0, 10)
    assert [(c.version, c.op, c.data) for c in changes] == [(1, "put", {"n": 1}), (2, "del", None)]
    assert await changelog.head_version(conn, alice) == 2


async def test_outside_a_transaction_is_refused(conn: asyncpg.Connection) -> None:
    with pytest.raises(RuntimeError):
        await changelog.record_change(conn, uuid.uuid4(), "draft", uuid.uuid4(), "put", {})


async def test_a_rolled_back_write_leaves_no_hole(conn: asyncpg.Connection) -> None:
    person = uuid.uuid4()
    with pytest.raises(ZeroDivisionError):
        async with conn.transaction():
            await changelog.record_change(conn, person, "draft", uuid.uuid4(), "put", {})
            1 / 0  # noqa: B018 - the business write fails after the change was recorded
    async with conn.transaction():
        assert await changelog.record_change(conn, person, "draft", uuid.uuid4(), "put", {}) == 1


async def test_concurrent_writers_and_a_paging_reader_never_skip(pool: asyncpg.Pool) -> None:
    person = uuid.uuid4()
    writers, writes_each = 8, 40
    rng = random.Random(7)
    done = asyncio.Event()

    async def writer(w: int) -> None:
        for i in range(writes_each):
            async with pool.acquire() as c, c.transaction():
                await changelog.record_change(c, person, "draft", uuid.uuid4(), "put", {"w": w, "i": i})
                # Hold the transaction open a moment so commits interleave with the reader.
                await asyncio.sleep(rng.random() / 500)

    seen: list[int] = []

    async def reader() -> None:
        cursor = 0
        async with pool.acquire() as c:
            while True:
                page = await changelog.list_changes(c, person, cursor, 7)
                versions = [ch.version for ch in page]
                assert versions == sorted(versions) and len(set(versions)) == len(versions)
                if versions:
                    # Every version below the page's first one was already read: nothing was skipped.
                    assert versions[0] == cursor + 1, (cursor, versions)
                    seen.extend(versions)
                    cursor = versions[-1]
                elif done.is_set():
                    return
                else:
                    await asyncio.sleep(0.001)

    read_task = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    await read_task
    assert seen == list(range(1, writers * writes_each + 1))


async def test_bulk_reservation_continues_each_person_s_versions(conn: asyncpg.Connection) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with conn.transaction():
        await changelog.record_change(conn, alice, "draft", uuid.uuid4(), "put", {})
        versions, heads = await changelog.reserve_versions(conn, [bob, alice, bob, alice, alice])
    assert versions == [1, 2, 2, 3, 4]
    assert heads == {alice: 4, bob: 2}
    with pytest.raises(RuntimeError):
        await changelog.reserve_versions(conn, [alice])


async def test_bulk_puts_read_back_like_single_ones(conn: asyncpg.Connection) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    items = [uuid.uuid4() for _ in range(3)]
    async with conn.transaction():
        await changelog.record_change(conn, alice, "draft", uuid.uuid4(), "del")
        heads = await changelog.record_puts(
            conn,
            [
                (alice, "wallet_item", items[0], {"n": 0}),
                (bob, "notification", items[1], msgspec.Raw(b'{"n":1}')),
                (alice, "wallet_item", items[2], {"n": 2}),
            ],
        )
    assert heads == {alice: 3, bob: 1}
    assert [(c.version, c.entity_id, c.data) for c in await changelog.list_changes(conn, alice, 1, 10)] == [
        (2, items[0], {"n": 0}),
        (3, items[2], {"n": 2}),
    ]
    assert [(c.entity, c.data) for c in await changelog.list_changes(conn, bob, 0, 10)] == [("notification", {"n": 1})]


async def test_writers_for_one_family_never_deadlock(pool: asyncpg.Pool) -> None:
    """A department's decision mirrors the application to both people of a family while the inbox writer
    records notices for both: they take the heads in one order, so both commit (no deadlock error)."""
    low, high = sorted((uuid.uuid4(), uuid.uuid4()))
    while next(iter({low, high})) != high:  # a pair a plain set walks high-first: the order that deadlocked
        low, high = sorted((uuid.uuid4(), uuid.uuid4()))
    inbox_holds_low = asyncio.Event()

    async def inbox_writer() -> None:
        async with pool.acquire() as c, c.transaction():
            await changelog.record_puts(c, [(low, "notification", uuid.uuid4(), {})])
            inbox_holds_low.set()
            other = await decision_pid
            while not await c.fetchval(  # the decision waits on a head lock: now take the second head
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", other
            ):
                await asyncio.sleep(0.01)
            await changelog.record_puts(c, [(high, "notification", uuid.uuid4(), {})])

    decision_pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def decision() -> None:
        async with pool.acquire() as c:
            decision_pid.set_result(await c.fetchval("SELECT pg_backend_pid()"))
            await inbox_holds_low.wait()
            async with c.transaction():
                await changelog.record_change_each(c, {low, high}, "application", uuid.uuid4(), "put", {})

    await asyncio.wait_for(asyncio.gather(inbox_writer(), decision()), 30)
    async with pool.acquire() as c:
        assert await changelog.head_version(c, low) == 2 and await changelog.head_version(c, high) == 2
