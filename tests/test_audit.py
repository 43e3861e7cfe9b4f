"""Audit log: hash-chained, append-only, and any edit in SQL is caught by verification."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from api.config import Settings
from api.kernel import audit, db
from api.kernel.canonical import canonical_json
from api.kernel.crypto import Keyring
from tests.conftest import TEST_AUDIT_KEY
from tests.test_migrations import empty_database, history_migrations

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


async def _append(conn: asyncpg.Connection, n: int) -> None:
    for i in range(n):
        async with conn.transaction():
            await audit.append(
                conn,
                actor=f"account:{i}",
                action="auth.login",
                subject="wechat",
                data={"i": i, "ip": "10.0.0.1"},
                at=T0 + timedelta(seconds=i),
            )


async def test_chain_verifies(conn: asyncpg.Connection) -> None:
    await _append(conn, 20)
    assert await audit.verify(conn) == audit.VerifyReport(ok=True, entries=20, first_bad_entry=None)


async def test_updates_and_deletes_are_refused(conn: asyncpg.Connection) -> None:
    await _append(conn, 2)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 1")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM audit_log WHERE seq = 2")


async def _tamper(conn: asyncpg.Connection, sql: str) -> None:
    # Whoever can disable the trigger (a superuser) is still caught by the chain.
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    await conn.execute(sql)
    await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


@pytest.mark.parametrize(
    ("sql", "bad"),
    [
        ('UPDATE audit_log SET data = data || \'{"ip": "10.9.9.9"}\' WHERE seq = 7', 7),
        ("UPDATE audit_log SET at = at + interval '1 second' WHERE seq = 3", 3),
        ("DELETE FROM audit_log WHERE seq = 5", 5),
        ("DELETE FROM audit_log WHERE seq = 10", 10),
    ],
)
async def test_edits_in_sql_are_caught(conn: asyncpg.Connection, sql: str, bad: int) -> None:
    await _append(conn, 10)
    await _tamper(conn, sql)
    report = await audit.verify(conn)
    assert not report.ok and report.first_bad_entry == bad


async def rechain_in_public(conn: asyncpg.Connection, seq: int, *, actor: str, version: int | None = None) -> None:
    """What someone with write access but without the master key can do: edit entry ``seq`` and re-link it and
    every later entry (and the head) with the published plain recipe, optionally relabelling their version."""
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    await conn.execute("UPDATE audit_log SET actor = $1 WHERE seq = $2", actor, seq)
    prev = await conn.fetchval("SELECT hash FROM audit_log WHERE seq = $1", seq - 1) or audit.GENESIS
    for r in await conn.fetch("SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq", seq):
        digest = audit.entry_hash(prev, r["seq"], r["at"], r["actor"], r["action"], r["subject"], r["data"])
        await conn.execute(
            "UPDATE audit_log SET prev_hash = $1, hash = $2, chain_version = coalesce($3, chain_version) WHERE seq = $4",
            prev,
            digest,
            version,
            r["seq"],
        )
        prev = digest
    await conn.execute("UPDATE audit_head SET hash = $1", prev)
    await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


@pytest.mark.parametrize("version", [None, 1])
async def test_a_forgery_rechained_with_the_public_recipe_is_caught_where_it_was_made(
    conn: asyncpg.Connection, version: int | None
) -> None:
    await _append(conn, 6)
    await rechain_in_public(conn, 4, actor="account:evil", version=version)
    report = await audit.verify(conn)
    assert report == audit.VerifyReport(ok=False, entries=4, first_bad_entry=4)


async def test_the_chain_is_keyed_by_the_master_key(database_url: str, conn: asyncpg.Connection) -> None:
    await _append(conn, 3)
    other = Keyring.from_settings(Settings(master_key=base64.b64encode(bytes(32)).decode())).audit_key
    c = await db.connect(database_url, audit_key=other)
    try:
        assert (await audit.verify(c)).first_bad_entry == 1
    finally:
        await c.close()
    keyless = await db.connect(database_url)
    try:
        with pytest.raises(RuntimeError, match="audit key"):
            await audit.verify(keyless)
    finally:
        await keyless.close()


LEGACY_INSERT = """
INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash) VALUES ($1, $2, $3, $4, '', $5, $6, $7)
"""


async def test_entries_chained_before_the_key_verify_with_the_plain_recipe(servers: tuple[str, str]) -> None:
    # A database that had entries when the keyed chain arrived: migrated up to just before it, written the
    # old way, then migrated on.
    migrations = history_migrations()  # the keyed chain arrived in a migration of the history
    keyed = next(m.version for m in migrations if m.name.endswith("_alter_audit_log_keyed_chain.sql"))
    async with empty_database(servers[0], f"zb_audit_legacy_{os.getpid()}") as dsn:
        c = await db.connect(dsn, audit_key=TEST_AUDIT_KEY)
        try:
            await db.migrate(c, [m for m in migrations if m.version < keyed])
            prev = audit.GENESIS
            for seq in (1, 2, 3):
                at = T0 + timedelta(seconds=seq)
                digest = audit.entry_hash(prev, seq, at, "cli", "auth.operator_token", "", {"n": seq})
                await c.execute(LEGACY_INSERT, seq, at, "cli", "auth.operator_token", {"n": seq}, prev, digest)
                prev = digest
            await c.execute("UPDATE audit_head SET seq = 3, hash = $1", prev)
            await db.migrate(c, migrations)
            await _append(c, 3)
            versions = [r["chain_version"] for r in await c.fetch("SELECT chain_version FROM audit_log ORDER BY seq")]
            assert versions == [1, 1, 1, 2, 2, 2]
            assert await audit.verify(c) == audit.VerifyReport(ok=True, entries=6, first_bad_entry=None)

            # A keyed entry passed off as a plain one is refused: the marker says where the plain ones end.
            await rechain_in_public(c, 5, actor="account:evil", version=1)
            assert (await audit.verify(c)).first_bad_entry == 5
        finally:
            await c.close()


async def test_a_plain_entry_edited_after_the_key_arrived_shows_at_the_first_keyed_entry(
    servers: tuple[str, str],
) -> None:
    migrations = history_migrations()  # the keyed chain arrived in a migration of the history
    keyed = next(m.version for m in migrations if m.name.endswith("_alter_audit_log_keyed_chain.sql"))
    async with empty_database(servers[0], f"zb_audit_legacy2_{os.getpid()}") as dsn:
        c = await db.connect(dsn, audit_key=TEST_AUDIT_KEY)
        try:
            await db.migrate(c, [m for m in migrations if m.version < keyed])
            prev = audit.GENESIS
            for seq in (1, 2):
                at = T0 + timedelta(seconds=seq)
                digest = audit.entry_hash(prev, seq, at, "cli", "auth.operator_token", "", {"n": seq})
                await c.execute(LEGACY_INSERT, seq, at, "cli", "auth.operator_token", {"n": seq}, prev, digest)
                prev = digest
            await c.execute("UPDATE audit_head SET seq = 2, hash = $1", prev)
            await db.migrate(c, migrations)
            await _append(c, 2)
            # The plain entries re-chained in public up to the marker: the first keyed entry's HMAC covers
            # the original last plain hash, so the chain breaks there.
            await c.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            await c.execute("UPDATE audit_log SET actor = 'account:evil' WHERE seq = 1")
            prev = audit.GENESIS
            for r in await c.fetch("SELECT * FROM audit_log WHERE seq <= 2 ORDER BY seq"):
                digest = audit.entry_hash(prev, r["seq"], r["at"], r["actor"], r["action"], r["subject"], r["data"])
                await c.execute("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3", prev, digest, r["seq"])
                prev = digest
            await c.execute("UPDATE audit_log SET prev_hash = $1 WHERE seq = 3", prev)
            await c.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
            assert (await audit.verify(c)).first_bad_entry == 3
        finally:
            await c.close()


def test_cli_audit_verify_reports_the_first_bad_entry(database_url: str) -> None:
    env = {
        **os.environ,
        "ZB_DATABASE_URL": database_url,
        "ZB_REDIS_URL": "redis://127.0.0.1:1/0",
        "ZB_MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "ZB_LOG_FORMAT": "text",
    }
    cmd = [sys.executable, "-m", "api.cli", "audit-verify"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "audit chain ok" in ok.stdout

    async def break_it() -> None:
        c = await db.connect(database_url, audit_key=TEST_AUDIT_KEY)
        try:
            await _append(c, 3)
            await rechain_in_public(c, 2, actor="account:evil")
        finally:
            await c.close()

    asyncio.run(break_it())
    bad = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "BROKEN at entry 2" in bad.stdout


scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_entries_hash_rfc8785_json(value: object) -> None:
    # The fast encoding where it writes the same bytes, rfc8785 for the rest: either way RFC 8785
    # (and what rfc8785 refuses, integers beyond ±2^53, is refused the same way).
    try:
        expected = rfc8785.dumps({"data": value})
    except rfc8785.IntegerDomainError:
        with pytest.raises(rfc8785.IntegerDomainError):
            canonical_json({"data": value})
        return
    assert canonical_json({"data": value}) == expected
