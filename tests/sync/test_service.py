"""The pure rules of sync: cursors, reset decisions, draft versions, fingerprints, blob checks."""

from __future__ import annotations

import base64
import hashlib
import struct
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from api.config import Settings
from api.kernel import responses
from api.kernel.crypto import Keyring
from api.kernel.pagination import CursorInvalid
from api.kernel.problems import NotFound, Problem, ServiceUnavailable
from sync import cursor, service
from sync.errors import (
    HTTP_PROBLEMS,
    MUTATION_PROBLEMS,
    BaseVersionInvalid,
    BlobHashMismatch,
    BlobTypeMismatch,
    BlobTypeUnsupported,
    DraftNotFound,
)
from sync.models import MutationIn
from sync.push import SyncUnavailable, is_transient
from sync.service import DraftState, Head, Position
from tests.conftest import TEST_MASTER_KEY

KEYS = Keyring.from_settings(Settings(database_url="postgresql://x", redis_url="redis://x", master_key=TEST_MASTER_KEY))
OTHER_KEYS = Keyring.from_settings(
    Settings(database_url="postgresql://x", redis_url="redis://x", master_key=base64.b64encode(b"k" * 32).decode())
)
EPOCH, ME, KID, GONE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def parsed(
    versions: dict[uuid.UUID, int],
    leaving: dict[uuid.UUID, int] | None = None,
    *,
    epoch: uuid.UUID = EPOCH,
    owner: uuid.UUID = ME,
) -> cursor.Parsed:
    text = cursor.encode(KEYS, cursor.SyncCursor(epoch, owner, versions, leaving or {}))
    return cursor.parse(KEYS, text)


def test_cursor_round_trip_is_compact_and_signed() -> None:
    c = cursor.SyncCursor(EPOCH, ME, {ME: 12, KID: 3}, {GONE: 7}, {KID: 9}, resetting=True)
    text = cursor.encode(KEYS, c)
    assert len(text) == 202 and "=" not in text  # 151 bytes: three persons
    back = cursor.parse(KEYS, text)
    assert back.signed and back.cursor == c
    # Another server's key reads the layout but not the signature.
    assert not cursor.parse(OTHER_KEYS, text).signed


def test_cursors_of_the_first_format_are_still_read() -> None:
    body = struct.pack(">B16s16sH", 1, EPOCH.bytes, ME.bytes, 2)
    body += struct.pack(">16sQB", ME.bytes, 12, 0) + struct.pack(">16sQB", GONE.bytes, 7, 1)
    text = base64.urlsafe_b64encode(body + cursor._mac(KEYS, body)).rstrip(b"=").decode()
    back = cursor.parse(KEYS, text)
    assert back.signed and back.cursor == cursor.SyncCursor(EPOCH, ME, {ME: 12}, {GONE: 7})
    # The second format: entries with their floor, no flags byte.
    body = struct.pack(">B16s16sH", 2, EPOCH.bytes, ME.bytes, 1) + struct.pack(">16sQQB", ME.bytes, 12, 3, 0)
    text = base64.urlsafe_b64encode(body + cursor._mac(KEYS, body)).rstrip(b"=").decode()
    back = cursor.parse(KEYS, text)
    assert back.signed and back.cursor == cursor.SyncCursor(EPOCH, ME, {ME: 12}, {}, {ME: 3})


def test_a_read_from_the_start_goes_on_past_a_horizon_it_began_under() -> None:
    heads = {ME: Head(20, 11)}
    begun = cursor.parse(KEYS, cursor.encode(KEYS, cursor.SyncCursor(EPOCH, ME, {ME: 3}, {}, {ME: 11})))
    plan = service.plan_pull(begun, epoch=EPOCH, owner=ME, scope=[ME], heads=heads)
    assert not plan.reset and plan.positions == [Position(ME, 3, True, 11)]
    # A deletion compacted after the read began (the horizon rose past the floor): start over.
    assert service.plan_pull(begun, epoch=EPOCH, owner=ME, scope=[ME], heads={ME: Head(20, 14)}).reset


