"""Migration hygiene: unique contiguous prefixes, one concern per file, applying twice is a no-op; the
baseline builds the same database as the history it replaced."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg

from api.kernel import db
from tests.conftest import with_database

HISTORY = Path(__file__).resolve().parents[1] / "migrations" / "history"


def history_migrations() -> list[db.Migration]:
    """The migrations 0001_baseline.sql replaced (migrations/history/), which the runner no longer reads."""
    found = [
        db.Migration(int(p.name[:4]), p.name, p.read_text(encoding="utf-8"))
        for p in HISTORY.glob("*.sql")
        if db.MIGRATION_NAME.match(p.name)
    ]
    return sorted(found, key=lambda m: m.version)


def test_prefixes_are_unique_and_contiguous() -> None:
    versions = [m.version for m in db.load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_every_file_sets_a_lock_timeout_and_names_constraints() -> None:
    for m in db.load_migrations():
        assert m.sql.lstrip().startswith("SET lock_timeout"), m.name
        # Error mapping matches constraint names, so inline anonymous UNIQUE/FK clauses are refused
        # (CREATE UNIQUE INDEX always names its index).
        assert not re.search(r"\b(?<!CREATE )(UNIQUE|REFERENCES)\b(?![^\n]*CONSTRAINT)", _strip_named(m.sql)), m.name


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


async def test_an_index_built_concurrently_is_built_outside_a_transaction(
    servers: tuple[str, str], worker_id: str
) -> None:
    index = db.Migration(
        9999,
        "9999_index_outbox_topic.sql",
        """SET lock_timeout = '2s';
SET statement_timeout = 0;
-- Built CONCURRENTLY: the outbox takes writes all the time.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_topic_idx
    ON outbox (topic);
""",
    )
    async with empty_database(servers[0], f"zb_concurrently_{worker_id}_{os.getpid()}") as dsn:
        conn = await db.connect(dsn)
        try:
            assert await db.migrate(conn, [*db.load_migrations(), index]) == [
                *(m.name for m in db.load_migrations()),
                index.name,
            ]
            valid = "SELECT indisvalid FROM pg_index WHERE indexrelid = 'outbox_topic_idx'::regclass"
            assert await conn.fetchval(valid)
            assert await db.migrate(conn, [*db.load_migrations(), index]) == []
        finally:
            await conn.close()


# --- the baseline equals the history it replaced ---------------------------------------------------

# What the catalogue says of a database's own objects (schema public; the runner's schema_migrations
# aside), one query per kind, each row a key and the description compared under it.
DESCRIBE = {
    "table": """SELECT c.relname, concat_ws(' ', c.relkind, c.relpersistence, c.reloptions::text)
                FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')""",
    # Columns by name and by position among the live ones (dropped columns leave gaps in attnum).
    "column": """SELECT a.attrelid::regclass::text || '.' || a.attname,
                        concat_ws(' | ', row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
                                  format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                                  pg_get_expr(d.adbin, d.adrelid), nullif(a.attidentity, ''),
                                  nullif(a.attgenerated, ''), a.attstorage, a.attcollation::regcollation)
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                   AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraint": """SELECT conrelid::regclass::text || '.' || conname,
                            pg_get_constraintdef(oid) || CASE WHEN convalidated THEN '' ELSE ' [not validated]' END
                     FROM pg_constraint WHERE connamespace = 'public'::regnamespace""",
    "index": """SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace""",
    "sequence": """SELECT sequencename, concat_ws(' ', data_type, start_value, min_value, max_value, increment_by,
                                               cycle, cache_size) FROM pg_sequences WHERE schemaname = 'public'""",
    "function": """SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
                   FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace""",
    "trigger": """SELECT tgrelid::regclass::text || '.' || tgname, pg_get_triggerdef(t.oid) || ' ' || tgenabled::text
                  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                  WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal""",
    "view": """SELECT c.relname, pg_get_viewdef(c.oid)
               FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')""",
    "type": """SELECT t.typname, concat_ws(' ', t.typtype, (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder)
                                                       FROM pg_enum WHERE enumtypid = t.oid))
               FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'r')""",
    "extension": "SELECT extname, extversion FROM pg_extension",
    "comment": """SELECT d.classoid::regclass::text || ' ' || d.objoid::text || ' ' || d.objsubid, d.description
                  FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
                  WHERE c.relnamespace = 'public'::regnamespace""",
}

