"""Crash tests: SIGKILL real ``zhangban serve`` and ``zhangban worker`` processes in the middle of work.

Two servers (or two workers) run against one test database; each is killed once every round and
started again, while its client sends the same request again until it is answered, as a phone or a
department system would (same external_ref, same application id, same mutation ids). The kill
points cover the life of a request (after its answer, before it is read, while it is handled,
around its commit; the two processes at interleaved moments: ``crash_rounds``), so each phase is hit
by design, not by luck. Afterwards the database must hold everything once: nothing lost, nothing twice.
``ZB_FAULT_ROUNDS`` (default 5) sets the rounds per process; four scenarios of two processes
make 40 crashes (more rounds only hit the same phases again). Besides, a worker is killed twice
in the middle of a 6,000-item batch.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from api.config import Settings
from api.kernel import audit
from esign.batch import jobs as batches
from tests.auth.helpers import auth
from tests.faults import procs
from tests.faults.procs import Proc, Tally, crash_rounds, environment, retrying
from tests.notify.helpers import running_receiver
from tests.people import citizen, id_number, staff

ROUNDS = int(os.environ.get("ZB_FAULT_ROUNDS", "5"))
SLOTS = 2
BATCH = 5
MUTATIONS = 4
NS = uuid.UUID("6f2b0d1e-6c55-4f0e-9d8a-2b1d6a7c0e11")


@pytest.fixture(autouse=True)
def once(request: pytest.FixtureRequest) -> None:
    if request.node.nodeid in procs.RAN_ON_CLUSTER:
        pytest.skip("passed on the Citus cluster in this run (tests/cluster/test_citus.py)")


@pytest.fixture
async def spawn(settings: Settings) -> AsyncIterator[Callable[..., Proc]]:
    made: list[Proc] = []

    def make(command: str, **extra: str) -> Proc:
        proc = Proc(command, environment(settings, **extra))
        proc.start()
        made.append(proc)
        return proc

    yield make
    for proc in made:
        proc.kill9()
        proc.log.unlink(missing_ok=True)


def _report(what: str, tallies: list[Tally], started: float) -> None:
    crashes = sum(t.crashes for t in tallies)
    print(
        f"faults/{what}: {crashes} SIGKILLs ({sum(t.in_flight for t in tallies)} with a request in flight) "
        f"in {time.monotonic() - started:.0f} s"
    )


def household(id_no: str, ref: str) -> dict[str, Any]:
    return {
        "type_code": "household_register",
        "holder": {"id_number": id_no, "name": "周建国"},
        "fields": {
            "household_head": "周建国",
            "relation": "户主",
            "address": "株洲市荷塘区1号",
            "registered_on": "2020-01-02",
        },
        "external_ref": ref,
    }


async def test_batch_issuance_survives_kills(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, spawn: Callable[..., Proc], worker: State
) -> None:
    issuer = await staff(client, op, conn, "gongan", ["issuer", "dept_admin"])
    r = await client.post("/v1/dept/seals", json={"name": "电子证照专用章"}, headers=auth(issuer))
    assert r.status_code == 201, r.text
    started = time.monotonic()

    async def slot(k: int, proc: Proc) -> Tally:
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:

            async def work(r: int) -> None:
                items = [
                    household(id_number(f"19{70 + k}0101", r * BATCH + i), f"fault-{k}-{r}-{i}") for i in range(BATCH)
                ]
                key = {"Idempotency-Key": f"fault-{k}-{r}"}
                resp = await retrying(
                    lambda: http.post("/v1/dept/certificates:batch", json={"items": items}, headers=auth(issuer) | key)
                )
                assert resp.status_code == 202, resp.text
                queued.add(resp.json()["id"])

            return await crash_rounds(proc, ROUNDS, work, seed=100 + k)

    queued: set[str] = set()
    # Serving on its own: a worker (here, the test) issues the batches queued.
    tallies = await asyncio.gather(*(slot(k, spawn("serve", ZB_RUN_JOBS="false")) for k in range(SLOTS)))
    _report("batch issuance", tallies, started)
    await batches.drain(worker)
    # The retries of a killed request were the same batch (Idempotency-Key): one per round, each done.
    assert len(queued) == SLOTS * ROUNDS
    states = await conn.fetch("SELECT state, issued, existing, failed FROM esign_certificate_batch")
    assert len(states) == len(queued) and {tuple(r) for r in states} == {("done", BATCH, 0, 0)}

    expected = SLOTS * ROUNDS * BATCH
    rows = await conn.fetch(
        "SELECT id, person_id, status_list_id, status_index FROM esign_certificate WHERE external_ref LIKE 'fault-%'"
    )
    assert len(rows) == expected
    assert len({(r["status_list_id"], r["status_index"]) for r in rows}) == expected  # slots unique
    assert len({r["person_id"] for r in rows}) == expected  # one person per holder
    ids = [r["id"] for r in rows]
    assert await conn.fetchval("SELECT count(*) FROM wallet_item WHERE certificate_id = ANY($1)", ids) == expected
    assert await conn.fetchval("SELECT count(*) FROM esign_certificate WHERE status = 'pending'") == 0
    assert (await audit.verify(conn)).ok  # the hash chain survived every kill


async def test_a_worker_killed_mid_batch_is_followed_by_one_that_issues_each_item_once(
    client: AsyncTestClient,
    op: str,
    conn: asyncpg.Connection,
    spawn: Callable[..., Proc],
) -> None:
    issuer = await staff(client, op, conn, "gongan", ["issuer", "dept_admin"])
    assert (
        await client.post("/v1/dept/seals", json={"name": "电子证照专用章"}, headers=auth(issuer))
    ).status_code == 201
    total = 6000
    items = [household(id_number("19750505", i), f"killed-{i}") for i in range(total)]
    r = await client.post("/v1/dept/certificates:batch", json={"items": items}, headers=auth(issuer))
    assert r.status_code == 202, r.text
    batch_id = uuid.UUID(r.json()["id"])

    async def processed() -> tuple[str, int]:
        row = await conn.fetchrow(
            "SELECT state, issued + existing + failed AS n FROM esign_certificate_batch WHERE id = $1", batch_id
        )
        return row["state"], row["n"]

    async def until(done: Callable[[str, int], bool], timeout: float = 120) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        while not done(*(now := await processed())):
            assert time.monotonic() < deadline, f"the batch stood at {now}"
            await asyncio.sleep(0.01)
        return now

    # A worker whose lease on the batch runs out a second after it stops renewing it (killed).
    worker = spawn("worker", ZB_BATCH_LEASE_SECONDS="1")
    kills = []
    for at in (1000, 3000):  # killed twice, mid-batch, each time with chunks written and chunks to go
        state, n = await until(lambda state, n, at=at: n >= at)
        assert state == "running" and n < total, (state, n)
        assert worker.kill9()
        kills.append(n)
        worker.start()
    await until(lambda state, n: state == "done")
    print(f"faults/batch worker: killed at {kills} of {total} items, taken up again each time")

    row = await conn.fetchrow(
        "SELECT state, issued, existing, failed, attempts FROM esign_certificate_batch WHERE id = $1", batch_id
    )
    assert tuple(row) == ("done", total, 0, 0, 3)  # every item issued once, and reported as issued
    certificates = await conn.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT external_ref) AS refs FROM esign_certificate "
        "WHERE external_ref LIKE 'killed-%'"
    )
    assert tuple(certificates) == (total, total)
    results = await conn.fetch(
        "SELECT r.status, r.certificate_id, c.external_ref FROM esign_certificate_batch_result r "
        "LEFT JOIN esign_certificate c ON c.id = r.certificate_id WHERE r.batch_id = $1 ORDER BY index",
        batch_id,
    )
    assert [(x["status"], x["external_ref"]) for x in results] == [("issued", f"killed-{i}") for i in range(total)]
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM wallet_item w "
            "JOIN esign_certificate c ON c.person_id = w.person_id AND c.id = w.certificate_id "
            "WHERE c.external_ref LIKE 'killed-%'"
        )
        == total
    )
    assert (
        await conn.fetchval("SELECT count(*) FROM outbox WHERE payload::json->>'event' = 'certificate_batch.finished'")
        == 1
    )
    assert (await audit.verify(conn)).ok


async def test_application_submission_survives_kills(
    client: AsyncTestClient, clerk: str, conn: asyncpg.Connection, spawn: Callable[..., Proc]
) -> None:
    bundle = (await client.get("/v1/bundles/retirement")).json()
    started = time.monotonic()

    async def slot(k: int, proc: Proc) -> Tally:
        me = id_number("19650301", 10 + k)
        token = (await citizen(client, clerk, name="申请人", id_number=me))["access_token"]
        form = {
            f["key"]: me
            if f["key"].endswith("id_number")
            else {"date": "2026-11-01", "integer": 2}.get(f["type"], "测试")
            for f in bundle["form"]
        }
        materials = [
            {"code": m["code"], "blob_sha256": "ef" * 32}
            for m in bundle["materials"]
            if not m["held_by_department"] and not m["produced_by_matter"]
        ]
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:

            async def work(r: int) -> None:
                body = {
                    "id": str(uuid.uuid5(NS, f"app-{k}-{r}")),
                    "bundle_code": "retirement",
                    "form": form,
                    "materials": materials,
                }
                resp = await retrying(lambda: http.post("/v1/applications", json=body, headers=auth(token)))
                assert resp.status_code in (200, 201), resp.text

            return await crash_rounds(proc, ROUNDS, work, seed=200 + k)

    tallies = await asyncio.gather(*(slot(k, spawn("serve", ZB_RUN_JOBS="false")) for k in range(SLOTS)))
    _report("application submission", tallies, started)

    ids = [uuid.uuid5(NS, f"app-{k}-{r}") for k in range(SLOTS) for r in range(ROUNDS)]
    assert await conn.fetchval("SELECT count(*) FROM application") == len(ids)
    tasks = await conn.fetch("SELECT application_id, count(*) AS n FROM application_task GROUP BY 1")
    assert sorted(r["application_id"] for r in tasks) == sorted(ids)
    assert {r["n"] for r in tasks} == {bundle["stats"]["matters"]}  # one task per matter, never twice
    submitted = await conn.fetch(
        "SELECT application_id, count(*) AS n FROM application_event WHERE event = 'submitted' GROUP BY 1"
    )
    assert len(submitted) == len(ids) and {r["n"] for r in submitted} == {1}
    assert await conn.fetchval("SELECT count(*) FROM sync_change WHERE entity = 'application'") >= len(ids)


async def test_sync_push_survives_kills(
    client: AsyncTestClient, clerk: str, conn: asyncpg.Connection, spawn: Callable[..., Proc]
) -> None:
    started = time.monotonic()

    async def slot(k: int, proc: Proc) -> Tally:
        token = (await citizen(client, clerk, name="离线用户", id_number=id_number("19750505", 20 + k)))["access_token"]
        device = str(uuid.uuid5(NS, f"device-{k}"))
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:

            async def work(r: int) -> None:
                mutations = [
                    {
                        "id": str(uuid.uuid5(NS, f"m-{k}-{r}-{i}")),
                        "seq": r * MUTATIONS + i + 1,
                        "name": "draft.save",
                        "args": {
                            "draft_id": str(uuid.uuid5(NS, f"d-{k}-{r}-{i}")),
                            "matter_code": "430200-GA-002",
                            "form": {"household_address": f"株洲市第{r}号"},
                        },
                    }
                    for i in range(MUTATIONS)
                ]
                resp = await retrying(
                    lambda: http.post(
                        "/v1/sync/push", json={"client_id": device, "mutations": mutations}, headers=auth(token)
                    )
                )
                assert resp.status_code == 200, resp.text
                assert {x["status"] for x in resp.json()["results"]} <= {"applied", "duplicate"}, resp.text

            return await crash_rounds(proc, ROUNDS, work, seed=300 + k)

    tallies = await asyncio.gather(*(slot(k, spawn("serve", ZB_RUN_JOBS="false")) for k in range(SLOTS)))
    _report("sync push", tallies, started)

    per_device = ROUNDS * MUTATIONS
    assert [r["last_seq"] for r in await conn.fetch("SELECT last_seq FROM sync_client")] == [per_device] * SLOTS
    ledger = await conn.fetch("SELECT status, count(*) AS n FROM sync_mutation GROUP BY 1")
    assert {r["status"]: r["n"] for r in ledger} == {"applied": per_device * SLOTS}
    assert await conn.fetchval("SELECT count(*) FROM sync_draft") == per_device * SLOTS
    # One change-log entry per applied mutation: a retried batch never wrote a draft twice.
    assert await conn.fetchval("SELECT count(*) FROM sync_change WHERE entity = 'draft'") == per_device * SLOTS


async def test_notification_relay_survives_worker_kills(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, spawn: Callable[..., Proc]
) -> None:
    issuer = await staff(client, op, conn, "gongan", ["issuer", "dept_admin"])
    assert (
        await client.post("/v1/dept/seals", json={"name": "电子证照专用章"}, headers=auth(issuer))
    ).status_code == 201
    issued = 0

    async def issue(n: int) -> None:
        nonlocal issued
        for _ in range(n):
            body = household(id_number("19800808", issued), f"relay-{issued}")
            assert (await client.post("/v1/dept/certificates", json=body, headers=auth(issuer))).status_code == 201
            issued += 1

    with running_receiver() as receiver:
        r = await client.post(
            "/v1/dept/webhooks", json={"url": receiver.url, "events": ["certificate.issued"]}, headers=auth(issuer)
        )
        assert r.status_code == 201, r.text
        receiver.secret = r.json()["secret"]
        started = time.monotonic()
        # Abandoned stream entries and delivery leases are taken over after a second, not a minute.
        workers = [spawn("worker", ZB_NOTIFY_CLAIM_TIMEOUT="1") for _ in range(SLOTS)]
        tallies = [Tally() for _ in workers]
        rounds = ROUNDS * SLOTS
        for r in range(rounds):
            k = r % SLOTS
            await workers[k].running()
            await issue(4)  # there is always work in flight when the kill comes
            # Kill points spread from "just handed the work" to "well into relaying and delivering it".
            await asyncio.sleep(0.15 * r / (rounds - 1))
            busy = not await _settled(conn, issued)
            tallies[k].crashes += workers[k].kill9()
            tallies[k].in_flight += busy
            workers[k].start()
        await _drained(conn, issued, timeout=90)
        _report("notification relay", tallies, started)
        got = receiver.verified()

    people = await conn.fetchval(
        "SELECT count(*) FROM notify_notification WHERE event = 'certificate.issued' AND person_id IS NOT NULL"
    )
    assert people == issued  # one inbox item per certificate: none lost, none twice
    hooks = await conn.fetch("SELECT status FROM notify_delivery WHERE channel = 'webhook'")
    assert [h["status"] for h in hooks] == ["delivered"] * issued
    ids = [g["_id"] for g in got]
    assert len(set(ids)) == issued  # every event reached the department system ...
    # ... and a delivery repeated after a kill carries the same webhook-id, so the receiver drops it.
    print(f"faults/notification relay: {issued} certificates, {len(ids)} webhook posts for {len(set(ids))} events")


async def _settled(conn: asyncpg.Connection, issued: int) -> bool:
    """Everything relayed, expanded and delivered (the webhook deliveries all final)."""
    return await conn.fetchval(
        """SELECT NOT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)
              AND NOT EXISTS (SELECT 1 FROM notify_delivery WHERE status IN ('created', 'sending'))
              AND (SELECT count(*) FROM notify_delivery WHERE channel = 'webhook') >= $1""",
        issued,
    )


async def _drained(conn: asyncpg.Connection, issued: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await _settled(conn, issued):
        if time.monotonic() > deadline:
            raise AssertionError("the workers did not finish the relay in time")
        await asyncio.sleep(0.2)
