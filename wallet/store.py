"""Wallet items: SQL next to the one function that runs it.

Writers call these inside their own transaction and record the change for sync
(``api.kernel.changelog.record_change(conn, person_id, "wallet_item", item.id, "put", item_data(item))``).

Items are keyed by their person (``(person_id, id)``): on a Citus cluster a wallet sits on its person's shard,
and every statement that knows the person names it. A department's pushed item is found by its
``external_ref`` through ``wallet_item_ref``, which stays on the coordinator (one primary-key read).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec

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
UPDATE wallet_item SET summary = (summary::jsonb || $3::jsonb)::json, data = (data::jsonb || $4::jsonb)::json,
    updated_at = $5
WHERE person_id = $1 AND certificate_id = $2
RETURNING {", ".join(COLUMNS)}
"""


async def update_certificate_item(
    conn: Conn,
    person_id: UUID,
    certificate_id: UUID,
    *,
    summary: dict[str, Any],
    data: dict[str, Any],
    now: datetime,
) -> WalletItem | None:
    """Merge new keys into the summary and data of a certificate's item (in its holder's wallet); the updated
    item, if any."""
    row = await conn.fetchrow(UPDATE_CERTIFICATE_ITEM, person_id, certificate_id, summary, data, now)
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
ON CONFLICT (person_id, source_key) WHERE source_key IS NOT NULL DO NOTHING
RETURNING id
"""
INSERT_REF = """
INSERT INTO wallet_item_ref (department_id, kind, external_ref, person_id, item_id) VALUES ($1, $2, $3, $4, $5)
"""


async def insert_sourced_item(conn: Conn, item: WalletItem, source: Provenance) -> bool:
    """Insert an item with its provenance; False when its ``source_key`` is already taken (in its person's
    wallet: a source key names its person). A department's item is also entered under its ``external_ref``."""
    values = _record(item) + tuple(getattr(source, c) for c in PROVENANCE)
    if await conn.fetchval(INSERT_SOURCED, *values) is None:
        return False
    if source.department_id is not None and source.external_ref is not None:
        await conn.execute(INSERT_REF, source.department_id, item.kind, source.external_ref, item.person_id, item.id)
    return True


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


# The department is a reference table (beside every shard): a read of a person's items stays on their shard.
ITEM_SELECT = """
SELECT w.id, w.person_id, w.kind, w.title, w.at, w.summary, w.certificate_id, w.application_id,
       w.bundle_code, w.data, w.department_id, d.name AS department_name,
       w.external_ref, w.request_hash, w.sealed_data, w.source_key
FROM wallet_item w
LEFT JOIN department d ON d.id = w.department_id
"""

# An item from an application of a bundle shows the bundle: from the application, read apart (applications
# are placed by the person they are for, who need not be the item's): whose each is from the ids' keys (on the
# coordinator of a cluster), then the applications on those persons' shards.
APPLICATION_PERSONS = "SELECT for_person_id, id FROM application_key WHERE id = ANY($1::uuid[])"
BUNDLES = """
SELECT id, bundle_code FROM application
WHERE for_person_id = ANY($1::uuid[]) AND (for_person_id, id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
  AND bundle_code IS NOT NULL
"""


async def _stored(conn: Conn, rows: list[asyncpg.Record]) -> list[StoredItem]:
    items = [StoredItem(**dict(r)) for r in rows]
    wanted = [s.application_id for s in items if s.bundle_code is None and s.application_id is not None]
    if not wanted:
        return items
    keys = await conn.fetch(APPLICATION_PERSONS, wanted)
    found = await conn.fetch(BUNDLES, [k[0] for k in keys], [k[1] for k in keys]) if keys else []
    bundles: dict[UUID, str] = {r["id"]: r["bundle_code"] for r in found}
    return [
        msgspec.structs.replace(s, bundle_code=bundles[s.application_id]) if s.application_id in bundles else s
        for s in items
    ]


GET_ITEM = f"{ITEM_SELECT} WHERE w.person_id = $2 AND w.id = $1"
GET_ITEMS = f"{ITEM_SELECT} WHERE w.person_id = $2 AND w.id = ANY($1::uuid[])"
GET_ANYONES_ITEMS = f"{ITEM_SELECT} WHERE w.id = ANY($1::uuid[])"


async def get_item(conn: Conn, item_id: UUID, *, person_id: UUID | None) -> StoredItem | None:
    """The item, looked for in ``person_id``'s wallet (the caller's, one shard) and then, when it is not there
    (a dependent's item, say) or no person is given, in everyone's (on a cluster, every shard)."""
    found = await get_items(conn, [item_id], person_id=person_id)
    return found[0] if found else None


