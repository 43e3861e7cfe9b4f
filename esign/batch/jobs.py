"""Batch issuing as a job: ``POST /v1/dept/certificates:batch`` stores the request, a worker issues it.

- ``submit`` (the route, in its transaction): the batch row, its items sealed (they name holders),
  state ``queued``; the route answers 202 with the batch and its ``Location``.
- ``work`` (job ``esign.batches``, in every process that runs jobs): claims the oldest open batch
  whose lease is free (``FOR UPDATE SKIP LOCKED``), renews the lease while it works, and issues the
  items with ``esign.batch.flows.issue_batch``, which writes each item's result in the transaction that
  settles it. A worker killed mid-batch leaves its lease to run out; the next one loads the results
  written so far and goes on with the rest, so no item is issued twice. At the end, in one
  transaction: the results of items repeating an earlier ``external_ref``, an ``authority.refused``
  audit entry per type refused (as a single request's refusal has), state ``done``, the sealed
  items dropped, and a ``certificate_batch.finished`` event for the department's webhooks.
- A batch whose worker broke off (an error, a kill) is taken up again after a pause; after
  ``MAX_ATTEMPTS`` it is ``failed`` (its settled items keep their results).
- Signing runs where no HTTP is served: ``zhangban worker`` signs large batches in a process pool
  (one process per core, started on first use); ``serve``, whose jobs share the process with
  requests, signs in a thread, so no pool is ever started inside an HTTP worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.kernel import audit, authority, outbox
from api.kernel.crypto import Keyring
from api.kernel.db import Conn, one
from api.kernel.ids import uuid7
from api.kernel.jobs import Job, now_of
from api.kernel.problems import ProblemDocument
from esign.batch import flows as batch
from esign.errors import CertificateBatchFailed, CertificateBatchNotFound
from esign.models import BatchResult, CertificateBatch, IssueIn

log = logging.getLogger("zhangban.esign")

ITEMS_CONTEXT = "esign_certificate_batch.items"
MAX_ATTEMPTS = 5
IDLE = 0.25  # seconds between polls when no batch waits
RETRY_AFTER = timedelta(seconds=5)  # before a batch whose worker broke off is taken up again
PATH = "/v1/dept/certificate-batches"

_items = msgspec.json.Encoder()
_items_of = msgspec.json.Decoder(list[IssueIn])

INSERT = """
INSERT INTO esign_certificate_batch (id, department_id, actor, total, items, route, client_address, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *
"""

SELECT = "SELECT * FROM esign_certificate_batch WHERE id = $1"


def view(row: asyncpg.Record) -> CertificateBatch:
    processed = row["issued"] + row["existing"] + row["failed"]
    error = msgspec.convert(row["error"], ProblemDocument) if row["error"] is not None else None
    return CertificateBatch(
        id=row["id"],
        state=row["state"],
        total=row["total"],
        processed=processed,
        issued=row["issued"],
        existing=row["existing"],
        failed=row["failed"],
        progress=round(processed / row["total"], 4),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=error,
        results_url=f"{PATH}/{row['id']}/results",
    )


async def submit(
    conn: Conn,
    keyring: Keyring,
    *,
    department_id: UUID,
    items: Sequence[IssueIn],
    actor: str,
    route: str,
    client_address: str | None,
    now: datetime,
) -> CertificateBatch:
    """Queue a batch for the workers, in the caller's transaction."""
    sealed = keyring.encrypt(_items.encode(items), context=ITEMS_CONTEXT)
    row = await conn.fetchrow(INSERT, uuid7(), department_id, actor, len(items), sealed, route, client_address, now)
    return view(one(row, "inserted batch"))


async def get(conn: Conn, batch_id: UUID, department_id: UUID) -> CertificateBatch:
    """The department's batch; another department's is ``certificate_batch_not_found``."""
    row = await conn.fetchrow(SELECT, batch_id)
    if row is None or row["department_id"] != department_id:
        raise CertificateBatchNotFound()
    return view(row)


RESULTS = """
SELECT index, status, certificate_id, error FROM esign_certificate_batch_result
WHERE batch_id = $1 AND index > $2 AND ($3::text IS NULL OR status = $3)
ORDER BY index LIMIT $4
"""


def _result(r: asyncpg.Record) -> BatchResult:
    error = msgspec.convert(r["error"], ProblemDocument) if r["error"] is not None else None
    return BatchResult(index=r["index"], status=r["status"], certificate_id=r["certificate_id"], error=error)


async def results(
    conn: Conn, batch_id: UUID, *, after: int, status: str | None, limit: int
) -> tuple[list[BatchResult], int | None]:
    """A page of settled items in index order, and the index the next page starts after (None: the last page)."""
    rows = await conn.fetch(RESULTS, batch_id, after, status, limit + 1)
    page = [_result(r) for r in rows[:limit]]
    return page, (page[-1].index if len(rows) > limit else None)


# --- the worker side -----------------------------------------------------------------------------

CLAIM = """
UPDATE esign_certificate_batch b
SET state = 'running', claim = $1, lease_until = $2 + make_interval(secs => $3), attempts = b.attempts + 1,
    started_at = coalesce(b.started_at, $2)
FROM (
    SELECT id FROM esign_certificate_batch
    WHERE state IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < $2)
    ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED
) next
WHERE b.id = next.id
RETURNING b.*
"""

RENEW = """
UPDATE esign_certificate_batch SET lease_until = $3::timestamptz + make_interval(secs => $4)
WHERE id = $1 AND claim = $2 AND state = 'running'
"""

RELEASE = """
UPDATE esign_certificate_batch SET claim = NULL, lease_until = $3 WHERE id = $1 AND claim = $2 AND state = 'running'
"""

SETTLED = "SELECT index, status, certificate_id, error FROM esign_certificate_batch_result WHERE batch_id = $1"

FINISH = """
UPDATE esign_certificate_batch
SET state = $3, finished_at = $4, error = $5, items = NULL, claim = NULL, lease_until = NULL
WHERE id = $1 AND claim = $2 AND state = 'running'
RETURNING *
"""


class _Claimed(msgspec.Struct, kw_only=True):
    row: Any
    claim: UUID


async def _executor(state: Any, pending: int) -> Executor | None:
    """Where a batch with ``pending`` items to go is signed (see the module docstring); None: between the writes."""
    if state.get("signing_processes"):  # zhangban worker: no requests to keep waiting
        return await state.esign.executor() if pending >= batch.INLINE_BELOW else None
    return state.esign.signing_thread()


def _repeats(items: Sequence[IssueIn]) -> list[int]:
    """The items whose ``external_ref`` an earlier item of the batch has (``batch.issue_batch`` leaves their
    results to the caller to record)."""
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        if item.external_ref in seen:
            out.append(i)
        else:
            seen.add(item.external_ref)
    return out


async def _finish(
    state: Any,
    claimed: _Claimed,
    *,
    now: datetime,
    outcome: str,
    late: Sequence[BatchResult] = (),
    refused_types: Sequence[str] = (),
    error: ProblemDocument | None = None,
) -> None:
    row = claimed.row
    async with state.pool.acquire() as conn, conn.transaction():
        # Taken over meanwhile (this worker's lease ran out): the other worker finishes it.
        if not await conn.fetchval(
            "SELECT claim = $2 FROM esign_certificate_batch WHERE id = $1 FOR UPDATE", row["id"], claimed.claim
        ):
            return
        await batch.record(conn, row["id"], late)
        for code in refused_types:  # audited once per type, as a single request's refusal would be
            await audit.append(
                conn,
                actor=row["actor"],
                action="authority.refused",
                subject=f"department:{row['department_id']}",
                data={
                    "power": authority.certificate(code),
                    "department": str(row["department_id"]),
                    "route": row["route"],
                },
                client_address=row["client_address"],
                at=now,
            )
        done = await conn.fetchrow(FINISH, row["id"], claimed.claim, outcome, now, error)
        await outbox.enqueue(
            conn,
            "notify",
            {
                "event": "certificate_batch.finished",
                "batch_id": str(row["id"]),
                "department_id": str(row["department_id"]),
                "state": outcome,
                "total": done["total"],
                "issued": done["issued"],
                "existing": done["existing"],
                "failed": done["failed"],
            },
            dedup_key=f"certificate_batch.finished:{row['id']}",
            partition_key=str(row["department_id"]),
        )


async def _issue(state: Any, claimed: _Claimed, *, now: datetime) -> None:
    row = claimed.row
    items = _items_of.decode(state.keyring.decrypt(row["items"], context=ITEMS_CONTEXT))
    async with state.pool.acquire() as conn:
        done = {r["index"]: _result(r) for r in await conn.fetch(SETTLED, row["id"])}
    executor = await _executor(state, len(items) - len(done))
    answer = await batch.issue_batch(
        state.pool,
        state.esign,
        department_id=row["department_id"],
        items=items,
        actor=row["actor"],
        now=now,
        executor=executor,
        batch_id=row["id"],
        done=done,
    )
    late = [answer[i] for i in _repeats(items) if i not in done]
    refused = sorted(
        {
            items[r.index].type_code
            for r in answer
            if r.error is not None and r.error.type == authority.AuthorityRequired.slug
        }
    )
    await _finish(state, claimed, now=now, outcome="done", late=late, refused_types=refused)


async def _renew(state: Any, claimed: _Claimed, work: asyncio.Task[None]) -> None:
    """Keep the lease while ``work`` runs; cancel it should another worker have taken the batch over."""
    lease = state.settings.batch_lease_seconds
    while True:
        await asyncio.sleep(lease / 3)
        async with state.pool.acquire() as conn:
            kept = await conn.execute(RENEW, claimed.row["id"], claimed.claim, now_of(state), lease)
        if kept.endswith(" 0"):
            log.warning("batch %s was taken over by another worker; stopping here", claimed.row["id"])
            work.cancel()
            return


async def claim(state: Any, *, now: datetime | None = None) -> _Claimed | None:
    token = uuid7()
    async with state.pool.acquire() as conn:
        row = await conn.fetchrow(CLAIM, token, now or now_of(state), state.settings.batch_lease_seconds)
    return None if row is None else _Claimed(row=row, claim=token)


async def work_once(state: Any) -> bool:
    """Claim one open batch and issue it; False when none waits."""
    claimed = await claim(state)
    if claimed is None:
        return False
    row, now = claimed.row, now_of(state)
    if row["attempts"] > MAX_ATTEMPTS:
        log.error("batch %s broke off %d times; marked failed", row["id"], MAX_ATTEMPTS)
        exc = CertificateBatchFailed(f"the batch broke off {MAX_ATTEMPTS} times; its settled items keep their results")
        await _finish(
            state,
            claimed,
            now=now,
            outcome="failed",
            error=ProblemDocument(type=exc.slug, title=exc.__doc__ or exc.slug, status=exc.status, detail=exc.detail),
        )
        return True
    work = asyncio.ensure_future(_issue(state, claimed, now=now))
    renew = asyncio.ensure_future(_renew(state, claimed, work))
    try:
        await work
    except asyncio.CancelledError:
        if not renew.done():  # this job is stopping, not taken over: the next worker goes on from here
            raise
    except Exception:
        log.exception("batch %s broke off; it is taken up again in %s", row["id"], RETRY_AFTER)
        async with state.pool.acquire() as conn:
            await conn.execute(RELEASE, row["id"], claimed.claim, now_of(state) + RETRY_AFTER)
    finally:
        renew.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renew
    return True


async def drain(state: Any) -> int:
    """Issue every batch waiting now, one after another; how many (tests, operator commands)."""
    n = 0
    while await work_once(state):
        n += 1
    return n


async def work(state: Any) -> None:
    """The job: batches, one at a time per process, for as long as the process runs."""
    while True:
        try:
            busy = await work_once(state)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            log.warning("batch issuing could not reach PostgreSQL (%s); trying again", type(exc).__name__)
            busy = False
        if not busy:
            await asyncio.sleep(IDLE)


JOBS = [Job("esign.batches", work)]
