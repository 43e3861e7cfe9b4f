"""Status-list slots, and the signed trust list and status lists with their cache in PostgreSQL.

Slots come from the sequence ``esign_status_slot_seq`` (see migration 0015): ``nextval`` never
waits for another transaction, so issuers in parallel never queue on a counter row, and a range
for a batch is one query. A new list gets its row the first time one of its slots is handed out,
and that changes the trust list (which names every status list).

Signed lists are cached in their row: ``version`` counts changes (a status flip bumps its list, a
seal change or a new list bumps the trust list) and the cached token is served while it was made
from the current version and is younger than ``RESIGN_AFTER``. The trust list says it is fresh for
24 hours, so signing again after 12 hours means a verifier that fetches any time gets a list fresh
for at least 12 more, even when nothing changed and nobody issued anything. Whoever finds the cache
stale signs a new list from one consistent snapshot and stores it unless a newer one got there
first; two workers doing so at once both produce valid lists.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from api.kernel.db import Conn, one
from esign.codec import statuslist, trustlist
from esign.errors import StatusListNotFound
from esign.state import EsignState
from esign.store import seal as seal_store

RESIGN_AFTER = timedelta(hours=12)

NEXT_SLOTS = "SELECT nextval('esign_status_slot_seq') FROM generate_series(1, $1)"
OPEN_LISTS = """
INSERT INTO esign_status_list (id) SELECT unnest($1::integer[])
ON CONFLICT ON CONSTRAINT esign_status_list_pkey DO NOTHING
RETURNING id
"""


async def allocate_slots(conn: Conn, count: int) -> list[tuple[int, int]]:
    """``count`` fresh ``(list id, index)`` slots, in order."""
    rows = await conn.fetch(NEXT_SLOTS, count)
    slots = [divmod(r[0], statuslist.SLOTS) for r in rows]
    opened = await conn.fetch(OPEN_LISTS, sorted({list_id for list_id, _ in slots}))
    if opened:
        await seal_store.trust_list_changed(conn)
    return slots


async def status_changed(conn: Conn, list_id: int) -> None:
    """A status in the list changed: the cached signed list is stale from this commit on."""
    await conn.execute("UPDATE esign_status_list SET version = version + 1 WHERE id = $1", list_id)


def _snapshot(conn: Conn) -> Any:
    # Inside a caller's transaction its snapshot is used; otherwise one consistent read of our own.
    if conn.is_in_transaction():
        return contextlib.nullcontext()
    return conn.transaction(isolation="repeatable_read", readonly=True)


def etag(token: str) -> str:
    return '"' + hashlib.sha256(token.encode()).hexdigest()[:32] + '"'


def _current(row: asyncpg.Record, now: datetime) -> bool:
    signed_at = row["signed_at"]
    return (
        row["signed_token"] is not None
        and row["signed_version"] == row["version"]
        and now - RESIGN_AFTER < signed_at <= now
    )


STORE_STATUS_LIST = """
UPDATE esign_status_list SET signed_version = $2, signed_token = $3, signed_at = $4
WHERE id = $1 AND (signed_version IS NULL OR signed_version < $2 OR (signed_version = $2 AND signed_at < $4))
"""
NOT_VALID = """
SELECT status_index, status FROM esign_certificate WHERE status_list_id = $1 AND status IN ('revoked', 'suspended')
UNION ALL
SELECT status_index, status FROM esign_device_credential WHERE status_list_id = $1 AND status = 'revoked'
"""


async def status_list_token(conn: Conn, esign: EsignState, list_id: int, *, now: datetime) -> str:
    """The signed status list ``list_id`` (signed again when stale); ``status_list_not_found``."""
    query = "SELECT version, signed_version, signed_token, signed_at FROM esign_status_list WHERE id = $1"
    row = await conn.fetchrow(query, list_id)
    if row is None:
        raise StatusListNotFound(list_id=list_id)
    if _current(row, now):
        return row["signed_token"]
    async with _snapshot(conn):
        version = await conn.fetchval("SELECT version FROM esign_status_list WHERE id = $1", list_id)
        entries = await conn.fetch(NOT_VALID, list_id)
    bits = statuslist.new_status_bits()
    for entry in entries:
        statuslist.set_status(bits, entry[0], statuslist.REVOKED if entry[1] == "revoked" else statuslist.SUSPENDED)
    token = statuslist.build_status_list(
        bits,
        url=esign.status_list_url(list_id),
        root_key=esign.platform.root_key,
        root_kid=esign.platform.root_kid,
        now=now,
    )
    await conn.execute(STORE_STATUS_LIST, list_id, version, token, now)
    return token


STORE_TRUST_LIST = """
UPDATE esign_trust_list SET signed_version = $1, signed_token = $2, signed_at = $3
WHERE id AND (signed_version IS NULL OR signed_version < $1 OR (signed_version = $1 AND signed_at < $3))
"""


def _entry(row: asyncpg.Record, types: list[str] | None) -> trustlist.SealEntry:
    entry = trustlist.seal_entry(
        row["certificate"],
        role=row["role"],
        status="revoked" if row["status"] == "revoked" else "active",
        department_name=row["department_name"],  # None for the platform's seal: its certificate names it
        types=types,
    )
    if row["retired_at"] is not None:
        # A rotated seal stays trusted for what it signed before it was retired, and for nothing after.
        until = min(entry.valid_until, int(row["retired_at"].timestamp()))
        entry = trustlist.seal_entry(
            row["certificate"],
            role=row["role"],
            department_name=row["department_name"],
            valid_until=until,
            types=types,
        )
    return entry


REGISTRY = (
    "SELECT code, name, gb_type_code, holder_kind, issuer_department_ids, fields FROM certificate_type ORDER BY code"
)


def _registry(rows: list[asyncpg.Record]) -> list[trustlist.TypeEntry]:
    return [
        trustlist.TypeEntry(
            r["code"],
            r["name"],
            r["gb_type_code"],
            r["holder_kind"],
            tuple(
                trustlist.FieldEntry(f["n"], f["key"], f["label"], f["type"])
                for f in sorted(r["fields"], key=lambda f: f["n"])
            ),
        )
        for r in rows
    ]


def _seal_types(row: asyncpg.Record, types: list[asyncpg.Record]) -> list[str] | None:
    """An issuer seal's types: those whose issuing departments include the seal's department."""
    if row["role"] != "issuer":
        return None
    return [t["code"] for t in types if row["department_id"] in t["issuer_department_ids"]]


async def trust_list_token(conn: Conn, esign: EsignState, *, now: datetime) -> str:
    """The signed trust list (signed again when stale)."""
    row = one(
        await conn.fetchrow("SELECT version, signed_version, signed_token, signed_at FROM esign_trust_list"),
        "trust list",
    )  # a singleton row, made by its migration
    if _current(row, now):
        return row["signed_token"]
    async with _snapshot(conn):
        version = await conn.fetchval("SELECT version FROM esign_trust_list")
        seals = await seal_store.trusted_seals(conn)
        types = await conn.fetch(REGISTRY)
        list_ids = [r[0] for r in await conn.fetch("SELECT id FROM esign_status_list ORDER BY id")]
    token = trustlist.build_trust_list(
        iss=esign.base_url,
        root_key=esign.platform.root_key,
        root_cert=esign.platform.root_cert,
        seals=[_entry(r, _seal_types(r, types)) for r in seals],
        status_lists=[trustlist.StatusListRef(i, esign.status_list_url(i)) for i in list_ids],
        types=_registry(types),
        now=now,
    )
    await conn.execute(STORE_TRUST_LIST, version, token, now)
    return token


def root_pem(esign: EsignState) -> str:
    """The root certificate as PEM, for verifiers to pin."""
    b64 = base64.b64encode(esign.platform.root_cert).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
