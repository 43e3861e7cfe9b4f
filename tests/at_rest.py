"""Searching every stored column for values that must not rest in the clear."""

from __future__ import annotations

import json

import asyncpg

SCANNED_TYPES = ("text", "character varying", "character", "bytea", "json", "jsonb", "ARRAY", "USER-DEFINED")


def forms(value: str) -> list[str]:
    """The value as stored raw and as a JSON encoder that escapes non-ASCII would store it."""
    escaped = json.dumps(value)[1:-1]
    return [value] if escaped == value else [value, escaped]


async def columns(conn: asyncpg.Connection) -> list[tuple[str, str, str]]:
    rows = await conn.fetch(
        """SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.data_type = ANY($1::text[])
           ORDER BY 1, 2""",
        list(SCANNED_TYPES),
    )
    return [(r["table_name"], r["column_name"], r["data_type"]) for r in rows]


async def found(conn: asyncpg.Connection, table: str, column: str, data_type: str, needles: list[str]) -> list[str]:
    """The needles that occur anywhere in the column (bytea searched as bytes, everything else as text)."""
    value = f'"{column}"' if data_type == "bytea" else f'"{column}"::text'
    # The alias must not be a column name of any table (some have a column "n").
    needle = "convert_to(zb_needle, 'UTF8')" if data_type == "bytea" else "zb_needle"
    return [
        r["zb_needle"]
        for r in await conn.fetch(
            f"SELECT zb_needle FROM unnest($1::text[]) AS zb_needle WHERE EXISTS "
            f'(SELECT 1 FROM "{table}" WHERE position({needle} IN {value}) > 0)',
            needles,
        )
    ]
