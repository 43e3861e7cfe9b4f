"""Wallet items: SQL next to the one function that runs it.

Writers call these inside their own transaction and record the change for sync
(``api.kernel.changelog.record_change(conn, person_id, "wallet_item", item.id, "put", item_data(item))``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec

import esign
from api.kernel.db import Conn

Kind = Literal["certificate", "record", "event", "application"]


class WalletItem(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    person_id: UUID
    kind: Kind
    title: str
    at: datetime
    summary: dict[str, Any]
    certificate_id: UUID | None
    application_id: UUID | None
    bundle_code: str | None
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime


COLUMNS = WalletItem.__struct_fields__


def item_data(item: WalletItem) -> dict[str, Any]:
    """The item as JSON values, for the change log."""
    return msgspec.to_builtins(item)


def _record(item: WalletItem) -> tuple[Any, ...]:
    return msgspec.structs.astuple(item)  # COLUMNS is the order of the struct's fields


INSERT_ITEM = f"INSERT INTO wallet_item ({', '.join(COLUMNS)}) VALUES ({', '.join(f'${i}' for i in range(1, 13))})"


async def insert_wallet_item(conn: Conn, item: WalletItem) -> None:
    await conn.execute(INSERT_ITEM, *_record(item))


UPDATE_CERTIFICATE_ITEM = f"""
UPDATE wallet_item SET summary = (summary::jsonb || $2::jsonb)::json, data = (data::jsonb || $3::jsonb)::json,
    updated_at = $4
WHERE certificate_id = $1
RETURNING {", ".join(COLUMNS)}
"""


async def update_certificate_item(
    conn: Conn, certificate_id: UUID, *, summary: dict[str, Any], data: dict[str, Any], now: datetime
) -> WalletItem | None:
    """Merge new keys into the summary and data of a certificate's item; the updated item, if any."""
    row = await conn.fetchrow(UPDATE_CERTIFICATE_ITEM, certificate_id, summary, data, now)
    return None if row is None else WalletItem(**dict(row))


async def get_certificate_item_id(conn: Conn, certificate_id: UUID, person_id: UUID) -> UUID | None:
    """The id of the person's wallet item for the certificate (None when they hold none)."""
    return await conn.fetchval(
        "SELECT id FROM wallet_item WHERE certificate_id = $1 AND person_id = $2", certificate_id, person_id
    )


# --- items the wallet writes itself: department records and life events -------------------------------


class Provenance(msgspec.Struct, frozen=True, kw_only=True):
    """Where a non-certificate item came from (never synced: ``item_data`` leaves it out)."""

    department_id: UUID | None = None
    external_ref: str | None = None
    request_hash: bytes | None = None
    sealed_data: bytes | None = None
    source_key: str | None = None


PROVENANCE = ("department_id", "external_ref", "request_hash", "sealed_data", "source_key")
INSERT_SOURCED = f"""
INSERT INTO wallet_item ({", ".join(COLUMNS + PROVENANCE)})
VALUES ({", ".join(f"${i}" for i in range(1, len(COLUMNS) + len(PROVENANCE) + 1))})
ON CONFLICT (source_key) WHERE source_key IS NOT NULL DO NOTHING
RETURNING id
"""


async def insert_sourced_item(conn: Conn, item: WalletItem, source: Provenance) -> bool:
    """Insert an item with its provenance; False when its ``source_key`` is already taken."""
    values = _record(item) + tuple(getattr(source, c) for c in PROVENANCE)
    return await conn.fetchval(INSERT_SOURCED, *values) is not None


class StoredItem(msgspec.Struct, frozen=True, kw_only=True):
    """An item as the wallet reads it back: the row, its provenance and what joins add."""

    id: UUID
    person_id: UUID
    kind: Kind
    title: str
    at: datetime
    summary: dict[str, Any]
    certificate_id: UUID | None
    application_id: UUID | None
    bundle_code: str | None
    data: dict[str, Any]
    department_id: UUID | None
    department_name: str | None
    external_ref: str | None
    request_hash: bytes | None
    sealed_data: bytes | None
    source_key: str | None
    certificate: Any = None  # esign's shown certificate as an anonymous record, when the query carries it


ITEM_SELECT = """
SELECT w.id, w.person_id, w.kind, w.title, w.at, w.summary, w.certificate_id, w.application_id,
       coalesce(w.bundle_code, a.bundle_code) AS bundle_code, w.data, w.department_id, d.name AS department_name,
       w.external_ref, w.request_hash, w.sealed_data, w.source_key
FROM wallet_item w
LEFT JOIN application a ON a.id = w.application_id
LEFT JOIN department d ON d.id = w.department_id
"""


def _stored(row: asyncpg.Record) -> StoredItem:
    return StoredItem(**dict(row))