# Valid in the baseline, added NOT VALID by the history (0058, 0063, 0064): a new database's tables are
# empty, so there is nothing to skip. Named one by one so that no other difference slips through.
VALID_IN_BASELINE = frozenset(
    {
        "wallet_item.wallet_item_person_id_fkey",
        "wallet_item.wallet_item_certificate_id_fkey",
        "wallet_item.wallet_item_department_id_fkey",
        "person.person_kind_check",
        "esign_certificate.esign_certificate_holder_kind_check",
        "feedback.feedback_text_check",
    }
)

# Values the seeded rows take from the clock or the random generator.
UNSEEDED = {"sync_epoch": ("epoch", "started_at")}


async def describe(conn: asyncpg.Connection) -> dict[str, dict[str, str]]:
    """The database's schema and seeded rows as {kind: {key: description}}."""
    found = {}
    for kind, query in DESCRIBE.items():
        rows = await conn.fetch(query)
        found[kind] = {r[0]: r[1] for r in rows if not r[0].startswith("schema_migrations")}
    tables = [t for t, d in found["table"].items() if d.startswith("r")]
    for table in sorted(tables):
        masked = ", ".join(f"'{c}'" for c in UNSEEDED.get(table, ()))
        rows = await conn.fetch(
            f"SELECT to_jsonb(t) - ARRAY[{masked}]::text[] AS row FROM {table} AS t ORDER BY 1::text"
        )
        for i, r in enumerate(sorted(str(r["row"]) for r in rows)):
            found.setdefault("row", {})[f"{table}[{i}]"] = r
    return found


def differences(baseline: dict[str, dict[str, str]], history: dict[str, dict[str, str]]) -> list[str]:
    out = []
    for kind in sorted(baseline.keys() | history.keys()):
        b, h = baseline.get(kind, {}), history.get(kind, {})
        for key in sorted(b.keys() | h.keys()):
            if key not in h:
                out.append(f"{kind} {key}: only in the baseline: {b[key]}")
            elif key not in b:
                out.append(f"{kind} {key}: only in the history: {h[key]}")
            elif b[key] != h[key]:
                out.append(f"{kind} {key}:\n    baseline: {b[key]}\n    history:  {h[key]}")
    return out


async def test_the_baseline_builds_the_database_the_history_built(servers: tuple[str, str], worker_id: str) -> None:
    async with (
        empty_database(servers[0], f"zb_base_{worker_id}_{os.getpid()}") as base_dsn,
        empty_database(servers[0], f"zb_hist_{worker_id}_{os.getpid()}") as hist_dsn,
    ):
        base, hist = await db.connect(base_dsn), await db.connect(hist_dsn)
        try:
            # The baseline alone: the files after it change the schema on purpose.
            await asyncio.gather(db.migrate(base, db.load_migrations()[:1]), db.migrate(hist, history_migrations()))
            baseline, history = await describe(base), await describe(hist)
        finally:
            await base.close()
            await hist.close()
    for key in VALID_IN_BASELINE:
        definition = history["constraint"][key]
        assert definition.endswith(" NOT VALID [not validated]"), key  # the history still says so
        history["constraint"][key] = definition.removesuffix(" NOT VALID [not validated]")
    found = differences(baseline, history)
    assert not found, "the baseline and the history build different databases:\n" + "\n".join(found)


