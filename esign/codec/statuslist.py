"""Status lists after the IETF OAuth Token Status List (FORMATS.md, "Status lists").

Two bits per certificate: ``0`` valid, ``1`` revoked (final), ``2`` suspended (reversible). Entry
``i`` sits in bits ``2i .. 2i+1`` counting from the least significant bit of byte 0, so byte
``i // 4`` holds it at shift ``2 * (i % 4)``. A list has 131,072 slots (32 KiB uncompressed); a new
list opens when one fills. ``lst`` is base64url of the zlib (level 9) stream, without padding.

Reading inflates at most 32 KiB, the size of a full list, so a hostile list cannot balloon.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from esign.codec import jws
from esign.errors import InvalidStatusList

SLOTS = 131_072
BITS = 2
SIZE = SLOTS * BITS // 8  # bytes of one full list
VALID, REVOKED, SUSPENDED = 0, 1, 2
TYP = "statuslist+jwt"


def new_status_bits() -> bytearray:
    """An all-valid list of 131,072 slots."""
    return bytearray(SIZE)


def get_status(bits: bytes | bytearray, index: int) -> int:
    """The 2-bit status at ``index``; raises ``IndexError`` outside the list."""
    if not 0 <= index < len(bits) * 4:
        raise IndexError("status index outside the list")
    return (bits[index // 4] >> (2 * (index % 4))) & 0b11


def set_status(bits: bytearray, index: int, status: int) -> None:
    """Set the status at ``index``; a revoked entry is final and stays revoked."""
    if status not in (VALID, REVOKED, SUSPENDED):
        raise ValueError("status must be 0 valid, 1 revoked or 2 suspended")
    if get_status(bits, index) == REVOKED and status != REVOKED:
        raise ValueError("a revoked certificate cannot change status")
    shift = 2 * (index % 4)
    bits[index // 4] = (bits[index // 4] & ~(0b11 << shift) & 0xFF) | (status << shift)


def encode_lst(bits: bytes | bytearray) -> str:
    """``lst``: base64url(zlib(bits)) without padding."""
    return base64.urlsafe_b64encode(zlib.compress(bytes(bits), 9)).rstrip(b"=").decode("ascii")


def decode_lst(lst: str) -> bytes:
    """The status bytes of an ``lst`` value (at most one full list); raises ``InvalidStatusList``."""
    try:
        compressed = base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4))
        inflater = zlib.decompressobj()
        bits = inflater.decompress(compressed, SIZE)
    except (binascii.Error, ValueError, TypeError, zlib.error) as exc:
        raise InvalidStatusList("lst is not base64url of a zlib stream") from exc
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise InvalidStatusList("lst is larger than one list or truncated")
    return bits


@dataclass(frozen=True, slots=True)
class StatusList:
    """A verified status list: where it lives, when it was made, and its bits."""

    url: str
    iat: int
    exp: int
    ttl: int
    bits: bytes

    def status(self, index: int) -> int:
        """The status at ``index``; raises ``IndexError`` outside the list."""
        return get_status(self.bits, index)

    def expired(self, now: datetime) -> bool:
        """Whether the list is past its ``exp`` at ``now`` (then it must be fetched again)."""
        return now.timestamp() >= self.exp


def build_status_list(
    bits: bytes | bytearray,
    *,
    url: str,
    root_key: ec.EllipticCurvePrivateKey,
    root_kid: str,
    now: datetime,
    valid_for: timedelta = timedelta(days=7),
    ttl: timedelta = timedelta(hours=1),
) -> str:
    """The status-list JWT (``typ: statuslist+jwt``, ES256 by the root) for ``bits`` served at ``url``."""
    iat = int(now.timestamp())
    payload = {
        "sub": url,
        "iat": iat,
        "exp": iat + int(valid_for.total_seconds()),
        "ttl": int(ttl.total_seconds()),
        "status_list": {"bits": BITS, "lst": encode_lst(bits)},
    }
    return jws.sign_jws(payload, root_key, typ=TYP, kid=root_kid)


def parse_status_list(token: str, root_public_key: ec.EllipticCurvePublicKey, *, url: str | None = None) -> StatusList:
    """Verify a status-list JWT with the root key (and ``sub`` against ``url``); raises ``InvalidStatusList``."""
    try:
        _, payload = jws.verify_jws(token, root_public_key, typ=TYP)
    except ValueError as exc:
        raise InvalidStatusList(str(exc)) from exc
    sub, status_list = payload.get("sub"), payload.get("status_list")
    times = [t for t in (payload.get(k) for k in ("iat", "exp", "ttl")) if type(t) is int and t >= 0]
    if not isinstance(sub, str) or len(times) != 3:
        raise InvalidStatusList("status list needs sub, iat, exp and ttl")
    if url is not None and sub != url:
        raise InvalidStatusList("status list was made for another URL")
    if (
        not isinstance(status_list, dict)
        or type(status_list.get("bits")) is not int
        or status_list["bits"] != BITS
        or not isinstance(status_list.get("lst"), str)
    ):
        raise InvalidStatusList("status_list must have bits 2 and an lst")
    return StatusList(sub, times[0], times[1], times[2], decode_lst(status_list["lst"]))
