"""Reading the change log for pulls, compacting it, and the push ledger: SQL next to its caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from api.kernel.db import Conn, one
from sync.service import Head


async def get_epoch(conn: Conn) -> UUID:
    return await conn.fetchval("SELECT epoch FROM sync_epoch")


# A horizon comes only from compacting changes, so a person with one has a head. Filtered by the
# distribution column and joined on it, which on Citus keeps it on the persons' shards.
GET_HEADS = """
SELECT h.person_id, h.version, coalesce(z.version, 0) AS horizon
FROM sync_head h LEFT JOIN sync_horizon z ON z.person_id = h.person_id
WHERE h.person_id = ANY($1::uuid[])
"""


async def get_heads(conn: Conn, persons: list[UUID]) -> dict[UUID, Head]:
    found = {r["person_id"]: Head(r["version"], r["horizon"]) for r in await conn.fetch(GET_HEADS, persons)}
    return {person: found.get(person, Head(0, 0)) for person in persons}


# The latest entry of each record of one person after a version, oldest first. Older entries of a
# record are skipped: a client needs only where a record ended up, and skipping never hides a
# commit because the latest entry is always at or above every entry it replaces.
LIST_LATEST = """
SELECT c.entity, c.entity_id, c.op, c.version, c.data::text AS data
FROM sync_change c
WHERE c.person_id = $1 AND c.version > $2
  AND ($3 OR c.op = 'put')
  AND ($4 OR c.entity NOT IN ('draft', 'device_credential'))
  AND NOT EXISTS (
      SELECT 1 FROM sync_change n
      WHERE n.person_id = c.person_id AND n.entity = c.entity AND n.entity_id = c.entity_id AND n.version > c.version
  )
ORDER BY c.version
LIMIT $5
"""


async def list_latest(
    conn: Conn, person_id: UUID, after: int, *, with_dels: bool, with_drafts: bool, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_LATEST, person_id, after, with_dels, with_drafts, limit)


# Records of a person who left the client's scope, to be deleted on the client, except those it
# still sees through a person in scope (an application is logged for applicant and beneficiary).
# The records kept are an uncorrelated subquery (the columns are NOT NULL, so NOT IN is NOT EXISTS):
# the other persons' entries live on other shards, and Citus runs it first, then the person's page
# on the person's shard alone.
LIST_LEAVING = """
SELECT c.entity, c.entity_id, c.version
FROM sync_change c
WHERE c.person_id = $1 AND c.version > $2 AND c.entity NOT IN ('draft', 'device_credential')
  AND NOT EXISTS (
      SELECT 1 FROM sync_change n
      WHERE n.person_id = c.person_id AND n.entity = c.entity AND n.entity_id = c.entity_id AND n.version > c.version
  )
  AND (c.entity, c.entity_id) NOT IN (
      SELECT o.entity, o.entity_id FROM sync_change o WHERE o.person_id = ANY($3::uuid[])
  )
ORDER BY c.version
LIMIT $4
"""


async def list_leaving(
    conn: Conn, person_id: UUID, after: int, *, keep: list[UUID], limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_LEAVING, person_id, after, keep, limit)


# The checkpoint of a reset (sync.service.checkpoint, here in SQL): the records whose latest entry in
# a scope person's log is a put (drafts and device credentials only from the owner's), once each with their highest version.
# ``IS NOT DISTINCT FROM`` (the column is NOT NULL: ``=``) keeps Citus from reading the owner test as a
# second shard filter, which would send the scope's read to every shard.
CHECKPOINT = """
WITH latest AS (
    SELECT c.entity, c.entity_id, c.version, c.op
    FROM sync_change c
    WHERE c.person_id = ANY($1::uuid[]) AND (c.entity NOT IN ('draft', 'device_credential') OR c.person_id IS NOT DISTINCT FROM $2)
      AND NOT EXISTS (
          SELECT 1 FROM sync_change n
          WHERE n.person_id = c.person_id AND n.entity = c.entity AND n.entity_id = c.entity_id AND n.version > c.version
      )
), lines AS (
    SELECT c.entity || ':' || c.entity_id::text || ':' || max(c.version)::text || E'\\n' AS line
    FROM latest c WHERE c.op = 'put'
    GROUP BY c.entity, c.entity_id
)
SELECT count(*) AS count,
       encode(sha256(convert_to(coalesce(string_agg(line, '' ORDER BY line COLLATE "C"), ''), 'UTF8')), 'hex') AS digest
