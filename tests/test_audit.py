"""Audit log: hash-chained, append-only, and any edit in SQL is caught by verification."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from api import audit, db

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


async def _append(conn: asyncpg.Connection, n: int) -> None:
    for i in range(n):
        async with conn.transaction():
            await audit.append(
                conn, actor=f"account:{i}", action="auth.login", subject="wechat", data={"i": i, "ip": "10.0.0.1"},
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
        ("UPDATE audit_log SET data = data || '{\"ip\": \"10.9.9.9\"}' WHERE seq = 7", 7),
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


async def test_a_rehashed_forgery_is_still_caught_at_the_next_entry(conn: asyncpg.Connection) -> None:
    await _append(conn, 6)
    row = await conn.fetchrow("SELECT * FROM audit_log WHERE seq = 4")
    forged = audit.entry_hash(row["prev_hash"], 4, row["at"], "account:evil", row["action"], row["subject"], row["data"])
    await _tamper(conn, f"UPDATE audit_log SET actor = 'account:evil', hash = '\\x{forged.hex()}' WHERE seq = 4")
    report = await audit.verify(conn)
    assert report.first_bad_entry == 5


def test_cli_audit_verify_reports_the_first_bad_entry(database_url: str) -> None:
    env = {**os.environ, "ZB_DATABASE_URL": database_url, "ZB_REDIS_URL": "redis://127.0.0.1:1/0",
           "ZB_MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "ZB_LOG_FORMAT": "text"}
    cmd = [sys.executable, "-m", "api.cli", "audit-verify"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "audit chain ok" in ok.stdout

    async def break_it() -> None:
        c = await db.connect(database_url)
        try:
            await _append(c, 3)
            await _tamper(c, "UPDATE audit_log SET action = 'auth.logout' WHERE seq = 2")
        finally:
            await c.close()

    asyncio.run(break_it())
    bad = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "BROKEN at entry 2" in bad.stdout


scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                      max_leaves=20)


@given(values)
def test_entries_hash_rfc8785_json(value: object) -> None:
    # The fast encoding where it writes the same bytes, rfc8785 for the rest: either way RFC 8785
    # (and what rfc8785 refuses, integers beyond ±2^53, is refused the same way).
    try:
        expected = rfc8785.dumps({"data": value})
    except rfc8785.IntegerDomainError:
        with pytest.raises(rfc8785.IntegerDomainError):
            audit.canonical_json({"data": value})
        return
    assert audit.canonical_json({"data": value}) == expected
