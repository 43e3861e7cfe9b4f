"""``distribute`` on a Citus cluster is all or nothing: a failure part of the way leaves the schema as it was."""

from __future__ import annotations

import os

import asyncpg
import pytest

from api.kernel import db, distribution
from tests.cluster import citus

# Where each table lives, and every foreign key with its definition: what a failed distribute must not change.
SCHEMA = """
SELECT 'placed' AS what, logicalrelid::regclass::text AS name, partmethod::text || repmodel::text AS detail FROM pg_dist_partition
UNION ALL
SELECT 'key', conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'
ORDER BY 1, 2
"""


async def test_a_distribution_failing_part_of_the_way_leaves_the_schema_as_it_was(
    citus_cluster: citus.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    admins = citus_cluster.admin_dsns()
    name = f"zb_distribute_{os.getpid()}"
    conn = await db.connect(await citus.create_database(admins, name))
    try:
        # The migrations alone: every table still a plain one on the coordinator, with all its keys.
        with monkeypatch.context() as m:
            m.setattr(distribution, "DISTRIBUTED", {})
            m.setattr(distribution, "REFERENCE", ())
            m.setattr(distribution, "UNMANAGED", "SELECT NULL::text")
            await db.migrate(conn)
        before = [tuple(r) for r in await conn.fetch(SCHEMA)]
        assert ("key", "wallet_access_log.wallet_access_log_consent_id_fkey") in {r[:2] for r in before}
        assert not [r for r in before if r[0] == "placed"]

        # Everything listed goes through (the keys set aside, the tables distributed, the catalogue replicated)
        # until the last step, which fails.
        monkeypatch.setattr(distribution, "REFERENCE", (*distribution.REFERENCE, "no_such_table"))
        with pytest.raises(asyncpg.UndefinedTableError):
            await distribution.distribute(conn)
        assert [tuple(r) for r in await conn.fetch(SCHEMA)] == before
        # Nothing half-made on the workers either: no shard of any table.
        assert await conn.fetchval("SELECT count(*) FROM pg_dist_shard") == 0
    finally:
        await conn.close()
        await citus.drop(admins, name)
