"""The dispatcher's plumbing: duplicate relays, poison messages, fair lanes, the status machine's guards."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from api.kernel import outbox
from auth import persons
from notify import catalogue, deliver, dispatch_store, jobs, plan, reconcile, service, streams, webhook_store
from notify.deliver import Deliverer, Done
from notify.models import NotificationRow
from notify.service import Outcome
from tests.auth.helpers import assert_problem, auth
from tests.notify.helpers import EVERY_NOTIFICATION, Pipeline, Receiver, deliveries
from tests.people import department_id, id_number


async def _hook(state: State, conn: asyncpg.Connection, dept: str, receiver: Receiver, events: list[str]) -> uuid.UUID:
    hook, secret = uuid.uuid4(), service.new_webhook_secret()
    await webhook_store.create_webhook(
        conn,
        state.keyring,
        webhook_id=hook,
        department_id=uuid.UUID(dept),
        url=receiver.url,
        events=events,
        secret=secret,
        actor="test",
        now=datetime.now(UTC),
    )
    receiver.secret = secret
    return hook


async def _issue(pool: asyncpg.Pool, dept: str, n: int, *, prefix: str = "c") -> None:
    """``n`` certificate.issued events of an organisation holder, as esign writes them."""
    async with pool.acquire() as c, c.transaction():
        for i in range(n):
            payload = {
                "certificate_id": str(uuid.uuid4()),
                "department_id": dept,
                "type_code": "T",
                "type_name": "营业执照",
                "licence_id": f"L{i}",
                "person_id": None,
                "application_id": None,
            }
            await outbox.enqueue(c, "certificate.issued", payload, dedup_key=f"{prefix}:{dept}:{i}", partition_key=dept)


async def test_a_duplicate_relay_shows_once(
    worker_state: State, pool: asyncpg.Pool, conn: asyncpg.Connection, pipeline: Pipeline, receiver: Receiver
) -> None:
    dept = await department_id(conn, "shichang")
    await _hook(worker_state, conn, dept, receiver, ["certificate.issued"])
    await _issue(pool, dept, 1)
    rows = await conn.fetch(
        "SELECT id, topic, dedup_key, partition_key, payload::json AS payload, created_at, attempts FROM outbox"
    )
    batch = [outbox.OutboxMessage(**dict(r)) for r in rows]
    publish = streams.publisher(worker_state.redis, topics=catalogue.TOPICS)
    # The relay published, then died before marking the rows: they are published again (and a third
    # time by the relay in drain).
    await publish(batch)
    await publish(batch)
    await pipeline.drain()
    assert len(receiver.verified()) == 1
    assert await conn.fetchval(f"SELECT count(*) FROM {EVERY_NOTIFICATION}") == 1
    assert await worker_state.redis.xlen(streams.EVENTS) == 3


async def test_two_expansions_of_one_event_at_once_make_one_row(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    dept = await department_id(conn, "shichang")

    def rows() -> list[NotificationRow]:
        return [
            NotificationRow(
                id=plan.next_id(),
                dedup_key=f"race:1#certificate.issued#department:{dept}",
                event="certificate.issued",
                kind="certificate.issued",
                person_id=None,
                account_id=None,
                department_id=uuid.UUID(dept),
                title="t",
                body="b",
                data={},
                urgent=False,
                lane=dept,
                created_at=datetime.now(UTC),
            )
        ]

    async with pool.acquire() as a, pool.acquire() as b:
        async with a.transaction():
            first = await dispatch_store.insert_notifications(a, rows())
            # The second finds no row yet (the first is not committed) and waits on its key.
            second = asyncio.create_task(_in_transaction(b, rows()))
            await asyncio.sleep(0.3)
            assert not second.done()
        assert len(first) == 1 and await second == set()
    assert await conn.fetchval(f"SELECT count(*) FROM {EVERY_NOTIFICATION} WHERE dedup_key LIKE 'race:1#%'") == 1


async def _in_transaction(conn: asyncpg.Connection, rows: list[NotificationRow]) -> set[uuid.UUID]:
    async with conn.transaction():
        return await dispatch_store.insert_notifications(conn, rows)


async def test_poison_events_go_to_the_dead_letters(
    worker_state: State, pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    redis = worker_state.redis
    stream = streams.EVENTS
    await redis.xadd(stream, {"junk": "1"})
    # A NUL character PostgreSQL cannot store: the insert fails every time.
    person = str(
        await persons.find_or_create_person(
            conn, worker_state.keyring, id_number=id_number(), name="张三", now=datetime.now(UTC)
        )
    )
    poison = {"event": "certificate.expiring", "person_id": person, "type_name": "居民身份证", "note": "a\u0000b"}
    await redis.xadd(stream, {"m": msgspec.json.encode([1, "notify", "poison", "", poison])})
    fine = {"event": "feedback.received", "department_id": None, "kind": "complaint"}
    await redis.xadd(stream, {"m": msgspec.json.encode([2, "notify", "fine", "", fine])})
    from notify.expand import Expander

    expander = Expander(worker_state)
    expander.idle_ms = 0  # take pending entries over at once instead of after the claim timeout
    assert await expander.step(block_ms=1) == 3
    dead = await redis.xrange(streams.DEAD)
    assert [d[1][b"reason"] for d in dead] == [b"not an outbox message"]
    # The poison event stays pending while the others went on; reading it again and again ends in the dead letters.
    pending = await redis.xpending(stream, streams.EVENT_GROUP)
    assert pending["pending"] == 1
    for _ in range(streams.MAX_READS):
        await expander.reclaim()
    dead = await redis.xrange(streams.DEAD)
    assert [d[1][b"reason"] for d in dead][-1] == b"read 5 times without being acknowledged"
    assert b'"poison"' in dead[-1][1][b"m"] and dead[-1][1][b"stream"] == stream.encode()
    assert (await redis.xpending(stream, streams.EVENT_GROUP))["pending"] == 0


async def test_a_bulk_send_of_one_department_does_not_hold_back_another(
    worker_state: State, pool: asyncpg.Pool, conn: asyncpg.Connection, pipeline: Pipeline, receiver: Receiver
) -> None:
    bulk, other = await department_id(conn, "shichang"), await department_id(conn, "gongan")
    await _hook(worker_state, conn, bulk, receiver, ["certificate.issued"])
    await _hook(worker_state, conn, other, receiver, ["certificate.issued"])
    await _issue(pool, bulk, 2000, prefix="bulk")
    await _issue(pool, other, 1, prefix="single")
    publish = streams.publisher(worker_state.redis, topics=catalogue.TOPICS)
    while await outbox.relay_once(pool, publish, limit=1000):
        pass
    while await pipeline.expander.step(block_ms=1):
        pass
    # The single message is in the very first round, next to at most READ_COUNT of the bulk.
    await pipeline.deliverer.step(block_ms=1)
    taken = await conn.fetch("SELECT lane, count(*) FROM notify_delivery WHERE status <> 'created' GROUP BY lane")
    first_round = min(deliver.PER_LANE, deliver.READ_COUNT * streams.ENTRY_SIZE)
    assert {r["lane"]: r["count"] for r in taken} == {bulk: first_round, other: 1}
    await pipeline.drain()
    assert len(receiver.received) == 2001


async def test_only_open_deliveries_move_and_late_answers_change_nothing(
    worker_state: State, pool: asyncpg.Pool, conn: asyncpg.Connection, pipeline: Pipeline, receiver: Receiver
) -> None:
    dept = await department_id(conn, "shichang")
    await _hook(worker_state, conn, dept, receiver, ["certificate.issued"])
    await _issue(pool, dept, 1)
    # Expand, and claim the delivery, but let its worker die before it reports anything.
    publish = streams.publisher(worker_state.redis, topics=catalogue.TOPICS)
    await outbox.relay_once(pool, publish)
    await pipeline.expander.step(block_ms=1)
    [row] = await deliveries(conn)
    t0 = datetime.now(UTC)
    async with pool.acquire() as c, c.transaction():
        [claimed] = await dispatch_store.claim(c, [row["id"]], now=t0, lease=timedelta(seconds=2))
    assert claimed["attempts"] == 1
    # A second claim while the lease runs finds nothing to do.
    async with pool.acquire() as c, c.transaction():
        assert (
            await dispatch_store.claim(c, [row["id"]], now=t0 + timedelta(seconds=1), lease=timedelta(seconds=2)) == []
        )
    # After the lease, the requeue job hands it on again and another attempt delivers it; the lost one is recorded.
    await pipeline.drain(now=t0 + timedelta(seconds=5))
    [row] = await deliveries(conn)
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    outcomes = [(a["attempt"], a["outcome"]) for a in await conn.fetch("SELECT * FROM notify_attempt ORDER BY attempt")]
    assert outcomes == [(1, "lost"), (2, "delivered")]
    # The first worker's answer arrives late: ignored, the status stays.
    late = Deliverer(worker_state)
    job = _job(row, attempt=1)
    late.done.put_nowait(Done(job, Outcome("permanent-failure", "http 410"), t0))
    late.inflight[job.lane] += 1
    await late.record_waiting()
    assert (await deliveries(conn))[0]["status"] == "delivered"
    await late.senders.aclose()


async def test_the_sweep_ends_what_is_stuck_in_sending(
    worker_state: State, pool: asyncpg.Pool, conn: asyncpg.Connection, pipeline: Pipeline, receiver: Receiver
) -> None:
    dept = await department_id(conn, "shichang")
    await _hook(worker_state, conn, dept, receiver, ["certificate.issued"])
    await _issue(pool, dept, 1)
    receiver.status = [503]
    t0 = datetime.now(UTC)
    await pipeline.drain(now=t0)
    [row] = await deliveries(conn)
    assert row["status"] == "sending"
    assert await jobs.sweep(worker_state, now=t0 + timedelta(hours=23)) == 0
    assert await jobs.sweep(worker_state, now=t0 + timedelta(hours=25)) == 1
    [row] = await deliveries(conn)
    assert (row["status"], row["reason"]) == ("temporary-failure", "no outcome within the time limit")
    # Final: the requeue job leaves it alone.
    await pipeline.drain(now=t0 + timedelta(days=2))
    assert len(receiver.received) == 1


def _job(row: Any, *, attempt: int) -> Any:
    from notify.channels import Job

    return Job(
        id=row["id"],
        channel=row["channel"],
        target=row["target"],
        lane=row["lane"],
        attempt=attempt,
        content=None,
        notification_id=row["notification_id"],
        kind=row["kind"],
        data=msgspec.Raw(b"{}"),
        created_at=row["created_at"],
        entry=("zb:{notify}:out:x", "0-1"),
        started_at=row["created_at"],
    )


async def test_the_relay_leaves_other_topics_as_the_outbox_writes_them(worker_state: State, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as c, c.transaction():
        await outbox.enqueue(c, "ledger.closed", {"day": "2025-03-10"}, dedup_key="ledger:1")
        await outbox.enqueue(
            c, "notify", {"event": "feedback.received", "department_id": None, "kind": "complaint"}, dedup_key="fb:1"
        )
    publish = streams.publisher(worker_state.redis, topics=catalogue.TOPICS)
    assert await outbox.relay_once(pool, publish) == 2
    [(_, other)] = await worker_state.redis.xrange("zb:events:ledger.closed")
    assert other[b"dedup_key"] == b"ledger:1" and msgspec.json.decode(other[b"payload"]) == {"day": "2025-03-10"}
    [(_, ours)] = await worker_state.redis.xrange(streams.EVENTS)
    assert streams.decode_event(("", "", ours)).dedup_key == "fb:1"


async def test_the_sweep_forgets_consumers_of_workers_long_gone(
    worker_state: State, pool: asyncpg.Pool, pipeline: Pipeline
) -> None:
    async with pool.acquire() as c, c.transaction():
        await outbox.enqueue(
            c, "notify", {"event": "feedback.received", "department_id": None, "kind": "complaint"}, dedup_key="fb:1"
        )
    await pipeline.drain()  # the expander read it: it is a consumer of the group now
    redis = worker_state.redis
    assert len(await redis.xinfo_consumers(streams.EVENTS, streams.EVENT_GROUP)) == 1
    assert await streams.forget_idle_consumers(redis, streams.EVENTS, streams.EVENT_GROUP, idle_ms=10**9) == 0
    await asyncio.sleep(0.05)
    assert await streams.forget_idle_consumers(redis, streams.EVENTS, streams.EVENT_GROUP, idle_ms=10) == 1
    assert await jobs.sweep(worker_state) == 0


async def test_events_redis_lost_are_published_again(
    worker_state: State, pool: asyncpg.Pool, conn: asyncpg.Connection, pipeline: Pipeline, receiver: Receiver
) -> None:
    dept = await department_id(conn, "shichang")
    await _hook(worker_state, conn, dept, receiver, ["certificate.issued"])
    await _issue(pool, dept, 3)
    await outbox.relay_once(pool, streams.publisher(worker_state.redis, topics=catalogue.TOPICS))
    await worker_state.redis.flushdb()  # Redis restarted without its data: the stream is gone
    await pipeline.drain()
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    assert await conn.fetchval(f"SELECT count(*) FROM {EVERY_NOTIFICATION}") == 0
    # Too early to call them lost (they might be in a worker's hands)...
    assert await reconcile.reconcile(worker_state) == 0
    # ...but a while later they are published again, and the expansion makes them, once.
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert await reconcile.reconcile(worker_state, now=later) == 3
    await pipeline.drain()
    assert await conn.fetchval(f"SELECT count(*) FROM {EVERY_NOTIFICATION}") == 3
    assert len(receiver.verified()) == 3
    # Everything consumed: the mark moves past them and forgets what it no longer needs.
    assert await reconcile.reconcile(worker_state, now=later) == 0
    assert await conn.fetchval("SELECT outbox_id FROM notify_reconcile_mark") == await conn.fetchval(
        "SELECT max(id) FROM outbox"
    )
    assert await conn.fetchval("SELECT count(*) FROM notify_event") == 0


async def test_consumed_outbox_rows_go_after_the_retention(
    worker_state: State, pool: asyncpg.Pool, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    dept = await department_id(conn, "shichang")
    await _issue(pool, dept, 3)
    await pipeline.drain()
    await _issue(pool, dept, 2, prefix="late")  # written after the mark moved: not consumed as far as it knows
    later = datetime.now(UTC) + timedelta(minutes=2)
    await reconcile.reconcile(worker_state, now=later)
    mark = await conn.fetchval("SELECT outbox_id FROM notify_reconcile_mark")
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE id <= $1", mark) == 3
    # Within the retention nothing goes; past it, the consumed rows behind the mark do.
    assert await reconcile.prune(worker_state, now=later) == 0
    past = datetime.now(UTC) + timedelta(days=worker_state.settings.outbox_retention_days, minutes=1)
    assert await reconcile.prune(worker_state, now=past) == 3
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 2
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE id <= $1", mark) == 0


async def test_operators_retry_and_discard_dead_letters(
    worker_state: State,
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    pipeline: Pipeline,
    client: AsyncTestClient,
    op: str,
    clerk: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from notify.expand import Expander

    redis = worker_state.redis
    await pipeline.drain()  # the alert of the window clerk's own proof goes out before planning breaks
    await redis.xadd(streams.EVENTS, {"junk": "1"})
    person = str(
        await persons.find_or_create_person(
            conn, worker_state.keyring, id_number=id_number(), name="张三", now=datetime.now(UTC)
        )
    )
    async with pool.acquire() as c, c.transaction():
        await outbox.enqueue(
            c,
            "notify",
            {"event": "certificate.expiring", "person_id": person, "type_name": "居民身份证"},
            dedup_key="expiring:1",
        )
    await outbox.relay_once(pool, streams.publisher(redis, topics=catalogue.TOPICS))

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug in planning")

    # Planning breaks for a while: the event is read again and again and ends in the dead letters.
    monkeypatch.setattr(plan, "plan", broken)
    expander = Expander(worker_state)
    expander.idle_ms = 0
    await expander.step(block_ms=1)
    for _ in range(streams.MAX_READS):
        await expander.reclaim()
    monkeypatch.undo()

    r = await client.get("/v1/admin/notifications/dead-letters", params={"limit": 1}, headers=auth(op))
    assert r.status_code == 200, r.text
    [newest] = r.json()["items"]
    assert newest["stream"] == streams.EVENTS and newest["reason"] == "read 5 times without being acknowledged"
    assert "certificate.expiring" in newest["fields"]["m"]
    r = await client.get(
        "/v1/admin/notifications/dead-letters", params={"cursor": r.json()["next_cursor"]}, headers=auth(op)
    )
    [junk] = r.json()["items"]
    assert (junk["reason"], junk["fields"]) == ("not an outbox message", {"junk": "1"})
    assert r.json()["next_cursor"] is None
    assert_problem(await client.get("/v1/admin/notifications/dead-letters", headers=auth(clerk)), 403, "forbidden")

    # The cause fixed, the operator puts the event back; the workers make its notification, once.
    assert await conn.fetchval(f"SELECT count(*) FROM {EVERY_NOTIFICATION} WHERE event = 'certificate.expiring'") == 0
    r = await client.post(f"/v1/admin/notifications/dead-letters/{newest['id']}/retry", headers=auth(op))
    assert r.status_code == 200, r.text
    assert r.json()["stream"] == streams.EVENTS
    await pipeline.drain()
    assert await conn.fetchval(f"SELECT count(*) FROM {EVERY_NOTIFICATION} WHERE event = 'certificate.expiring'") == 1
    assert_problem(
        await client.post(f"/v1/admin/notifications/dead-letters/{newest['id']}/retry", headers=auth(op)),
        404,
        "dead_letter_not_found",
    )

    r = await client.delete(f"/v1/admin/notifications/dead-letters/{junk['id']}", headers=auth(op))
    assert r.status_code == 204, r.text
    assert (await client.get("/v1/admin/notifications/dead-letters", headers=auth(op))).json()["items"] == []
    assert await redis.xlen(streams.DEAD) == 0
    for bad in ("1-1", "not-an-id", "18446744073709551616-0"):
        assert_problem(
            await client.delete(f"/v1/admin/notifications/dead-letters/{bad}", headers=auth(op)),
            404,
            "dead_letter_not_found",
        )
    actions = [
        r["action"]
        for r in await conn.fetch("SELECT action FROM audit_log WHERE action LIKE 'notify.dead%' ORDER BY seq")
    ]
    assert actions == ["notify.dead_letter_retried", "notify.dead_letter_discarded"]
