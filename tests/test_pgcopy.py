"""Rows encoded ahead of time in the binary COPY format read back as the values they were made from."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.kernel import pgcopy
from tests.native import forms

COLUMNS = ("id", "name", "blob", "small", "big", "at", "doc", "docb")


def _row(values: tuple) -> bytes:
    ident, name, blob, small, big, at, doc = values
    encoded_doc = msgspec.json.encode(doc)
    return b"".join(
        (
            pgcopy.count(len(COLUMNS)),
            pgcopy.uuid(ident.bytes),
            pgcopy.NULL if name is None else pgcopy.text(name),
            pgcopy.raw(blob),
            pgcopy.int4(small),
            pgcopy.int8(big),
            pgcopy.timestamptz(at),
            pgcopy.json(encoded_doc),
            pgcopy.jsonb(encoded_doc),
        )
    )


async def _table(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "CREATE TEMP TABLE copied (id uuid, name text, blob bytea, small integer, big bigint, "
        "at timestamptz, doc json, docb jsonb)"
    )


_CHARS = st.characters(
    exclude_characters="\x00", exclude_categories=("Cs",)
)  # text PostgreSQL holds: no NUL, no lone surrogate
values = st.tuples(
    st.uuids(),
    st.none() | st.text(_CHARS),
    st.binary(max_size=300),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**63), 2**63 - 1),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)),
    st.dictionaries(st.text(_CHARS, max_size=5), st.text(_CHARS, max_size=10) | st.integers(-1000, 1000), max_size=4),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(values, min_size=1, max_size=20))
async def test_rows_read_back_as_written(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    async with conn.transaction():
        await _table(conn)
        await pgcopy.copy_rows(conn, "copied", COLUMNS, [_row(r) for r in rows])
        stored = await conn.fetch("SELECT * FROM copied")
        await conn.execute("DROP TABLE copied")
    assert [tuple(s) for s in stored] == [(*r, r[-1]) for r in rows]


async def test_whole_seconds_and_datetimes_agree(conn: asyncpg.Connection) -> None:
    at = datetime(2026, 11, 22, 8, 30, 5, tzinfo=UTC)
    assert pgcopy.timestamptz_seconds(int(at.timestamp())) == pgcopy.timestamptz(at)
    assert pgcopy.timestamptz(at + timedelta(microseconds=7)) != pgcopy.timestamptz(at)
    async with conn.transaction():
        await _table(conn)
        await pgcopy.copy_rows(conn, "copied", ("at",), [pgcopy.count(1) + pgcopy.timestamptz_seconds(0)])
        assert await conn.fetchval("SELECT at FROM copied") == datetime(1970, 1, 1, tzinfo=UTC)
        await pgcopy.copy_rows(conn, "copied", ("id",), [])  # nothing to send is no statement at all
        await conn.execute("DROP TABLE copied")


async def test_a_row_that_breaks_a_rule_fails_the_copy(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE strict (id uuid NOT NULL)")
        try:
            await pgcopy.copy_rows(conn, "strict", ("id",), [pgcopy.count(1) + pgcopy.NULL])
        except asyncpg.NotNullViolationError:
            pass
        else:
            raise AssertionError("a NULL in a NOT NULL column was stored")
    assert uuid.uuid4()  # the connection is usable afterwards
    assert await conn.fetchval("SELECT 1") == 1


async def test_rows_spanning_several_pieces_arrive_whole(conn: asyncpg.Connection) -> None:
    blobs = [bytes([i]) * (pgcopy.SEND_SIZE // 7 + i) for i in range(40)]  # rows cut across piece boundaries
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE pieces (n integer, blob bytea)")
        await pgcopy.copy_rows(
            conn,
            "pieces",
            ("n", "blob"),
            [pgcopy.count(2) + pgcopy.int4(i) + pgcopy.raw(b) for i, b in enumerate(blobs)],
        )
        stored = await conn.fetch("SELECT n, blob FROM pieces ORDER BY n")
        await conn.execute("DROP TABLE pieces")
    assert [r["blob"] for r in stored] == blobs


FIELDS = forms(pgcopy.fields_python, "api.kernel._pgcopy", "fields")


@pytest.mark.parametrize("fields", FIELDS)
@given(values=st.lists(st.none() | st.binary(max_size=300) | st.text(_CHARS), max_size=30))
def test_fields_are_the_encoders_joined(fields: Callable[..., bytes], values: list[bytes | str | None]) -> None:
    one_by_one = [pgcopy.NULL if v is None else pgcopy.text(v) if isinstance(v, str) else pgcopy.raw(v) for v in values]
    assert fields(*values) == b"".join(one_by_one)


@pytest.mark.parametrize("fields", FIELDS)
def test_fields_refuse_other_values(fields: Callable[..., bytes]) -> None:
    for value in (1, bytearray(b"x"), ["x"], 1.5):
        with pytest.raises(TypeError):
            fields(b"x", value)
    assert fields() == b""


@pytest.mark.parametrize("fields", FIELDS)
async def test_a_row_of_fields_reads_back(conn: asyncpg.Connection, fields: Callable[..., bytes]) -> None:
    ident = uuid.uuid4()
    row = pgcopy.count(4) + fields(ident.bytes, "欧阳娜娜", None, pgcopy.JSONB_VERSION + '{"a": [1, "乙"]}'.encode())
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE fielded (id uuid, name text, blob bytea, docb jsonb)")
        await pgcopy.copy_rows(conn, "fielded", ("id", "name", "blob", "docb"), [row])
        stored = await conn.fetchrow("SELECT * FROM fielded")
        await conn.execute("DROP TABLE fielded")
    assert tuple(stored) == (ident, "欧阳娜娜", None, {"a": [1, "乙"]})