async def get_items(conn: Conn, item_ids: list[UUID], *, person_id: UUID | None) -> list[StoredItem]:
    """The stored items among ``item_ids``, in the order asked: looked for in ``person_id``'s wallet first,
    then, for those not there, in everyone's."""
    rows = {}
    if person_id is not None:
        rows = {r["id"]: r for r in await conn.fetch(GET_ITEMS, item_ids, person_id)}
    missing = [i for i in item_ids if i not in rows]
    if missing:
        rows |= {r["id"]: r for r in await conn.fetch(GET_ANYONES_ITEMS, missing)}
    return await _stored(conn, [rows[i] for i in item_ids if i in rows])


FIND_REF = "SELECT person_id, item_id FROM wallet_item_ref WHERE department_id = $1 AND kind = $2 AND external_ref = $3"


async def find_pushed_item(conn: Conn, department_id: UUID, kind: str, external_ref: str) -> StoredItem | None:
    """The item a department pushed under ``external_ref`` (records and life events apart)."""
    ref = await conn.fetchrow(FIND_REF, department_id, kind, external_ref)
    return None if ref is None else await get_item(conn, ref["item_id"], person_id=ref["person_id"])


async def find_item_by_source(conn: Conn, person_id: UUID, source_key: str) -> StoredItem | None:
    row = await conn.fetchrow(f"{ITEM_SELECT} WHERE w.person_id = $1 AND w.source_key = $2", person_id, source_key)
    return None if row is None else (await _stored(conn, [row]))[0]


# Applications are not copied into wallet_item: the application row is the record and it changes
# (status), so the wallet reads it as an item of kind "application" whose id is the application's.
# A person sees the applications made for them and those they made (for a newborn, say). A page is the
# newest of the stored items' page (on the person's shard) and the applications' page, merged here. The
# applications a person made for others are for persons they were guardian of, so both kinds are read among
# the applications for ``family`` (the person and everyone they are or were guardian of: ``auth.family``), on
# those persons' shards (one, for a person without dependents).
LIST_ITEMS = f"""
{ITEM_SELECT}
WHERE w.person_id = $1 AND ($2::text IS NULL OR w.kind = $2) AND ($3::timestamptz IS NULL OR (w.at, w.id) < ($3, $4::uuid))
ORDER BY w.at DESC, w.id DESC
LIMIT $5
"""
LIST_APPLICATION_ITEMS = """
SELECT a.id, $1::uuid AS person_id, 'application' AS kind,
       coalesce(b.name, m.name, coalesce(a.bundle_code, a.matter_code)) AS title, a.submitted_at AS at,
       json_build_object('status', a.status, 'bundle_code', a.bundle_code, 'matter_code', a.matter_code,
                         'applicant_person_id', a.applicant_person_id, 'for_person_id', a.for_person_id,
                         'completed_at', a.completed_at) AS summary,
       NULL::uuid AS certificate_id, a.id AS application_id, a.bundle_code, '{}'::json AS data,
       NULL::uuid AS department_id, NULL::text AS department_name, NULL::text AS external_ref,
       NULL::bytea AS request_hash, NULL::bytea AS sealed_data, NULL::text AS source_key
FROM application a
LEFT JOIN catalog_bundle b ON b.code = a.bundle_code
LEFT JOIN catalog_matter m ON m.code = a.matter_code
WHERE a.for_person_id = ANY($5::uuid[]) AND ARRAY[a.for_person_id, a.applicant_person_id] @> ARRAY[$1::uuid]
  AND ($2::timestamptz IS NULL OR (a.submitted_at, a.id) < ($2, $3::uuid))
ORDER BY a.submitted_at DESC, a.id DESC
LIMIT $4
"""


async def list_items(
    conn: Conn,
    person_id: UUID,
    *,
    family: list[UUID],
    kind: str | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[StoredItem]:
    """A person's items (applications included), newest first, after the keyset ``before``; ``family`` as above."""
    at, last = before if before else (None, None)
    rows = list(await conn.fetch(LIST_ITEMS, person_id, kind, at, last, limit))
    if kind is None or kind == "application":
        rows += await conn.fetch(LIST_APPLICATION_ITEMS, person_id, at, last, limit, family)
    rows.sort(key=lambda r: (r["at"], r["id"]), reverse=True)
    return await _stored(conn, rows[:limit])


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
    return await _stored(conn, list(await conn.fetch(LIST_STORED, person_id, at, last, limit)))


APPLICATION_IDS = """
SELECT for_person_id, id FROM application
WHERE for_person_id = ANY($2::uuid[]) AND ARRAY[for_person_id, applicant_person_id] @> ARRAY[$1::uuid]
ORDER BY submitted_at, id
"""


async def application_ids(conn: Conn, person_id: UUID, family: list[UUID]) -> list[tuple[UUID, UUID]]:
    """Applications a person made or that were made for them, oldest first: (person it is for, id); ``family`` as
    for ``list_items``."""
    return [(r[0], r[1]) for r in await conn.fetch(APPLICATION_IDS, person_id, family)]