FROM lines
"""


async def checkpoint(conn: Conn, scope: list[UUID], owner: UUID) -> tuple[int, str]:
    row = one(await conn.fetchrow(CHECKPOINT, scope, owner), "checkpoint")  # an aggregate: always one row
    return row["count"], row["digest"]


# --- compaction ---------------------------------------------------------------------------------------

_LATER = """
    SELECT 1 FROM sync_change n
    WHERE n.person_id = c.person_id AND n.entity = c.entity AND n.entity_id = c.entity_id AND n.version > c.version
"""

DELETE_SUPERSEDED = f"""
WITH doomed AS (
    SELECT c.person_id, c.version FROM sync_change c
    WHERE c.at < $1 AND EXISTS ({_LATER})
    LIMIT $2
)
DELETE FROM sync_change s USING doomed d WHERE s.person_id = d.person_id AND s.version = d.version
"""


async def delete_superseded(conn: Conn, *, before: datetime, limit: int) -> int:
    """Drop entries older than ``before`` that a later entry of the same record replaces."""
    return int((await conn.execute(DELETE_SUPERSEDED, before, limit)).split()[-1])


# A deletion older than the cutoff goes with every older entry of its record (so nothing older
# can resurface as the record's latest state), and the person's horizon rises to its version: the
# highest version removed, as every entry removed is at or below its record's deletion. Two
# statements in the caller's transaction, each one Citus can plan on a distributed change log.
DELETE_TOMBSTONES = f"""
WITH doomed AS (
    SELECT c.person_id, c.entity, c.entity_id, c.version FROM sync_change c
    WHERE c.op = 'del' AND c.at < $1 AND NOT EXISTS ({_LATER})
    LIMIT $2
)
DELETE FROM sync_change s USING doomed d
WHERE s.person_id = d.person_id AND s.entity = d.entity AND s.entity_id = d.entity_id AND s.version <= d.version
RETURNING s.person_id, s.version
"""

RAISE_HORIZONS = """
INSERT INTO sync_horizon AS z (person_id, version, compacted_at)
SELECT p, v, $3 FROM unnest($1::uuid[], $2::bigint[]) AS u (p, v)
ON CONFLICT ON CONSTRAINT sync_horizon_pkey
DO UPDATE SET version = greatest(z.version, EXCLUDED.version), compacted_at = EXCLUDED.compacted_at
"""


async def delete_tombstones(conn: Conn, *, before: datetime, limit: int, now: datetime) -> int:
    """Drop up to ``limit`` old deletions with their records' history; raise the horizons."""
    removed = await conn.fetch(DELETE_TOMBSTONES, before, limit)
    horizons: dict[UUID, int] = {}
    for row in removed:
        horizons[row["person_id"]] = max(horizons.get(row["person_id"], 0), row["version"])
    if horizons:
        people = sorted(horizons)
        await conn.execute(RAISE_HORIZONS, people, [horizons[p] for p in people], now)
    return len(removed)


async def delete_old_ledger(conn: Conn, *, before: datetime, limit: int) -> int:
    """Up to ``limit`` ledger rows recorded before ``before``, of each ledger (a person's, an account's)."""
    deleted = 0
    for table, key in (("sync_mutation", "person_id, account_id, id"), ("sync_account_mutation", "account_id, id")):
        result = await conn.execute(
            f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE recorded_at < $1 LIMIT $2)",
            before,
            limit,
        )
        deleted += int(result.split()[-1])
    return deleted


# --- the push ledger ----------------------------------------------------------------------------------

# An account with a person keeps its ledger with that person (``sync_mutation``, on the person's shard of a
# cluster: every statement names the person); one without keeps it by the account (``sync_account_mutation``).
# ``person`` below is the account's own person (``Principal.actor_person_id``), whomever a token acts for.


def _ledger(person: UUID | None) -> tuple[str, str, tuple[UUID, ...]]:
    """The ledger table, the test naming its person as the last parameter, and that parameter."""
    if person is None:
        return "sync_account_mutation", "", ()
    return "sync_mutation", "m.person_id = ${n} AND ", (person,)


