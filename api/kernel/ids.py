"""Server-made identifiers: UUIDv7 (RFC 9562), time-ordered so indexes stay compact."""

from __future__ import annotations

import os
import time
import uuid

from asyncpg.pgproto.pgproto import UUID as FastUUID

_VERSION_AND_VARIANT = 0x7 << 76 | 0b10 << 62  # version 7, RFC 9562 variant
_RANDOM_BITS = 0xFFF << 64 | 0x3FFF_FFFF_FFFF_FFFF  # rand_a (12 bits) and rand_b (62 bits) in the 128
_RANDOM_BYTES = 16  # read per id; _RANDOM_BITS keeps 74 bits of them


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7: 48-bit Unix milliseconds, version 7, 74 random bits."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return uuid.UUID(int=_head(ms) | _random(os.urandom(_RANDOM_BYTES)))


def uuid7_floor(ms: int) -> uuid.UUID:
    """The smallest UUIDv7 of millisecond ``ms``: ids made from then on sort after it."""
    return uuid.UUID(int=_head(max(ms, 0)))


def _head(ms: int) -> int:
    """The milliseconds, version and variant of a UUIDv7, with its random bits zero."""
    return (ms & 0xFFFF_FFFF_FFFF) << 80 | _VERSION_AND_VARIANT


def _random(data: bytes) -> int:
    return int.from_bytes(data, "big") & _RANDOM_BITS


_new_uuid, _set = uuid.UUID.__new__, object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown  # read once: an enum member lookup costs as much as the rest of uuid_of_int


def uuid_of_int(value: int) -> uuid.UUID:
    """``UUID(int=value)`` without ``__init__``'s argument checks, for values in range by construction
    (bulk writers make hundreds of thousands of ids)."""
    u = _new_uuid(uuid.UUID)
    _set(u, "int", value)
    _set(u, "is_safe", _UNKNOWN)
    return u


# Version 7 in the high nibble of byte 6, the RFC 9562 variant in the top two bits of byte 8, for
# every value of the random byte found there.
_VERSION_BYTE = bytes(0x70 | b & 0x0F for b in range(256))
_VARIANT_BYTE = bytes(0x80 | b & 0x3F for b in range(256))


def uuid7_many(count: int) -> list[uuid.UUID]:
    """``count`` UUIDv7s from one read of the random source, not one each.

    They are asyncpg's ``UUID``, what it returns for every ``uuid`` column: a ``uuid.UUID`` whose
    hashing, comparing, ``bytes`` and text run in C. Bulk writers make hundreds of thousands of ids
    and use them as keys; ``uuid.UUID`` does all of that in Python.
    """
    raw = bytearray(os.urandom(_RANDOM_BYTES * count))
    for at, byte in enumerate((time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF).to_bytes(6, "big")):
        raw[at::_RANDOM_BYTES] = bytes((byte,)) * count
    raw[6::_RANDOM_BYTES] = raw[6::_RANDOM_BYTES].translate(_VERSION_BYTE)
    raw[8::_RANDOM_BYTES] = raw[8::_RANDOM_BYTES].translate(_VARIANT_BYTE)
    data = bytes(raw)
    return [FastUUID(data[at : at + _RANDOM_BYTES]) for at in range(0, len(data), _RANDOM_BYTES)]


class Monotonic:
    """UUIDv7s each greater than the last made here (RFC 9562 monotonic random, method 2): lists read
    newest first by id keep the order things were made in, even within one millisecond."""

    def __init__(self) -> None:
        self.last = 0
        self._rand = b""
        self._at = 0

    def __call__(self) -> uuid.UUID:
        if self._at >= len(self._rand):
            self._rand, self._at = os.urandom(_RANDOM_BYTES * 256), 0  # one read of the random source per 256 ids
        rand = _random(self._rand[self._at : self._at + _RANDOM_BYTES])
        self._at += _RANDOM_BYTES
        self.last = max(_head(time.time_ns() // 1_000_000) | rand, self.last + 1)
        return uuid_of_int(self.last)