async def get_item(conn: Conn, item_id: UUID) -> StoredItem | None:
    row = await conn.fetchrow(f"{ITEM_SELECT} WHERE w.id = $1", item_id)
    return None if row is None else _stored(row)


async def get_items(conn: Conn, item_ids: list[UUID]) -> list[StoredItem]:
    """The stored items among ``item_ids``, in the order asked."""
    rows = {r["id"]: _stored(r) for r in await conn.fetch(f"{ITEM_SELECT} WHERE w.id = ANY($1::uuid[])", item_ids)}
    return [rows[i] for i in item_ids if i in rows]


async def find_pushed_item(conn: Conn, department_id: UUID, kind: str, external_ref: str) -> StoredItem | None:
    """The item a department pushed under ``external_ref`` (records and life events apart)."""
    query = f"{ITEM_SELECT} WHERE w.department_id = $1 AND w.kind = $2 AND w.external_ref = $3"
    row = await conn.fetchrow(query, department_id, kind, external_ref)
    return None if row is None else _stored(row)


async def find_item_by_source(conn: Conn, source_key: str) -> StoredItem | None:
    row = await conn.fetchrow(f"{ITEM_SELECT} WHERE w.source_key = $1", source_key)
    return None if row is None else _stored(row)


# Applications are not copied into wallet_item: the application row is the record and it changes
# (status), so the wallet reads it as an item of kind "application" whose id is the application's.
# A person sees the applications made for them and those they made (for a newborn, say).
LIST_ITEMS = f"""
SELECT x.*, (SELECT v FROM ({esign.SELECT_SHOWN} WHERE c.id = x.certificate_id) v) AS certificate FROM (
    SELECT * FROM ({ITEM_SELECT}
        WHERE w.person_id = $1 AND ($2::text IS NULL OR w.kind = $2)
          AND ($3::timestamptz IS NULL OR (w.at, w.id) < ($3, $4::uuid))
        ORDER BY w.at DESC, w.id DESC LIMIT $5) stored
    UNION ALL
    SELECT a.id, $1::uuid, 'application', coalesce(b.name, m.name, coalesce(a.bundle_code, a.matter_code)), a.submitted_at,
           json_build_object('status', a.status, 'bundle_code', a.bundle_code, 'matter_code', a.matter_code,
                              'applicant_person_id', a.applicant_person_id, 'for_person_id', a.for_person_id,
                              'completed_at', a.completed_at),
           NULL::uuid, a.id, a.bundle_code, '{{}}'::json, NULL::uuid, NULL::text, NULL::text, NULL::bytea, NULL::bytea,
           NULL::text
    FROM application a
    LEFT JOIN catalog_bundle b ON b.code = a.bundle_code
    LEFT JOIN catalog_matter m ON m.code = a.matter_code
    WHERE (a.for_person_id = $1 OR a.applicant_person_id = $1) AND ($2::text IS NULL OR $2 = 'application')
      AND ($3::timestamptz IS NULL OR (a.submitted_at, a.id) < ($3, $4::uuid))
    ORDER BY at DESC, id DESC
    LIMIT $5
) x
ORDER BY x.at DESC, x.id DESC
"""


async def list_items(
    conn: Conn, person_id: UUID, *, kind: str | None, before: tuple[datetime, UUID] | None, limit: int
) -> list[StoredItem]:
    """A person's items (applications included), newest first, after the keyset ``before``; each certificate
    item carries its certificate (``certificate``), read in the same query."""
    at, last = before if before else (None, None)
    return [_stored(r) for r in await conn.fetch(LIST_ITEMS, person_id, kind, at, last, limit)]


LIST_STORED = f"""
{ITEM_SELECT}
WHERE w.person_id = $1 AND w.kind <> 'application' AND ($2::timestamptz IS NULL OR (w.at, w.id) > ($2, $3::uuid))
ORDER BY w.at, w.id
LIMIT $4
"""


async def list_stored_items(
    conn: Conn, person_id: UUID, *, after: tuple[datetime, UUID] | None = None, limit: int | None = None
) -> list[StoredItem]:
    """A person's stored items (applications aside), oldest first (timeline and export)."""
    at, last = after if after else (None, None)
    return [_stored(r) for r in await conn.fetch(LIST_STORED, person_id, at, last, limit)]


APPLICATION_IDS = """
SELECT id FROM application WHERE applicant_person_id = $1 OR for_person_id = $1 ORDER BY submitted_at, id
"""


async def application_ids(conn: Conn, person_id: UUID) -> list[UUID]:
    """Applications a person made or that were made for them, oldest first."""
    return [r[0] for r in await conn.fetch(APPLICATION_IDS, person_id)]


async def get_token(conn: Conn, certificate_id: UUID) -> str | None:
    """The signed token of a certificate (None until it is signed)."""
    return await conn.fetchval("SELECT token FROM esign_certificate WHERE id = $1", certificate_id)