# One round trip: bound the lock waits of this transaction, lock the client's row, and look the
# mutation up in the ledger. set_config runs first (the insert reads from it), so the row lock wait
# is bounded too and a mutation stuck behind another transaction gives up as transient. The ledger
# read uses the statement's snapshot, taken before a wait for the lock, so a mutation another push
# of this client recorded meanwhile may be missing from it; the caller reads again when seq says
# the mutation may have been processed (``get_mutation``).
CLAIM = """
WITH timeout AS MATERIALIZED (SELECT set_config('lock_timeout', $4, true)),
client AS (
    INSERT INTO sync_client AS s (account_id, client_id, created_at, updated_at)
    SELECT $1, $2, $3, $3 FROM timeout
    ON CONFLICT ON CONSTRAINT sync_client_pkey DO UPDATE SET updated_at = s.updated_at
    RETURNING last_seq
)
SELECT client.last_seq, m.fingerprint, m.status, m.code, m.version, m.result
FROM client LEFT JOIN {table} m ON {person}m.account_id = $1 AND m.id = $5
"""


def claim_sql(person: UUID | None) -> tuple[str, tuple[UUID, ...]]:
    table, test, args = _ledger(person)
    return CLAIM.format(table=table, person=test.format(n=6)), args


async def claim(
    conn: Conn,
    person: UUID | None,
    account_id: UUID,
    client_id: UUID,
    mutation_id: UUID,
    *,
    lock_timeout_ms: int,
    now: datetime,
) -> tuple[int, asyncpg.Record | None]:
    """The client's last processed seq (its row locked until the transaction ends) and the ledger row, if seen."""
    # The no-op DO UPDATE takes the row lock (DO NOTHING would not, and would return no row).
    sql, extra = claim_sql(person)
    row = one(
        await conn.fetchrow(sql, account_id, client_id, now, f"{int(lock_timeout_ms)}ms", mutation_id, *extra),
        "claimed sync client",
    )
    return row["last_seq"], (row if row["fingerprint"] is not None else None)


async def set_last_seq(conn: Conn, account_id: UUID, client_id: UUID, seq: int, *, now: datetime) -> None:
    await conn.execute(
        "UPDATE sync_client SET last_seq = $3, updated_at = $4 WHERE account_id = $1 AND client_id = $2",
        account_id,
        client_id,
        seq,
        now,
    )


async def last_seq(conn: Conn, account_id: UUID, client_id: UUID) -> int:
    return (
        await conn.fetchval(
            "SELECT last_seq FROM sync_client WHERE account_id = $1 AND client_id = $2", account_id, client_id
        )
        or 0
    )


GET_MUTATION = (
    "SELECT fingerprint, status, code, version, result FROM {table} m WHERE {person}m.account_id = $1 AND m.id = $2"
)


def get_mutation_sql(person: UUID | None) -> tuple[str, tuple[UUID, ...]]:
    table, test, args = _ledger(person)
    return GET_MUTATION.format(table=table, person=test.format(n=3)), args


async def get_mutation(conn: Conn, person: UUID | None, account_id: UUID, mutation_id: UUID) -> asyncpg.Record | None:
    sql, extra = get_mutation_sql(person)
    return await conn.fetchrow(sql, account_id, mutation_id, *extra)


RECORD_MUTATION = """
WITH ledger AS (
    INSERT INTO {table} ({person}account_id, id, client_id, seq, name, fingerprint, status, code, version, result,
                         recorded_at)
    VALUES ({value}$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
)
UPDATE sync_client SET last_seq = $4, updated_at = $11 WHERE account_id = $1 AND client_id = $3
"""


def record_mutation_sql(person: UUID | None) -> tuple[str, tuple[UUID, ...]]:
    table, _, args = _ledger(person)
    named = person is not None
    sql = RECORD_MUTATION.format(table=table, person="person_id, " if named else "", value="$12, " if named else "")
    return sql, args


async def record_mutation(conn: Conn, person: UUID | None, **row: Any) -> None:
    """Write the ledger row and move the client's last_seq to it, in one round trip."""
    sql, extra = record_mutation_sql(person)
    await conn.execute(
        sql,
        row["account_id"],
        row["id"],
        row["client_id"],
        row["seq"],
        row["name"],
        row["fingerprint"],
        row["status"],
        row["code"],
        row["version"],
        row["result"],
        row["recorded_at"],
        *extra,
    )
