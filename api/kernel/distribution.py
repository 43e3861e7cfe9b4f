"""Where each table lives on a Citus cluster: the one list, applied after the migrations.

The migrations create plain tables, the same files on a single PostgreSQL and on a Citus
coordinator. When the database has the ``citus`` extension, ``distribute`` then spreads the tables
named here: ``DISTRIBUTED`` by the column each names, all co-located (a person's rows of every such
table sit on one shard group, so a request for one person is a single-shard query and their joins
stay on one node); ``REFERENCE`` copied to every node, for what every request joins against. A table
named in neither stays on the coordinator, added to Citus's metadata (so that a transaction writing it and a
worker commits in two phases); it is queried as before. Without Citus this does nothing.

It runs at the end of every ``db.migrate`` and skips what is distributed already, so a table added to
a list is distributed by the next migrate. ``docs/scaling.md`` says why each table is where it is.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # db imports this module
    from api.kernel.db import Conn

log = logging.getLogger("zhangban.db")

# table -> distribution column; the first is the one the others are co-located with.
DISTRIBUTED: dict[str, str] = {
    "sync_head": "person_id",
    "sync_change": "person_id",
    "sync_horizon": "person_id",
    "sync_draft": "person_id",
    "notify_contact_phone": "person_id",
    "wallet_consent": "person_id",
    "wallet_access_log": "person_id",
    "person": "id",
    "guardianship": "guardian_person_id",
    "wallet_item": "person_id",
    "esign_certificate": "person_id",
    "wallet_closure": "person_id",
    "wallet_family_reader": "reader_person_id",
    "auth_login_alert": "person_id",
    "auth_identity_case": "person_id",
    "delegation": "principal_id",
    "delegation_use": "principal_id",
    "esign_device": "person_id",
    "esign_device_credential": "person_id",
    # An application with the person it is for (docs/scaling.md says why not the applicant), and what hangs off it.
    "application": "for_person_id",
    "application_task": "for_person_id",
    "application_event": "for_person_id",
    "evaluation": "for_person_id",
    "rectification": "for_person_id",
    # A person's push ledger and inbox (an account without a person and a department keep theirs on the coordinator).
    "sync_mutation": "person_id",
    "notify_notification": "person_id",
}

# Each before the tables that reference it (department first).
REFERENCE: tuple[str, ...] = (
    "department",
    "certificate_type",
    "catalog_material",
    "catalog_matter",
    "catalog_bundle",
    "calendar_day",
    "auth_signing_key",
    "esign_platform",
    "esign_trust_list",
    "esign_status_list",
)

HAS_CITUS = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"

# Distributed (hash) and reference tables; not the coordinator tables Citus manages because they have a foreign
# key to a reference table (partmethod 'n' with repmodel 's'), which are still to be placed if a list names them.
# The first table of the schema that Citus does not manage yet (not a shard of one; not the migrations' own record).
UNMANAGED = """
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
  AND NOT relation_is_a_known_shard(c.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)
ORDER BY c.relname LIMIT 1
"""

PLACED = "SELECT logicalrelid::regclass::text AS name FROM pg_dist_partition WHERE partmethod = 'h' OR repmodel = 't'"


# The foreign keys from or to the named tables, with what re-creates them.
KEYS = """
SELECT conrelid::regclass::text AS tab, conname AS name, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE contype = 'f' AND (conrelid::regclass::text = ANY($1::text[]) OR confrelid::regclass::text = ANY($1::text[]))
ORDER BY conrelid::regclass::text, conname
"""


async def has_citus(conn: Conn) -> bool:
    return await conn.fetchval(HAS_CITUS)


async def distribute(conn: Conn) -> list[str]:
    """Distribute what the lists name and is not yet distributed, all or nothing; the tables placed now.

    Citus only. One transaction: a failure part of the way (a lock not granted, a node gone) rolls back the keys
    set aside, the tables distributed and the metadata with them, and the next migrate starts again from the
    same schema. Citus creates shards, reference-table copies and their keys inside a transaction block, over
    one connection per node here (the connection's ``citus.multi_shard_modify_mode``, ``api/kernel/db.py``).
    """
    if not await has_citus(conn):
        return []
    async with conn.transaction():
        done = await _distribute(conn)
    for table in done:
        log.info("distributed %s", table)
    return done


async def _distribute(conn: Conn) -> list[str]:
    placed = {r["name"] for r in await conn.fetch(PLACED)}
    done: list[str] = []
    # Citus refuses a foreign key between a distributed table and a table that is neither distributed alongside
    # nor a reference table, and it cannot distribute a table once a key to a reference table has made it a
    # Citus-managed local table (not with an identity column). So the keys of the tables to distribute now are set
    # aside, those tables distributed while plain, then the reference tables placed, then the keys added again.
    todo = [t for t in DISTRIBUTED if t not in placed]
    keys = await conn.fetch(KEYS, todo)
    for fk in keys:
        await conn.execute(f"ALTER TABLE {fk['tab']} DROP CONSTRAINT {fk['name']}")
    anchor = next(iter(DISTRIBUTED), None)
    for table in todo:
        colocate = "none" if table == anchor else anchor
        await conn.execute(
            "SELECT create_distributed_table($1, $2, colocate_with => $3)", table, DISTRIBUTED[table], colocate
        )
        done.append(table)
    for table in REFERENCE:
        if table not in placed:
            await conn.execute("SELECT create_reference_table($1)", table)
            done.append(table)
    for fk in keys:
        await conn.execute(f"ALTER TABLE {fk['tab']} ADD CONSTRAINT {fk['name']} {fk['definition']}")
    # A transaction that writes a worker's shard and a plain coordinator table (the outbox, the audit chain, the
    # idempotency record beside a person's rows) is committed by Citus on the worker first and then locally, not in
    # two phases: a coordinator lost between the two would keep the person's rows without their event. In Citus's
    # metadata, the coordinator's tables take part in its two-phase commit, so every table left is added there.
    while table := await conn.fetchval(UNMANAGED):
        await conn.execute("SELECT citus_add_local_table_to_metadata($1, cascade_via_foreign_keys => true)", table)
        done.append(table)
    return done
