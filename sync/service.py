"""The rules of sync, as pure functions: values (and ``now``) in, decisions out.

- Pull: when a cursor forces a reset, where each person's log is read from, which persons left
  the client's scope, and the ETag of an answer.
- Push: what a draft save or delete does given the server copy, the fingerprint that tells a retry
  from a reused id, and which failures are transient (503, nothing recorded) rather than a
  business "no" (``rejected``).
- Blobs: the accepted types, their magic numbers, the size limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import rfc8785

from api.kernel.crypto import Keyring
from api.kernel.pagination import CursorInvalid
from api.kernel.problems import Problem
from sync.cursor import Parsed
from sync.errors import (
    BaseVersionInvalid,
    BlobHashMismatch,
    BlobTypeMismatch,
    BlobTypeUnsupported,
    DraftNotFound,
)
from sync.models import MutationIn

# Deletions stay in the log this long; a client that has not pulled for longer than this, and
# missed a deletion that was compacted away, starts over with a reset.
TOMBSTONE_RETENTION = timedelta(days=30)
# Ledger rows (stored answers to pushed mutations) are kept this long for retries. Older retries are
# still never applied twice: their seq is at or below the client's last_seq.
LEDGER_RETENTION = timedelta(days=90)


# --- pull -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    version: int  # the person's latest committed version
    horizon: int  # the highest version compaction removed a tombstone at


@dataclass(frozen=True)
class Position:
    person_id: UUID
    after: int
    # Deletions matter only to a client that may hold the person's records.
    with_dels: bool
    # The horizon when the client began reading this person's log from the start (0: not known).
    floor: int = 0


@dataclass(frozen=True)
class Plan:
    reset: bool
    positions: list[Position]  # persons in scope, in scope order
    leaving: list[Position]  # persons out of scope whose records the client must delete


def plan_pull(parsed: Parsed | None, *, epoch: UUID, owner: UUID, scope: list[UUID], heads: dict[UUID, Head]) -> Plan:
    """Decide how to answer a pull; 400 ``cursor_invalid`` for a cursor of ours that was tampered with."""
    fresh = Plan(True, [Position(p, 0, False) for p in scope], [])
    if parsed is None or parsed.cursor.epoch != epoch:
        return fresh  # no cursor, or one from another database: start over
    if not parsed.signed:
        raise CursorInvalid()
    cur = parsed.cursor
    if cur.owner != owner:
        return fresh
    positions = []
    for person in scope:
        head = heads.get(person, Head(0, 0))
        held = cur.versions.get(person)
        if held is None:
            # New in scope (a new dependent), or back before its deletions were all sent.
            back = person in cur.leaving
            positions.append(Position(person, 0, back))
            continue
        if held > head.version or (0 < held < head.horizon and head.horizon > cur.floors.get(person, 0)):
            # Ahead of the server (a restored database), or behind a deletion compacted after the
            # client began reading: it may hold the deleted record. A deletion compacted before the
            # read from the start began (the floor) hid its record from that read as well.
            return fresh
        # Deletions too, even from version 0: a client that held nothing of this person when it last
        # pulled may hold records since, learned from its own push answers (a draft it saved).
        positions.append(Position(person, held, True, cur.floors.get(person, 0)))
    gone = [Position(p, v, True) for p, v in cur.leaving.items() if p not in scope]
    gone += [Position(p, 0, True) for p in cur.versions if p not in scope]
    return Plan(False, positions, gone)


def checkpoint(records: Iterable[tuple[str, UUID | str, int]]) -> tuple[int, str]:
    """Count and digest of a state of ``(entity, id, version)`` records, as a client recomputes them:
    one line ``entity:id:version`` per record (the id as lower-case hyphenated UUID text, the version in
    decimal), sorted by their bytes, each followed by ``\\n``, hashed with SHA-256 (lower-case hex). A
    record logged for several persons of the scope (an application for a dependent) counts once, with
    the highest version it came with. ``sync.store.checkpoint`` computes the same in SQL."""
    best: dict[tuple[str, str], int] = {}
    for entity, record_id, version in records:
        key = (entity, str(record_id))
        best[key] = max(version, best.get(key, 0))
    lines = sorted(f"{e}:{i}:{v}\n".encode() for (e, i), v in best.items())
    return len(lines), hashlib.sha256(b"".join(lines)).hexdigest()


def pull_etag(
    epoch: UUID,
    owner: UUID,
    cursor: str | None,
    limit: int,
    scope: list[UUID],
    heads: dict[UUID, Head],
    client: tuple[UUID, int] | None = None,
) -> str:
    """Changes when the answer could: another cursor or limit, scope, a person's head or horizon, or
    the ``last_seq`` of the client the pull asks about (a rejected mutation moves it without a change)."""
    h = hashlib.sha256(f"{epoch}|{owner}|{cursor or ''}|{limit}".encode())
    for person in scope:
        head = heads.get(person, Head(0, 0))
        h.update(f"|{person}:{head.version}:{head.horizon}".encode())
    if client is not None:
        h.update(f"|client:{client[0]}:{client[1]}".encode())
    return '"' + h.hexdigest()[:32] + '"'


def tombstone_cutoff(now: datetime) -> datetime:
    return now - TOMBSTONE_RETENTION


def ledger_cutoff(now: datetime) -> datetime:
    return now - LEDGER_RETENTION


# --- push -------------------------------------------------------------------------------------------


def fingerprint(keyring: Keyring, m: MutationIn) -> bytes:
    """Keyed hash of what the mutation asks: equal for a retry, different for a reused id.

    Keyed (HMAC under the index key) because args may hold ID numbers, whose plain hashes could be
    reversed by trying every birth date and sequence number.
    """
    canonical = rfc8785.dumps({"name": m.name, "args": m.args, "base_version": m.base_version})
    return keyring.blind_index(hashlib.sha256(canonical).hexdigest(), purpose="sync_mutation")


@dataclass(frozen=True)
class DraftState:
    version: int
    deleted: bool


def decide_draft_save(current: DraftState | None, base_version: int | None) -> Literal["create", "update", "conflict"]:
    """Optimistic concurrency for drafts: a save must name the version it edited."""
    if current is None:
        if base_version:
            # The client believes in a server copy that never existed here.
            raise DraftNotFound()
        return "create"
    if base_version is not None and base_version > current.version:
        raise BaseVersionInvalid(server_version=current.version)
    if current.deleted or base_version is None or base_version < current.version:
        return "conflict"
    return "update"


def decide_draft_delete(current: DraftState | None, base_version: int | None) -> Literal["delete", "noop", "conflict"]:
    if current is None:
        raise DraftNotFound()
    if base_version is not None and base_version > current.version:
        raise BaseVersionInvalid(server_version=current.version)
    if current.deleted:
        return "noop"
    if base_version is not None and base_version < current.version:
        return "conflict"
    return "delete"


def rejection_data(problem: Problem) -> dict[str, Any] | None:
    """What a ``rejected`` result carries besides its code: the problem's title, detail and extras."""
    out: dict[str, Any] = {"title": problem.__doc__ or problem.slug}
    if problem.detail:
        out["detail"] = problem.detail
    if problem.errors:
        out["errors"] = [{"field": e.field, "message": e.message} for e in problem.errors]
    out.update({k: v for k, v in problem.context.items() if k not in out})
    return out


# --- blobs ------------------------------------------------------------------------------------------

MAX_BLOB = 10 * 1024 * 1024
MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
}


def blob_type(content_type: str | None) -> str:
    """The accepted media type named by a Content-Type header (parameters ignored), else 415."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in MAGIC:
        raise BlobTypeUnsupported(accepted=sorted(MAGIC))
    return media


def check_blob(sha256_hex: str, media: str, data: bytes) -> bytes:
    """The digest of ``data`` if it hashes to the address and looks like its type."""
    digest = hashlib.sha256(data).digest()
    if digest.hex() != sha256_hex:
        raise BlobHashMismatch(actual_sha256=digest.hex())
    # Departments open these files: a PDF that claims to be a photo is refused at the door.
    if not data.startswith(MAGIC[media]):
        raise BlobTypeMismatch(content_type=media)
    return digest
