"""Append-only, hash-chained audit log for security-relevant acts.

Each entry's hash is ``HMAC-SHA256(key, prev_hash ‖ JCS(entry))`` where JCS is RFC 8785 canonical
JSON of ``{seq, at, actor, action, subject, data}`` and ``key`` is derived from the master key
(``Keyring.audit_key``, HKDF label ``zhangban/audit-chain/v2``): whoever can write the table but
does not hold the master key cannot re-chain an edited entry. Editing, deleting or reordering any
entry breaks the chain from that entry on; :func:`verify` names the first entry that does not check
out. A trigger refuses UPDATE and DELETE, and the chain catches whoever disables it.

Entries written before the chain was keyed (``chain_version`` 1, ``seq < audit_head.keyed_from``)
carry the plain recipe ``SHA-256(prev_hash ‖ JCS(entry))`` (:func:`entry_hash`) and are verified
with it; every later entry must be keyed (``chain_version`` 2). The first keyed entry's HMAC
covers the last plain hash, so an edit among the plain entries shows there at the latest.

The key travels on the connection (``api.kernel.db.connect`` / ``create_pool`` with ``audit_key``); a
connection without it can neither append nor verify.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from api.kernel.canonical import canonical_json
from api.kernel.db import Conn, one

GENESIS = bytes(32)


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    entries: int
    first_bad_entry: int | None


def _linked(prev_hash: bytes, seq: int, at: datetime, actor: str, action: str, subject: str, data: Any) -> bytes:
    body = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "data": data,
    }
    return prev_hash + canonical_json(body)


def entry_hash(prev_hash: bytes, seq: int, at: datetime, actor: str, action: str, subject: str, data: Any) -> bytes:
    """The plain link (chain_version 1, entries from before the chain was keyed): SHA-256."""
    return hashlib.sha256(_linked(prev_hash, seq, at, actor, action, subject, data)).digest()


def keyed_hash(
    key: bytes, prev_hash: bytes, seq: int, at: datetime, actor: str, action: str, subject: str, data: Any
) -> bytes:
    """The keyed link (chain_version 2): HMAC-SHA256 under the audit key."""
    return hmac.new(key, _linked(prev_hash, seq, at, actor, action, subject, data), hashlib.sha256).digest()


def _key(conn: Conn) -> bytes:
    key = getattr(conn, "audit_key", None)
    if not key:
        raise RuntimeError(
            "the audit key is not loaded on this connection (api.kernel.db.connect/create_pool audit_key=)"
        )
    return key


LOCK_HEAD = "SELECT seq, hash FROM audit_head WHERE id FOR UPDATE"
INSERT_ENTRY = """
INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash, chain_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 2)
"""
UPDATE_HEAD = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id"


async def append(
    conn: Conn,
    *,
    actor: str,
    action: str,
    subject: str = "",
    data: dict[str, Any] | None = None,
    client_address: str | None = None,
    at: datetime,
) -> int:
    """Add one entry in the caller's transaction; return its sequence number.

    ``data`` must hold no personal data in the clear (masked values or blind-index ids only).
    ``client_address`` (from :func:`api.kernel.client_address.client_address`) is kept as
    ``data["client_address"]``, inside the chained content. The head row lock serialises appends,
    so the chain has no forks.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("audit.append must run inside the acting transaction")
    key = _key(conn)
    data = dict(data or {})
    if client_address is not None:
        data["client_address"] = client_address
    head = one(await conn.fetchrow(LOCK_HEAD), "audit head")  # a singleton row, made by its migration
    seq = head["seq"] + 1
    at = at.astimezone(UTC)
    digest = keyed_hash(key, head["hash"], seq, at, actor, action, subject, data)
    await conn.execute(INSERT_ENTRY, seq, at, actor, action, subject, data, head["hash"], digest)
    await conn.execute(UPDATE_HEAD, seq, digest)
    return seq


async def append_separately(
    pool: asyncpg.Pool,
    *,
    actor: str,
    action: str,
    subject: str = "",
    data: dict[str, Any] | None = None,
    client_address: str | None = None,
    at: datetime,
) -> int:
    """Add one entry in a transaction of its own and commit it.

    For refusals (a wrong code, a wrong secret, a missing power): the refused request's own
    transaction rolls back, and the entry must outlive it.
    """
    async with pool.acquire() as conn, conn.transaction():
        return await append(
            conn, actor=actor, action=action, subject=subject, data=data, client_address=client_address, at=at
        )


PAGE = """
SELECT seq, at, actor, action, subject, data, prev_hash, hash, chain_version
FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2
"""
HEAD = "SELECT seq, hash, keyed_from FROM audit_head WHERE id"


async def verify(conn: Conn, *, page: int = 5000) -> VerifyReport:
    """Walk the whole chain; report the first entry whose link or content was altered."""
    key = _key(conn)
    expected_prev, expected_seq, count = GENESIS, 1, 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = one(await conn.fetchrow(HEAD), "audit head")
        keyed_from = head["keyed_from"]
        while True:
            rows = await conn.fetch(PAGE, expected_seq - 1, page)
            for r in rows:
                count += 1
                fields = (r["prev_hash"], r["seq"], r["at"], r["actor"], r["action"], r["subject"], r["data"])
                if r["seq"] >= keyed_from:
                    good = r["chain_version"] == 2 and hmac.compare_digest(r["hash"], keyed_hash(key, *fields))
                else:
                    good = r["chain_version"] == 1 and r["hash"] == entry_hash(*fields)
                if r["seq"] != expected_seq or r["prev_hash"] != expected_prev or not good:
                    return VerifyReport(ok=False, entries=count, first_bad_entry=min(r["seq"], expected_seq))
                expected_prev, expected_seq = r["hash"], expected_seq + 1
            if len(rows) < page:
                break
    # Entries cut off the end leave the head pointing past the last one.
    if head["seq"] != expected_seq - 1 or head["hash"] != expected_prev:
        return VerifyReport(ok=False, entries=count, first_bad_entry=expected_seq)
    return VerifyReport(ok=True, entries=count, first_bad_entry=None)