@pytest.mark.parametrize("bad", ["", "x", "!!!!", "AAAA", "A" * 5000])
def test_garbage_cursors_are_cursor_invalid(bad: str) -> None:
    with pytest.raises(CursorInvalid):
        cursor.parse(KEYS, bad)


def test_every_flipped_bit_is_caught() -> None:
    text = cursor.encode(KEYS, cursor.SyncCursor(EPOCH, ME, {ME: 5}))
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    for i in range(len(raw)):
        for bit in (1, 128):
            raw[i] ^= bit
            forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
            try:
                p = cursor.parse(KEYS, forged)
            except CursorInvalid:
                pass
            else:
                assert not p.signed or p.cursor.epoch != EPOCH, (i, bit)
            raw[i] ^= bit


def test_no_cursor_foreign_epoch_or_other_owner_start_over() -> None:
    heads = {ME: Head(9, 0), KID: Head(4, 0)}
    for p in (None, parsed({ME: 9}, epoch=uuid.uuid4()), parsed({ME: 9}, owner=KID)):
        plan = service.plan_pull(p, epoch=EPOCH, owner=ME, scope=[ME, KID], heads=heads)
        assert plan.reset and plan.positions == [Position(ME, 0, False), Position(KID, 0, False)] and not plan.leaving


def test_a_tampered_cursor_of_this_epoch_is_refused() -> None:
    text = cursor.encode(OTHER_KEYS, cursor.SyncCursor(EPOCH, ME, {ME: 1}))
    with pytest.raises(CursorInvalid):
        service.plan_pull(cursor.parse(KEYS, text), epoch=EPOCH, owner=ME, scope=[ME], heads={})


def test_behind_the_horizon_or_ahead_of_the_head_resets() -> None:
    assert service.plan_pull(parsed({ME: 3}), epoch=EPOCH, owner=ME, scope=[ME], heads={ME: Head(9, 4)}).reset
    assert not service.plan_pull(parsed({ME: 4}), epoch=EPOCH, owner=ME, scope=[ME], heads={ME: Head(9, 4)}).reset
    # Holding nothing of a person, a compacted deletion cannot have been missed.
    assert not service.plan_pull(parsed({ME: 0}), epoch=EPOCH, owner=ME, scope=[ME], heads={ME: Head(9, 4)}).reset
    # A cursor ahead of the server: the database was restored without a new epoch.
    assert service.plan_pull(parsed({ME: 10}), epoch=EPOCH, owner=ME, scope=[ME], heads={ME: Head(9, 0)}).reset


def test_scope_changes_add_fresh_persons_and_send_deletions_for_the_gone() -> None:
    heads = {ME: Head(9, 0), KID: Head(4, 0), GONE: Head(6, 0)}
    plan = service.plan_pull(parsed({ME: 9, GONE: 6}), epoch=EPOCH, owner=ME, scope=[ME, KID], heads=heads)
    assert not plan.reset
    assert plan.positions == [Position(ME, 9, True), Position(KID, 0, False)]
    assert plan.leaving == [Position(GONE, 0, True)]
    # Half-way through the deletions, and back in scope before they are done: read with deletions.
    plan = service.plan_pull(parsed({ME: 9}, {GONE: 3}), epoch=EPOCH, owner=ME, scope=[ME, GONE], heads=heads)
    assert plan.positions == [Position(ME, 9, True), Position(GONE, 0, True)] and plan.leaving == []


def test_etag_follows_heads_scope_and_cursor() -> None:
    base = service.pull_etag(EPOCH, ME, "c", 50, [ME], {ME: Head(3, 0)})
    assert base == service.pull_etag(EPOCH, ME, "c", 50, [ME], {ME: Head(3, 0)})
    assert base != service.pull_etag(EPOCH, ME, "c", 50, [ME], {ME: Head(4, 0)})
    assert base != service.pull_etag(EPOCH, ME, "c", 50, [ME], {ME: Head(3, 1)})
    assert base != service.pull_etag(EPOCH, ME, "c", 50, [ME, KID], {ME: Head(3, 0)})
    assert base != service.pull_etag(EPOCH, ME, "d", 50, [ME], {ME: Head(3, 0)})
    assert responses.etag_matches(f'W/"x", {base}', base) and not responses.etag_matches(None, base)


