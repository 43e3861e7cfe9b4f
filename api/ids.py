"""Server-made identifiers: UUIDv7 (RFC 9562), time-ordered so indexes stay compact."""

from __future__ import annotations

import os
import time
import uuid

_HEAD = 0x7 << 76 | 0b10 << 62  # version 7, RFC 9562 variant
_RAND_A, _RAND_B = 0xFFF, 0x3FFF_FFFF_FFFF_FFFF  # 12 + 62 random bits
_RANDOM_BITS = _RAND_A << 64 | _RAND_B  # where they sit in the 128


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7: 48-bit Unix milliseconds, version 7, 74 random bits."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return uuid.UUID(int=_value(ms, int.from_bytes(os.urandom(10), "big")))


def _value(ms: int, rand: int) -> int:
    return (ms & 0xFFFF_FFFF_FFFF) << 80 | _HEAD | ((rand >> 62) & _RAND_A) << 64 | (rand & _RAND_B)


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
    head = (time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF) << 80 | _HEAD
    rand, out = os.urandom(16 * count), []
    for i in range(0, 16 * count, 16):  # uuid_of_int, inlined: bulk writers make hundreds of thousands
        u = _new_uuid(uuid.UUID)
        _set(u, "int", head | int.from_bytes(rand[i : i + 16], "big") & _RANDOM_BITS)
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
            self._rand, self._at = os.urandom(10 * 256), 0  # one read of the random source per 256 ids
        rand = int.from_bytes(self._rand[self._at : self._at + 10], "big")
        self._at += 10
        self.last = max(_value(time.time_ns() // 1_000_000, rand), self.last + 1)
        return uuid_of_int(self.last)
