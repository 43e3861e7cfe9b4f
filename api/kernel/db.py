"""asyncpg pool with msgspec JSON codecs, and the migration runner."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeAlias, TypeVar

import asyncpg
import msgspec

from api.kernel import distribution

log = logging.getLogger("zhangban.db")

# What store functions take: a connection, or the pool's proxy of one (which forwards every call to it).
Conn: TypeAlias = "asyncpg.Connection | asyncpg.pool.PoolConnectionProxy"

_T = TypeVar("_T")


def one(row: _T | None, what: str) -> _T:
    """The row a query cannot fail to return (``INSERT ... RETURNING``, an upsert, a singleton table,
    a row just read under lock): a clear error names it rather than a ``TypeError`` further on."""
    if row is None:
        raise LookupError(f"{what}: the query returned no row")
    return row


_SHARD_SUFFIX = re.compile(r"_\d+$")
_NAMED = re.compile(r'constraint "([^"]+)"')


def constraint_name(exc: asyncpg.PostgresError) -> str | None:
    """The constraint an error names, as the migrations named it. On a Citus cluster an error raised on a shard
    comes back without the field, its message naming the shard's copy (the name followed by ``_<shard id>``)."""
    name = getattr(exc, "constraint_name", None)
    if name:
        return name
    found = _NAMED.search(str(exc))
    return _SHARD_SUFFIX.sub("", found.group(1)) if found else None


_S = TypeVar("_S", bound=str)


def one_of(value: str, allowed: tuple[_S, ...]) -> _S:
    """A text column's value as the ``Literal`` type a response declares for it (``allowed``, the
    values its CHECK constraint admits there): checked, so a value the type does not name fails here,
    by name, rather than being sent as something the API says it cannot be."""
    for known in allowed:
        if value == known:
            return known
    raise ValueError(f"{value!r} is not one of {allowed}")


_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()


def json_text(value: object) -> str:
    """The JSON text of ``value`` as the json codec writes it (``msgspec.Raw`` as it is), for the columns
    that keep JSON as text: the change log's data and the outbox's payloads (migrations 0044, 0045)."""
    return _json_encoder.encode(value).decode()


def _encode_jsonb(value: object) -> bytes:
    return b"\x01" + _json_encoder.encode(value)