async def test_0017_keeps_what_the_person_s_rows_said(servers: tuple[str, str], worker_id: str) -> None:
    """Rows written before 0017 keyed the person's tables by the person: the ID number is found through its new
    index, a guardianship keeps its dependent's birth date and a use of an authorisation names its principal."""
    before = [m for m in db.load_migrations() if m.version < 17]
    async with empty_database(servers[0], f"zb_0017_{worker_id}_{os.getpid()}") as dsn:
        conn = await db.connect(dsn)
        try:
            await db.migrate(conn, before)
            parent, child, agent, grant = (uuid.uuid4() for _ in range(4))
            await conn.executemany(
                "INSERT INTO person (id, id_number, id_number_index, name, born_on, created_at)"
                " VALUES ($1, $2, $3, 'x', $4, now())",
                [(parent, b"n1", b"i1", None), (child, None, None, date(2020, 5, 1)), (agent, b"n2", b"i2", None)],
            )
            await conn.execute(
                "INSERT INTO guardianship (guardian_person_id, dependent_person_id, source, since)"
                " VALUES ($1, $2, 'birth', now())",
                parent,
                child,
            )
            await conn.execute(
                "INSERT INTO delegation (id, principal_kind, principal_id, agent_person_id, matters, actions, created_by,"
                " created_at, expires_at) VALUES ($1, 'person', $2, $3, '{m}', '{apply}', 'x', now(), now() + '1 day')",
                grant,
                parent,
                agent,
            )
            await conn.execute(
                "INSERT INTO delegation_use (delegation_id, action, outcome, actor, at) VALUES ($1, 'apply', 'served',"
                " 'x', now())",
                grant,
            )
            through = [m for m in db.load_migrations() if m.version <= 17]
            assert await db.migrate(conn, through) == ["0017_key_identity_wallet_esign_by_person.sql"]
            assert dict(await conn.fetch("SELECT id_number_index, person_id FROM person_id_number")) == {
                b"i1": parent,
                b"i2": agent,
            }
            assert await conn.fetchval("SELECT dependent_born_on FROM guardianship") == date(2020, 5, 1)
            assert await conn.fetchval("SELECT principal_id FROM delegation_use") == parent
        finally:
            await conn.close()


async def test_0018_and_0019_keep_applications_ledgers_and_inboxes(servers: tuple[str, str], worker_id: str) -> None:
    """Rows written before 0018: a task names its application's person, the ledger and inbox of an account without a
    person move to their own tables, a person's stay; an application's and a task's ids keep their persons (0022)."""
    before = [m for m in db.load_migrations() if m.version < 18]
    async with empty_database(servers[0], f"zb_0018_{worker_id}_{os.getpid()}") as dsn:
        conn = await db.connect(dsn)
        try:
            await db.migrate(conn, before)
            person, with_person, without, app = (uuid.uuid4() for _ in range(4))
            await conn.execute("INSERT INTO person (id, name, created_at) VALUES ($1, 'x', now())", person)
            await conn.executemany(
                "INSERT INTO auth_account (id, person_id, created_at) VALUES ($1, $2, now())",
                [(with_person, person), (without, None)],
            )
            await conn.execute(
                "INSERT INTO application (id, matter_code, applicant_person_id, for_person_id, status, form, materials,"
                " fingerprint, submitted_at, due_at, updated_at) VALUES ($1, 'm', $2, $2, 'submitted', '', '[]', '',"
                " now(), now(), now())",
                app,
                person,
            )
            department = await conn.fetchval(
                "INSERT INTO department (id, name, credit_code, region_code) VALUES ($1, 'd', 'c', 'r') RETURNING id",
                uuid.uuid4(),
            )
            await conn.execute(
                "INSERT INTO application_task (id, application_id, matter_code, department_id, required, status,"
                " updated_at) VALUES ($1, $2, 'm', $3, true, 'pending', now())",
                uuid.uuid4(),
                app,
                department,
            )
            await conn.executemany(
                "INSERT INTO sync_mutation (account_id, id, client_id, seq, name, fingerprint, status, recorded_at)"
                " VALUES ($1, $2, $2, 1, 'm', '', 'applied', now())",
                [(with_person, uuid.uuid4()), (without, uuid.uuid4())],
            )
            await conn.executemany(
                "INSERT INTO notify_notification (id, dedup_key, event, kind, person_id, account_id, title, body, data,"
                " lane, created_at) VALUES ($1, $4, 'e', 'k', $2, $3, 't', 'b', '{}', 'l', now())",
                [(uuid.uuid4(), person, None, "a"), (uuid.uuid4(), None, without, "b")],
            )
            await db.migrate(conn)
            assert await conn.fetchval("SELECT for_person_id FROM application_task") == person
            # 0022: the application's and the task's ids are found again by id alone.
            assert await conn.fetchval("SELECT for_person_id FROM application_key WHERE id = $1", app) == person
            assert await conn.fetchval("SELECT for_person_id FROM application_task_key") == person
            assert await conn.fetchval("SELECT person_id FROM sync_mutation") == person
            assert await conn.fetchval("SELECT account_id FROM sync_account_mutation") == without
            assert await conn.fetchval("SELECT person_id FROM notify_notification") == person
            assert await conn.fetchval("SELECT account_id FROM notify_other_notification") == without
        finally:
            await conn.close()
