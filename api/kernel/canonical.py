"""Canonical JSON (RFC 8785, JCS): the one encoding that is hashed or signed — audit entries,
certificate records, request digests.

msgspec's sorted-key encoding writes exactly the bytes of RFC 8785 for text, integers within
±2^53, booleans, null and lists and maps of them, as long as no character lies beyond U+FFFF:
msgspec sorts keys by code point and RFC 8785 by UTF-16 code unit, which differ only between
characters beyond U+FFFF and those from U+E000 to U+FFFF. That path is some forty times faster
than ``rfc8785`` (a batch's audit entry lists a thousand certificates); anything else (a float, a
character beyond U+FFFF, rare: some 生僻字 in names) is made by ``rfc8785`` itself, which refuses
integers beyond ±2^53 (``rfc8785.IntegerDomainError``). tests/test_audit.py and tests/esign/test_issuing.py
check the two against each other.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import rfc8785

_SAFE_INT = 2**53
_BEYOND_BMP = re.compile(rb"[\xf0-\xf4]")  # the lead byte of a 4-byte UTF-8 sequence


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of ``value``: what msgspec encodes (a Struct as the map of its fields)."""
    value = msgspec.to_builtins(value)  # dates, UUIDs and Structs as msgspec writes them
    if _plain(value):
        data = msgspec.json.encode(value, order="sorted")
        if _BEYOND_BMP.search(data) is None:
            return data
    return rfc8785.dumps(value)


def _plain(value: Any) -> bool:
    if value is None or type(value) in (str, bool):
        return True
    if type(value) is int:
        return -_SAFE_INT < value < _SAFE_INT
    if type(value) is list:
        return all(type(v) is str for v in value) or all(_plain(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False
