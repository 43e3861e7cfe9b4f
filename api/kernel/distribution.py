"""Where each table lives on a Citus cluster: the one list, applied after the migrations.

The migrations create plain tables, the same files on a single PostgreSQL and on a Citus
coordinator. When the database has the ``citus`` extension, ``distribute`` then spreads the tables
named here: ``DISTRIBUTED`` by the column each names, all co-located (a person's rows of every such
table sit on one shard group, so a request for one person is a single-shard query and their joins
stay on one node); ``REFERENCE`` copied to every node, for what every request joins against. A table
named in neither stays a plain table on the coordinator. Without Citus this does nothing.

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
}

REFERENCE: tuple[str, ...] = (
    "calendar_day",
    "auth_signing_key",
    "esign_platform",
    "esign_trust_list",
    "esign_status_list",
)

HAS_CITUS = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"

PLACED = "SELECT logicalrelid::regclass::text AS name FROM pg_dist_partition"


async def has_citus(conn: Conn) -> bool:
    return await conn.fetchval(HAS_CITUS)


async def distribute(conn: Conn) -> list[str]:
    """Distribute what the lists name and is not yet distributed; the tables placed now. Citus only."""
    if not await has_citus(conn):
        return []
    placed = {r["name"] for r in await conn.fetch(PLACED)}
    done: list[str] = []
    anchor = next(iter(DISTRIBUTED))
    for table, column in DISTRIBUTED.items():
        if table not in placed:
            colocate = "none" if table == anchor else anchor
            await conn.execute("SELECT create_distributed_table($1, $2, colocate_with => $3)", table, column, colocate)
            done.append(table)
    for table in REFERENCE:
        if table not in placed:
            await conn.execute("SELECT create_reference_table($1)", table)
            done.append(table)
    for table in done:
        log.info("distributed %s", table)
    return done
