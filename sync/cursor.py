"""Pull cursors: the server epoch, the owner, and a version per person, signed.

A cursor is opaque to clients (base64url, no padding). Inside, byte for byte:
``0x03`` format, epoch (16 bytes), owner person (16; all zero for a login without a person),
flags (1: bit 0 set while a reset is being read, so that its last page carries the checkpoint),
entry count (2, big-endian), then per person its id (16), the last version the client holds
(8, big-endian), the floor (8, big-endian: the tombstone horizon the person stood at when the
client began reading their log from the start) and a flag (``0`` in scope, ``1`` leaving:
deletions are still being sent), and last a 16-byte MAC (HMAC-SHA256 under the keyring's index
key, purpose ``sync_cursor``). Formats ``0x02`` (no flags byte) and ``0x01`` (no flags, entries without the
floor) are still read, as no flags and floor 0.

The floor is what lets a read from the start (a reset, a new dependent) go on page by page after a
compaction: a deletion compacted away before the read began hid its record from the read too, so
only a horizon above both the floor and the version held means the client may have missed one.

The MAC matters: a cursor names persons, and the server emits deletions for persons that leave a
client's scope, so a forged cursor must not make it reveal another person's record ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from uuid import UUID

from api.kernel.crypto import Keyring
from api.kernel.pagination import CursorInvalid

FORMAT = 3
NO_OWNER = UUID(int=0)
_HEADS = {1: struct.Struct(">B16s16sH"), 2: struct.Struct(">B16s16sH"), 3: struct.Struct(">B16s16sBH")}
_HEAD = _HEADS[FORMAT]
_ENTRIES = {1: struct.Struct(">16sQB"), 2: struct.Struct(">16sQQB"), 3: struct.Struct(">16sQQB")}
RESETTING = 1
_ENTRY = _ENTRIES[FORMAT]
_MAC = 16
# Enough for a guardian of dozens of dependents; anything longer is not one of ours.
MAX_LENGTH = 4096


@dataclass(frozen=True)
class SyncCursor:
    epoch: UUID
    owner: UUID
    versions: dict[UUID, int] = field(default_factory=dict)  # persons in scope → last version held
    leaving: dict[UUID, int] = field(default_factory=dict)  # persons out of scope → deletions sent up to
    floors: dict[UUID, int] = field(default_factory=dict)  # persons in scope → horizon when their read from 0 began
    resetting: bool = False  # a reset is being read: its last page carries the checkpoint


def _mac(keyring: Keyring, body: bytes) -> bytes:
    # blind_index upper-cases its input; a hex digest survives that unchanged in meaning.
    return keyring.blind_index(hashlib.sha256(body).hexdigest(), purpose="sync_cursor")[:_MAC]


def encode(keyring: Keyring, cursor: SyncCursor) -> str:
    entries = [(p, v, cursor.floors.get(p, 0), 0) for p, v in cursor.versions.items()]
    entries += [(p, v, 0, 1) for p, v in cursor.leaving.items()]
    flags = RESETTING if cursor.resetting else 0
    body = _HEAD.pack(FORMAT, cursor.epoch.bytes, cursor.owner.bytes, flags, len(entries))
    body += b"".join(_ENTRY.pack(p.bytes, v, floor, flag) for p, v, floor, flag in entries)
    return base64.urlsafe_b64encode(body + _mac(keyring, body)).rstrip(b"=").decode()


@dataclass(frozen=True)
class Parsed:
    cursor: SyncCursor
    signed: bool  # the MAC checks out under this server's key


def parse(keyring: Keyring, text: str) -> Parsed:
    """Text → cursor; 400 ``cursor_invalid`` when it is not shaped like one of ours."""
    if len(text) > MAX_LENGTH:
        raise CursorInvalid()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        fmt = raw[0] if raw else 0
        head, entry = _HEADS.get(fmt), _ENTRIES.get(fmt)
        if head is None or entry is None:
            raise ValueError("format")
        fmt, epoch, owner, *rest = head.unpack_from(raw)
        flags, count = rest if len(rest) == 2 else (0, rest[0])
        if flags & ~RESETTING:
            raise ValueError("flags")
        body_len = head.size + count * entry.size
        if len(raw) != body_len + _MAC:
            raise ValueError("layout")
        versions: dict[UUID, int] = {}
        leaving: dict[UUID, int] = {}
        floors: dict[UUID, int] = {}
        for i in range(count):
            person, version, *rest = entry.unpack_from(raw, head.size + i * entry.size)
            floor, flag = rest if len(rest) == 2 else (0, rest[0])
            if flag not in (0, 1):
                raise ValueError("flag")
            (leaving if flag else versions)[UUID(bytes=person)] = version
            if floor and not flag:
                floors[UUID(bytes=person)] = floor
    except (binascii.Error, ValueError, struct.error):
        raise CursorInvalid() from None
    body, mac = raw[:body_len], raw[body_len:]
    signed = hmac.compare_digest(mac, _mac(keyring, body))
    return Parsed(SyncCursor(UUID(bytes=epoch), UUID(bytes=owner), versions, leaving, floors, bool(flags)), signed)
