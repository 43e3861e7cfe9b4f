"""PostgreSQL's binary COPY format, written ahead of time: rows as bytes, sent by ``copy_rows``.

asyncpg's ``copy_records_to_table`` encodes Python values while the connection waits. Batch issuing
instead has its signing processes encode each row once, next to the values they make, so the process
that talks to the database only joins bytes. A row is ``count(n)`` followed by ``n`` fields, each
made by one of the encoders here (the wire format of ``COPY ... FROM STDIN (FORMAT binary)``: a
32-bit length, -1 for NULL, then the type's binary ``send`` form).
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from api.kernel.db import Conn

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
UUID_HEAD = b"\x00\x00\x00\x10"
SEND_SIZE = 1 << 18  # 256 KB
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_EPOCH_SECONDS = 946_684_800  # 2000-01-01 in Unix seconds: timestamps count microseconds from there


_LENGTH = struct.Struct(">i").pack


def fields_python(*values: bytes | str | None) -> bytes:
    """Many fields at once, each a value's binary form as it is: bytes (bytea, a uuid's 16 bytes, or a
    form made with the encoders here less its length), text (sent as UTF-8) or None (NULL).

    ``fields`` is the C form of this (``api/kernel/_pgcopy.c``) where it was built, this otherwise: a row's
    twenty fields through twenty calls cost the signing processes more than the bytes they made.
    """
    parts: list[bytes] = []
    for value in values:
        if value is None:
            parts.append(NULL)
            continue
        if isinstance(value, str):
            value = value.encode()
        elif type(value) is not bytes:
            raise TypeError(f"a field is bytes, str or None, not {type(value).__name__}")
        parts += (_LENGTH(len(value)), value)
    return b"".join(parts)


try:
    from api.kernel._pgcopy import fields
except ImportError:  # built where no C compiler was found (hatch_build.py)
    fields = fields_python


def count(fields: int) -> bytes:
    return fields.to_bytes(2, "big")


def raw(data: bytes) -> bytes:
    """bytea, or any type whose binary form is the bytes themselves."""
    return len(data).to_bytes(4, "big") + data


def text(value: str) -> bytes:
    return raw(value.encode())


def uuid(value: bytes) -> bytes:
    """A uuid from its 16 bytes."""
    return UUID_HEAD + value


def int4(value: int) -> bytes:
    return b"\x00\x00\x00\x04" + value.to_bytes(4, "big", signed=True)


def int8(value: int) -> bytes:
    return b"\x00\x00\x00\x08" + value.to_bytes(8, "big", signed=True)


def timestamptz(value: datetime) -> bytes:
    delta = value - _EPOCH
    return int8((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def timestamptz_seconds(seconds: int) -> bytes:
    """A timestamptz from whole Unix seconds."""
    return int8((seconds - _EPOCH_SECONDS) * 1_000_000)


def json(data: bytes) -> bytes:
    """A json column from its JSON text (UTF-8)."""
    return raw(data)


JSONB_VERSION = b"\x01"


def jsonb(data: bytes) -> bytes:
    """A jsonb column from its JSON text: the binary form is a version byte, 1, then the text."""
    return (len(data) + 1).to_bytes(4, "big") + JSONB_VERSION + data


async def copy_rows(conn: Conn, table: str, columns: Sequence[str], rows: list[bytes]) -> None:
    """Send ``rows`` (each ``count`` and its fields, in ``columns`` order; or runs of such rows, joined) by
    binary COPY. Nothing to send is no statement at all."""
    if not any(rows):
        return
    data = memoryview(b"".join((HEADER, *rows, TRAILER)))

    async def source() -> AsyncIterator[memoryview]:
        # In pieces, which asyncpg sends as the socket takes them: one large write would be buffered
        # whole by the transport and moved down after every partial send.
        for at in range(0, len(data), SEND_SIZE):
            yield data[at : at + SEND_SIZE]

    await conn.copy_to_table(table, source=source(), columns=list(columns), format="binary")
