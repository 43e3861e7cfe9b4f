"""Compaction of the change log and the push ledger (the tombstone horizon, FORMATS.md §sync).

Each tick, in batches: entries older than 30 days that a later entry of the same record replaces
go first (no client needs them: a pull returns only the latest entry of each record); then
deletions older than 30 days go with their record's history, and the person's horizon rises to
their version, so a client whose cursor is older than the horizon gets a reset instead of missing
a deletion. Ledger rows older than 90 days go last; their mutations' seqs still guard against a
second application.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from api.kernel.jobs import Job, now_of
from sync import service, store

log = logging.getLogger("zhangban.sync")

BATCH = 5000
MAX_BATCHES = 20  # per kind and tick: a backlog is worked off over several ticks, never in one long lock


async def compact(state: Any, *, now: datetime | None = None) -> dict[str, int]:
    """One compaction pass; returns how many entries of each kind were removed."""
    now = now or now_of(state)
    removed = {"superseded": 0, "tombstones": 0, "ledger": 0}
    for _ in range(MAX_BATCHES):
        async with state.pool.acquire() as conn, conn.transaction():
            n = await store.delete_superseded(conn, before=service.tombstone_cutoff(now), limit=BATCH)
        removed["superseded"] += n
        if n < BATCH:
            break
    for _ in range(MAX_BATCHES):
        async with state.pool.acquire() as conn, conn.transaction():
            n = await store.delete_tombstones(conn, before=service.tombstone_cutoff(now), limit=BATCH, now=now)
        removed["tombstones"] += n
        if n < BATCH:
            break
    for _ in range(MAX_BATCHES):
        async with state.pool.acquire() as conn, conn.transaction():
            n = await store.delete_old_ledger(conn, before=service.ledger_cutoff(now), limit=BATCH)
        removed["ledger"] += n
        if n < BATCH:
            break
    if any(removed.values()):
        log.info("sync compaction removed %s", removed)
    return removed


async def _tick(state: Any) -> None:
    await compact(state)


JOBS = [Job("sync.compact", _tick, every=3600)]
