"""Push: a batch of client mutations, each applied at most once, in seq order, in its own transaction.

Per mutation, one transaction: lock the client's row (two pushes of one client take turns), look
the id up in the ledger (a retry gets the stored answer), check seq against the client's
``last_seq`` (a gap stops the batch), run the handler, write the ledger row and advance
``last_seq`` in one statement, commit. A business "no" (a Problem from the handler) rolls the
transaction back whole and is then recorded as ``rejected`` in a second one; a savepoint would do it
in one, but costs two round trips on every mutation that succeeds, which is nearly all of them. The effect, its change-log entries, outbox rows and the ledger row commit together, so a
response lost after the commit costs nothing: the retry is answered from the ledger.

A transient failure (connection lost, lock or statement timeout, serialization failure) rolls
the mutation back whole and answers 503 with Retry-After: nothing is recorded for it or for the
mutations after it, and the retried batch answers the earlier ones as ``duplicate``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import asyncpg

import notify
from api.kernel import changelog
from api.kernel.db import Conn
from api.kernel.problems import Problem, ServiceUnavailable
from sync import drafts, mutations, service, store
from sync.errors import MutationIdReused, SeqReused
from sync.models import MutationIn, MutationResult, PushIn, PushOut, Status

log = logging.getLogger("zhangban.sync")

# How long a mutation waits for a row lock before it gives up as transient (503, retried later).
LOCK_TIMEOUT_MS = 2000
RETRY_AFTER_SECONDS = 2


class SyncUnavailable(ServiceUnavailable):
    """同步服务暂时不可用，请稍后重试"""

    slug = "sync_unavailable"


# What push retries later rather than recording as a result (sync.service holds the pure rules).
_TRANSIENT_DB = (
    asyncpg.PostgresConnectionError,  # connection lost, refused, too many connections
    asyncpg.InterfaceError,  # connection closed under us
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.LockNotAvailableError,  # lock_timeout
    asyncpg.exceptions.QueryCanceledError,  # statement_timeout
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash recovery
    asyncpg.exceptions.InsufficientResourcesError,  # disk full, out of memory
)


def is_transient(exc: BaseException) -> bool:
    """A failure worth retrying later, where recording a result would be wrong."""
    if isinstance(exc, Problem):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, (*_TRANSIENT_DB, OSError, asyncio.TimeoutError, ConnectionError))


async def push(pool: asyncpg.Pool, ctx: mutations.Context, data: PushIn) -> PushOut:
    account_id = ctx.principal.require_account()
    results: list[MutationResult] = []
    try:
        async with pool.acquire() as conn:
            last = None
            for i, m in enumerate(data.mutations):
                result, last = await _one(conn, ctx, account_id, data.client_id, m)
                results.append(result)
                if result.status == "gap":
                    # Nothing behind a gap is applied: the client resends once the gap is filled.
                    results += [MutationResult(id=later.id, status="gap") for later in data.mutations[i + 1 :]]
                    break
            if last is None:
                last = await store.last_seq(conn, account_id, data.client_id)
    except Exception as exc:
        if is_transient(exc):
            raise SyncUnavailable(
                "the mutation could not be recorded; retry the batch",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from exc
        raise
    return PushOut(results=results, last_seq=last)


async def _one(
    conn: Conn, ctx: mutations.Context, account_id: UUID, client_id: UUID, m: MutationIn
) -> tuple[MutationResult, int]:
    fp = service.fingerprint(ctx.keyring, m)
    try:
        return await _attempt(conn, ctx, account_id, client_id, m, fp, rejection=None)
    except Problem as problem:
        if is_transient(problem):
            raise
        # The handler said no and its transaction rolled back whole. Record the rejection in a new
        # one, checking the ledger and seq again: another push of this client may have run meanwhile.
        return await _attempt(conn, ctx, account_id, client_id, m, fp, rejection=problem)


async def _attempt(
    conn: Conn,
    ctx: mutations.Context,
    account_id: UUID,
    client_id: UUID,
    m: MutationIn,
    fp: bytes,
    *,
    rejection: Problem | None,
) -> tuple[MutationResult, int]:
    async with conn.transaction():
        # The ledger is the account's own person's (whomever the token acts for), or the account's without one.
        person = ctx.principal.actor_person_id
        last, stored = await store.claim(
            conn, person, account_id, client_id, m.id, lock_timeout_ms=LOCK_TIMEOUT_MS, now=ctx.now
        )
        if stored is None and m.seq <= last:
            stored = await store.get_mutation(conn, person, account_id, m.id)  # processed while we waited for the lock?
        if stored is not None and stored["fingerprint"] == fp:
            return _replay(ctx, m, stored), last
        if m.seq > last + 1:
            return MutationResult(id=m.id, status="gap"), last
        if stored is not None:
            # The id names another mutation. Its seq still counts as processed, so it never blocks.
            if m.seq == last + 1:
                last = m.seq
                await store.set_last_seq(conn, account_id, client_id, last, now=ctx.now)
            return _rejected(m, MutationIdReused()), last
        if m.seq <= last:
            return _rejected(m, SeqReused(last_seq=last)), last

        if rejection is None:
            # A Problem raised here rolls this transaction back; _one records the rejection after.
            effect = await mutations.handler_for(m.name)(conn, ctx, m)
            answer = drafts.to_wire(ctx.keyring, effect.data) if effect.draft else effect.data
            result = MutationResult(id=m.id, status=effect.status, version=effect.version, data=answer)
            row = {"status": effect.status, "code": None, "version": effect.version, "result": effect.data}
        else:
            result = _rejected(m, rejection)
            row = {"status": "rejected", "code": rejection.slug, "version": None, "result": result.data}
        try:
            await store.record_mutation(
                conn,
                person,
                account_id=account_id,
                id=m.id,
                client_id=client_id,
                seq=m.seq,
                name=m.name,
                fingerprint=fp,
                recorded_at=ctx.now,
                **row,
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name not in ("sync_mutation_pkey", "sync_account_mutation_pkey"):
                raise
            # The same id, sent under another seq by a concurrent push, was recorded first: this
            # attempt is undone whole, and the retry finds the ledger row.
            raise SyncUnavailable(headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
        return result, m.seq


async def poke(pool: asyncpg.Pool, redis: Any, person_id: UUID) -> None:
    """Tell the person's other devices (live stream) that their log moved; best effort, after commit."""
    try:
        async with pool.acquire() as conn:
            version = await changelog.head_version(conn, person_id)
        await notify.poke_sync(redis, person_id, version)
    except Exception:
        log.warning("sync poke failed", exc_info=True)


def _rejected(m: MutationIn, problem: Problem) -> MutationResult:
    return MutationResult(id=m.id, status="rejected", code=problem.slug, data=service.rejection_data(problem))


def _replay(ctx: mutations.Context, m: MutationIn, stored: asyncpg.Record) -> MutationResult:
    """The stored answer again; an applied mutation is now a ``duplicate``."""
    data = stored["result"]
    if data is not None and stored["status"] != "rejected" and m.name.startswith("draft."):
        data = drafts.to_wire(ctx.keyring, data)
    # The ledger keeps the status it answered with (a sync.models.Status).
    status: Status = "duplicate" if stored["status"] == "applied" else stored["status"]
    return MutationResult(id=m.id, status=status, code=stored["code"], version=stored["version"], data=data)
