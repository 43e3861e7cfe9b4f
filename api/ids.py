"""Server-made identifiers: UUIDv7 (RFC 9562), time-ordered so indexes stay compact."""

from __future__ import annotations

import os
import time
import uuid

_VERSION_AND_VARIANT = 0x7 << 76 | 0b10 << 62  # version 7, RFC 9562 variant
_RANDOM_BITS = 0xFFF << 64 | 0x3FFF_FFFF_FFFF_FFFF  # rand_a (12 bits) and rand_b (62 bits) in the 128
_RANDOM_BYTES = 16  # read per id; _RANDOM_BITS keeps 74 bits of them


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7: 48-bit Unix milliseconds, version 7, 74 random bits."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return uuid.UUID(int=_head(ms) | _random(os.urandom(_RANDOM_BYTES)))


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


def uuid7_many(count: int) -> list[uuid.UUID]:
    """``count`` UUIDv7s from one read of the random source, not one each."""
    head = _head(time.time_ns() // 1_000_000)
    rand, out = os.urandom(_RANDOM_BYTES * count), []
    # uuid_of_int and _random, inlined: bulk writers make hundreds of thousands of ids.
    for i in range(0, _RANDOM_BYTES * count, _RANDOM_BYTES):
        u = _new_uuid(uuid.UUID)
        _set(u, "int", head | int.from_bytes(rand[i : i + _RANDOM_BYTES], "big") & _RANDOM_BITS)
        _set(u, "is_safe", _UNKNOWN)
        out.append(u)
    return out


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
