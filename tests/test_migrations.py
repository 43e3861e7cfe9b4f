"""Migration hygiene: unique contiguous prefixes, one concern per file, applying twice is a no-op; data
migrations do what they say."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg

from api.kernel import db
from tests.conftest import with_database


def test_prefixes_are_unique_and_contiguous() -> None:
    versions = [m.version for m in db.load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_every_file_sets_a_lock_timeout_and_names_constraints() -> None:
    for m in db.load_migrations():
        assert m.sql.lstrip().startswith("SET lock_timeout"), m.name
        # Error mapping matches constraint names, so inline anonymous UNIQUE/FK clauses are refused.
        assert not re.search(r"\b(UNIQUE|REFERENCES)\b(?![^\n]*CONSTRAINT)", _strip_named(m.sql)), m.name


def _strip_named(sql: str) -> str:
    # Lines that start a named constraint, or continue one, are fine.
    keep = []
    lines = sql.splitlines()
    for i, line in enumerate(lines):
        prev = lines[i - 1] if i else ""
        if "CONSTRAINT" in line or "CONSTRAINT" in prev or line.lstrip().startswith("--"):
            continue
        keep.append(line)
    return "\n".join(keep)


async def test_migrate_twice_is_a_no_op(conn: asyncpg.Connection) -> None:
    # The test database was cloned from a migrated template: nothing is left to do.
    assert await db.migrate(conn) == []
    count = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    assert count == len(db.load_migrations())


@contextlib.asynccontextmanager
async def empty_database(admin: str, name: str) -> AsyncIterator[str]:
    """A new database with nothing migrated, dropped afterwards; its DSN."""
    c = await asyncpg.connect(admin)
    await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin, name)
    finally:
        await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await c.close()


async def test_two_processes_migrating_together_take_turns(servers: tuple[str, str], worker_id: str) -> None:
    async with empty_database(servers[0], f"zb_race_{worker_id}") as dsn:
        a, b = await db.connect(dsn), await db.connect(dsn)
        try:
            first, second = await asyncio.gather(db.migrate(a), db.migrate(b))
            # Exactly one of them applied everything; the other found it done.
            assert sorted([len(first), len(second)]) == [0, len(db.load_migrations())]
        finally:
            await a.close()
            await b.close()


async def test_certificate_items_lose_their_copy_of_the_token(servers: tuple[str, str], worker_id: str) -> None:
    async with empty_database(servers[0], f"zb_token_{worker_id}") as dsn:
        conn = await db.connect(dsn)
        try:
            await db.migrate(conn, [m for m in db.load_migrations() if m.version < 42])
            item = """INSERT INTO wallet_item (id, person_id, kind, title, at, certificate_id, data, created_at,
                      updated_at) VALUES (gen_random_uuid(), gen_random_uuid(), $1, 'x', now(), $2, $3, now(), now())"""
            await conn.execute(item, "certificate", uuid.uuid4(), {"token": "ZB1:X", "status": "valid"})
            await conn.execute(item, "event", None, {"token": "not a certificate's", "event": "birth"})
            await db.migrate(conn)
            data = {r["kind"]: r["data"] for r in await conn.fetch("SELECT kind, data FROM wallet_item")}
            assert data == {"certificate": {"status": "valid"},
                            "event": {"token": "not a certificate's", "event": "birth"}}
        finally:
            await conn.close()