def test_draft_saves_need_the_current_version() -> None:
    assert service.decide_draft_save(None, None) == "create"
    assert service.decide_draft_save(None, 0) == "create"
    with pytest.raises(DraftNotFound):
        service.decide_draft_save(None, 2)
    assert service.decide_draft_save(DraftState(3, False), 3) == "update"
    assert service.decide_draft_save(DraftState(3, False), 2) == "conflict"
    assert service.decide_draft_save(DraftState(3, False), None) == "conflict"
    assert service.decide_draft_save(DraftState(3, True), 3) == "conflict"
    with pytest.raises(BaseVersionInvalid):
        service.decide_draft_save(DraftState(3, False), 4)
    assert service.decide_draft_delete(DraftState(3, False), None) == "delete"
    assert service.decide_draft_delete(DraftState(3, False), 2) == "conflict"
    assert service.decide_draft_delete(DraftState(3, True), 1) == "noop"
    with pytest.raises(DraftNotFound):
        service.decide_draft_delete(None, None)


def test_fingerprint_tells_a_retry_from_a_reused_id() -> None:
    m = MutationIn(id=uuid.uuid4(), seq=1, name="draft.save", args={"form": {"a": 1, "b": [1, 2]}}, base_version=2)
    same = MutationIn(id=m.id, seq=1, name="draft.save", args={"form": {"b": [1, 2], "a": 1}}, base_version=2)
    assert service.fingerprint(KEYS, m) == service.fingerprint(KEYS, same)
    for other in (
        MutationIn(id=m.id, seq=1, name="draft.save", args={"form": {"a": 2, "b": [1, 2]}}, base_version=2),
        MutationIn(id=m.id, seq=1, name="draft.save", args=m.args, base_version=3),
        MutationIn(id=m.id, seq=1, name="draft.delete", args=m.args, base_version=2),
    ):
        assert service.fingerprint(KEYS, other) != service.fingerprint(KEYS, m)
    # Keyed: the plain hash of the args (which may hold an ID number) is not what is stored.
    assert service.fingerprint(KEYS, m) != service.fingerprint(OTHER_KEYS, m)


def test_transient_failures_are_told_from_answers() -> None:
    assert is_transient(asyncpg.exceptions.LockNotAvailableError("lock timeout"))
    assert is_transient(asyncpg.exceptions.ConnectionDoesNotExistError("gone"))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(ServiceUnavailable())
    assert not is_transient(NotFound())
    assert not is_transient(asyncpg.exceptions.UniqueViolationError("bug"))


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def test_blob_checks() -> None:
    assert service.blob_type("image/png; charset=binary") == "image/png"
    assert service.blob_type("Application/PDF") == "application/pdf"
    for bad in (None, "", "text/html", "image/svg+xml"):
        with pytest.raises(BlobTypeUnsupported):
            service.blob_type(bad)
    digest = hashlib.sha256(PNG).hexdigest()
    assert service.check_blob(digest, "image/png", PNG) == bytes.fromhex(digest)
    with pytest.raises(BlobHashMismatch):
        service.check_blob("0" * 64, "image/png", PNG)
    with pytest.raises(BlobTypeMismatch):
        service.check_blob(digest, "image/jpeg", PNG)


def test_retention_cutoffs_take_the_clock() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert service.tombstone_cutoff(now) == datetime(2026, 1, 30, tzinfo=UTC)
    assert service.ledger_cutoff(now) < service.tombstone_cutoff(now)


def test_every_sync_problem_has_a_title_and_its_own_slug() -> None:
    problems: list[type[Problem]] = [*HTTP_PROBLEMS, *MUTATION_PROBLEMS, SyncUnavailable]
    slugs = [p.slug for p in problems]
    assert len(slugs) == len(set(slugs))
    base = {cls.slug for cls in Problem.__subclasses__() if cls.__module__ == "api.kernel.problems"} | {Problem.slug}
    for p in problems:
        assert p.__doc__ and p.slug not in base and p.slug.islower(), p
