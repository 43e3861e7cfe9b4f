"""Push: a batch of client mutations, each applied at most once, in seq order, in its own transaction.

Per mutation, one transaction: lock the client's row (two pushes of one client take turns), look
the id up in the ledger (a retry gets the stored answer), check seq against the client's
``last_seq`` (a gap stops the batch), run the handler in a savepoint (a business "no" rolls back
its writes but is still recorded as ``rejected``), write the ledger row, advance ``last_seq``,
commit. The effect, its change-log entries, outbox rows and the ledger row commit together, so a
response lost after the commit costs nothing: the retry is answered from the ledger.

A transient failure (connection lost, lock or statement timeout, serialization failure) rolls
the mutation back whole and answers 503 with Retry-After: nothing is recorded for it or for the
mutations after it, and the retried batch answers the earlier ones as ``duplicate``.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import asyncpg

from api import changelog
from api.problems import Problem, ServiceUnavailable
from api.sync import drafts, mutations, service, store
from api.sync.errors import MutationIdReused, SeqReused
from api.sync.models import MutationIn, MutationResult, PushIn, PushOut
from notify import live

log = logging.getLogger("zhangban.sync")

# How long a mutation waits for a row lock before it gives up as transient (503, retried later).
LOCK_TIMEOUT_MS = 2000
RETRY_AFTER_SECONDS = 2


class SyncUnavailable(ServiceUnavailable):
    """同步服务暂时不可用，请稍后重试"""

    slug = "sync_unavailable"


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
        if service.is_transient(exc):
            raise SyncUnavailable(
                "the mutation could not be recorded; retry the batch",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from exc
        raise
    return PushOut(results=results, last_seq=last)


async def _one(conn: asyncpg.Connection, ctx: mutations.Context, account_id: UUID, client_id: UUID, m: MutationIn) -> tuple[MutationResult, int]:
    fp = service.fingerprint(ctx.keyring, m)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{int(LOCK_TIMEOUT_MS)}ms'")
        last = await store.lock_client(conn, account_id, client_id, now=ctx.now)
        stored = await store.get_mutation(conn, account_id, m.id)
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

        try:
            async with conn.transaction():  # a savepoint: a rejection undoes the handler's writes only
                effect = await mutations.handler_for(m.name)(conn, ctx, m)
        except Problem as problem:
            if service.is_transient(problem):
                raise
            result = _rejected(m, problem)
            row = {"status": "rejected", "code": problem.slug, "version": None, "result": result.data}
        else:
            answer = drafts.to_wire(ctx.keyring, effect.data) if effect.draft else effect.data
            result = MutationResult(id=m.id, status=effect.status, version=effect.version, data=answer)
            row = {"status": effect.status, "code": None, "version": effect.version, "result": effect.data}
        await store.insert_mutation(
            conn, account_id=account_id, id=m.id, client_id=client_id, seq=m.seq, name=m.name, fingerprint=fp,
            recorded_at=ctx.now, **row,
        )
        await store.set_last_seq(conn, account_id, client_id, m.seq, now=ctx.now)
        return result, m.seq


async def poke(pool: asyncpg.Pool, redis: Any, person_id: UUID) -> None:
    """Tell the person's other devices (live stream) that their log moved; best effort, after commit."""
    try:
        async with pool.acquire() as conn:
            version = await changelog.head_version(conn, person_id)
        await live.poke_sync(redis, person_id, version)
    except Exception:  # noqa: BLE001 - devices also pull on their own; a lost poke only delays them
        log.warning("sync poke failed", exc_info=True)


def _rejected(m: MutationIn, problem: Problem) -> MutationResult:
    return MutationResult(id=m.id, status="rejected", code=problem.slug, data=service.rejection_data(problem))


def _replay(ctx: mutations.Context, m: MutationIn, stored: asyncpg.Record) -> MutationResult:
    """The stored answer again; an applied mutation is now a ``duplicate``."""
    data = stored["result"]
    if data is not None and stored["status"] != "rejected" and m.name.startswith("draft."):
        data = drafts.to_wire(ctx.keyring, data)
    status = "duplicate" if stored["status"] == "applied" else stored["status"]
    return MutationResult(id=m.id, status=status, code=stored["code"], version=stored["version"], data=data)
