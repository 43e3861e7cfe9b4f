"""Drafts: applications in progress, edited on any device of the person, versioned.

A draft's change-log entry carries its form sealed (the same AES-GCM ciphertext as the table, as
base64 under ``sealed_form``), so neither the table nor the log holds an ID number in the clear;
:func:`to_wire` opens it for the person's own devices.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from api.kernel import changelog
from api.kernel.crypto import Keyring
from api.kernel.db import Conn, one
from api.kernel.problems import FieldError
from matters import BundleNotFound, FormInvalid, MatterNotFound
from sync import service
from sync.errors import DraftTooLarge
from sync.models import DraftSaveArgs

CONTEXT = "sync_draft.form"
MAX_FORM_BYTES = 64 * 1024
_enc = msgspec.json.Encoder()


@dataclass(frozen=True)
class Outcome:
    status: Literal["applied", "conflict"]
    version: int
    data: dict[str, Any] | None  # the stored shape (form sealed); None for a deleted server copy


def to_wire(keyring: Keyring, data: dict[str, Any]) -> dict[str, Any]:
    """A stored draft entry → what the person's devices get: the form opened."""
    out = {k: v for k, v in data.items() if k != "sealed_form"}
    out["form"] = msgspec.json.decode(keyring.decrypt(base64.b64decode(data["sealed_form"]), context=CONTEXT))
    return out


def _stored(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "bundle_code": row["bundle_code"],
        "matter_code": row["matter_code"],
        "for_person_id": str(row["for_person_id"]) if row["for_person_id"] else None,
        "sealed_form": base64.b64encode(row["form"]).decode(),
        "materials": row["materials"],
        "deferred_materials": list(row["deferred_materials"]),
        "version": row["version"],
        "updated_at": row["updated_at"].isoformat().replace("+00:00", "Z"),
    }


# The draft, locked, and whether the bundle or matter it names exists: one round trip.
GET_DRAFT = """
WITH d AS (SELECT * FROM sync_draft WHERE person_id = $4 AND id = $1 FOR UPDATE)
SELECT CASE WHEN $2::text IS NOT NULL THEN EXISTS (SELECT 1 FROM catalog_bundle WHERE code = $2)
            WHEN $3::text IS NOT NULL THEN EXISTS (SELECT 1 FROM catalog_matter WHERE code = $3) END AS target_known,
       d.*
FROM (VALUES (1)) AS one LEFT JOIN d ON true
"""


async def _current(
    conn: Conn, draft_id: UUID, person_id: UUID, args: DraftSaveArgs | None = None
) -> tuple[asyncpg.Record | None, service.DraftState | None]:
    # Always one row (the draft's columns NULL when there is none).
    row = one(
        await conn.fetchrow(GET_DRAFT, draft_id, args and args.bundle_code, args and args.matter_code, person_id),
        "draft",
    )
    if args is not None and not row["target_known"]:
        if args.bundle_code is not None:
            raise BundleNotFound(code=args.bundle_code)
        raise MatterNotFound(code=args.matter_code)
    if row["id"] is None:
        return None, None
    return row, service.DraftState(row["version"], row["deleted_at"] is not None)


def _check_target(args: DraftSaveArgs) -> None:
    if (args.bundle_code is None) == (args.matter_code is None):
        raise FormInvalid(errors=[FieldError("bundle_code", "give exactly one of bundle_code and matter_code")])


UPSERT_DRAFT = """
INSERT INTO sync_draft AS d (id, person_id, account_id, bundle_code, matter_code, for_person_id, form, materials,
    deferred_materials, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10)
ON CONFLICT ON CONSTRAINT sync_draft_pkey DO UPDATE SET
    account_id = EXCLUDED.account_id, bundle_code = EXCLUDED.bundle_code, matter_code = EXCLUDED.matter_code,
    for_person_id = EXCLUDED.for_person_id, form = EXCLUDED.form, materials = EXCLUDED.materials,
    deferred_materials = EXCLUDED.deferred_materials, version = d.version + 1, updated_at = EXCLUDED.updated_at
RETURNING *
"""


async def save(
    conn: Conn,
    keyring: Keyring,
    *,
    account_id: UUID,
    person_id: UUID,
    args: DraftSaveArgs,
    base_version: int | None,
    now: datetime,
) -> Outcome:
    """Create or update a draft if ``base_version`` is the server's; otherwise a conflict with the server copy."""
    _check_target(args)
    form = _enc.encode(args.form)
    if len(form) > MAX_FORM_BYTES:
        raise DraftTooLarge(max_bytes=MAX_FORM_BYTES)
    row, state = await _current(conn, args.draft_id, person_id, args)
    decision = service.decide_draft_save(state, base_version)
    if decision == "conflict":
        assert row is not None
        return Outcome("conflict", row["version"], None if row["deleted_at"] else _stored(row))
    saved = one(
        await conn.fetchrow(
            UPSERT_DRAFT,
            args.draft_id,
            person_id,
            account_id,
            args.bundle_code,
            args.matter_code,
            args.for_person_id,
            keyring.encrypt(form, context=CONTEXT),
            msgspec.to_builtins(args.materials),
            args.deferred_materials,
            now,
        ),
        "upserted draft",
    )
    data = _stored(saved)
    await changelog.record_change(conn, person_id, "draft", args.draft_id, "put", data)
    return Outcome("applied", saved["version"], data)


DELETE_DRAFT = """
UPDATE sync_draft SET form = NULL, materials = '[]', deferred_materials = '{}', version = version + 1,
    updated_at = $2, deleted_at = $2
WHERE person_id = $3 AND id = $1
RETURNING version
"""


async def delete(conn: Conn, *, person_id: UUID, draft_id: UUID, base_version: int | None, now: datetime) -> Outcome:
    """Delete a draft (its form is erased); deleting it again changes nothing."""
    row, state = await _current(conn, draft_id, person_id)
    decision = service.decide_draft_delete(state, base_version)
    assert row is not None
    if decision == "noop":
        return Outcome("applied", row["version"], None)
    if decision == "conflict":
        return Outcome("conflict", row["version"], _stored(row))
    version = await conn.fetchval(DELETE_DRAFT, draft_id, now, person_id)
    await changelog.record_change(conn, person_id, "draft", draft_id, "del")
    return Outcome("applied", version, None)


async def discard_submitted(conn: Conn, *, person_id: UUID, draft_id: UUID, now: datetime) -> None:
    """The draft became an application: remove it on every device (quietly, if it is already gone)."""
    row, state = await _current(conn, draft_id, person_id)  # another person's draft is not found here
    if row is not None and state is not None and not state.deleted:
        await delete(conn, person_id=person_id, draft_id=draft_id, base_version=None, now=now)