def _decode_jsonb(data: bytes) -> object:
    return _json_decoder.decode(memoryview(data)[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Both travel in the binary format (for json the JSON text itself, for jsonb a version byte, 1,
    # and the text): binary COPY and values nested in records speak only that, and it spares the
    # server a text conversion.
    await conn.set_type_codec(
        "json", encoder=_json_encoder.encode, decoder=_json_decoder.decode, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )


class Connection(asyncpg.Connection):
    """asyncpg's connection, carrying the audit chain's key (``api.kernel.audit`` reads it; ``None``: not loaded)."""

    __slots__ = ("audit_key",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.audit_key: bytes | None = None


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on every release: a second round trip for a one-query request. Our code leaves no session
    state behind (no SET, LISTEN, cursors, or session locks but the migration lock, released in a
    ``finally``), and asyncpg still rolls back a transaction left open before calling this.
    """


# On a Citus coordinator, a transaction that ran a multi-shard statement (a change-log bump for a family, a
# consent found by id) over several connections per worker may not then write a coordinator table with a
# foreign key to a reference table (most of them, once the catalogue is replicated): one connection per
# worker keeps both possible. Citus also hides its shards (those of reference tables and of the Citus-managed
# tables, on the coordinator too) from every read of pg_class by calling a function per row; asyncpg's look-up of
# a type it has not met on a connection (an array of uuid, of int8, ...) reads pg_class that way hundreds of times,
# 2 s instead of 20 ms per type and connection. The app lists no relations, so its connections see the shards.
# One PostgreSQL keeps the citus settings as placeholders and ignores them.
SERVER_SETTINGS = {
    "application_name": "zhangban",
    "timezone": "UTC",
    "citus.multi_shard_modify_mode": "sequential",
    "citus.override_table_visibility": "off",
}


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 20, audit_key: bytes | None = None
) -> asyncpg.Pool:
    """A pool whose json/jsonb columns read and write Python values through msgspec.

    ``audit_key`` (``Keyring.audit_key``) lets its connections append to and verify the audit log.
    """

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if not isinstance(conn, Connection):  # the pool makes them of connection_class below
            raise TypeError(f"expected a {Connection.__qualname__}, got {type(conn).__qualname__}")
        conn.audit_key = audit_key

    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init,
        reset=_keep_session,
        connection_class=Connection,
        server_settings=SERVER_SETTINGS,
    )


async def connect(dsn: str, *, audit_key: bytes | None = None) -> Conn:
    """A single connection with the same codecs as the pool (for commands and tests)."""
    conn = await asyncpg.connect(dsn, connection_class=Connection, server_settings=SERVER_SETTINGS)
    await _init_connection(conn)
    conn.audit_key = audit_key
    return conn


# --- migrations ------------------------------------------------------------------------------

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any fixed 64-bit number works; this one is the first 8 bytes of sha256("zhangban.migrate").
MIGRATION_LOCK = int.from_bytes(hashlib.sha256(b"zhangban.migrate").digest()[:8], "big", signed=True)

CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


# CREATE/DROP INDEX CONCURRENTLY (an index on a table that takes writes) cannot run in a transaction
# block, nor in a query of several statements: a migration using it runs outside a transaction, one
# statement at a time (each ends its line with ";"), and is recorded once all of them succeeded.
CONCURRENTLY = re.compile(r"^[^-\n]*\bCONCURRENTLY\b", re.IGNORECASE | re.MULTILINE)
STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)

LOCK_RETRY = 0.1  # seconds between tries for the migration lock
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def in_transaction(self) -> bool:
        return CONCURRENTLY.search(self.sql) is None

    def statements(self) -> list[str]:
        return [s.strip() for s in STATEMENT_END.split(self.sql) if re.sub(r"--[^\n]*", "", s).strip()]


def load_migrations() -> list[Migration]:
    """Every ``migrations/NNNN_name.sql`` shipped with the package, in order."""
    found = []
    for entry in resources.files("migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def migrate(conn: Conn, migrations: list[Migration] | None = None) -> list[str]:
    """Apply what is not yet applied, each file once and in its own transaction (outside one, for an
    index built or dropped CONCURRENTLY).

    A session advisory lock makes two processes starting together take turns; the second one
    finds everything applied and does nothing. On a Citus coordinator the tables
    ``api.kernel.distribution`` names are then distributed (nothing happens on a single PostgreSQL).
    """
    migrations = load_migrations() if migrations is None else migrations
    applied_now: list[str] = []
    # Tried, not waited for: a process waiting inside pg_advisory_lock holds a snapshot, which the other
    # one's CREATE INDEX CONCURRENTLY waits to see end — a deadlock PostgreSQL breaks by failing one.
    while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK):
        await asyncio.sleep(LOCK_RETRY)
    try:
        await conn.execute(CREATE_SCHEMA_MIGRATIONS)
        done = {
            r["version"]: r["checksum"] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        for m in migrations:
            if m.version in done:
                if done[m.version] != m.checksum:
                    # An edited migration would leave databases in different shapes; say so loudly.
                    log.warning("migration %s changed after it was applied", m.name)
                continue
            if m.in_transaction:
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(RECORD_MIGRATION, m.version, m.name, m.checksum)
            else:
                for statement in m.statements():
                    await conn.execute(statement)
                await conn.execute(RECORD_MIGRATION, m.version, m.name, m.checksum)
            applied_now.append(m.name)
            log.info("applied migration %s", m.name)
        await distribution.distribute(conn)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied_now
