"""QR codes of tokens, as PNG or SVG bytes (segno).

A token is ``ZB1:`` + Base45, and every Base45 character (and ``:``) is in the QR alphanumeric set,
which packs 11 bits per 2 characters — that is why Base45 was chosen over base64. The mode is
forced to alphanumeric so a future change cannot silently fall back to byte mode (8 bits a
character, a much denser code).

Error correction level M (15 %) is the floor: a token of 500 characters then fits version 14
(73 × 73 modules), coarse enough for a phone camera to read off a screen at arm's length; level Q
would need version 17 (85 × 85) and H version 20 (97 × 97), smaller modules that hurt more on a
screen than the extra redundancy helps (a screen does not get dirty or torn like paper). segno raises the level for
free whenever the same version has room to spare. The quiet zone is the standard 4 modules.
"""

from __future__ import annotations

import io

import segno

ERROR_LEVEL = "m"
BORDER = 4


def make_qr(token: str) -> segno.QRCode:
    """The QR code of a token, alphanumeric mode, error correction M or better."""
    return segno.make_qr(token, error=ERROR_LEVEL, mode="alphanumeric", boost_error=True)


def qr_png(token: str, *, scale: int = 4) -> bytes:
    """PNG bytes of the token's QR code, ``scale`` pixels per module."""
    out = io.BytesIO()
    make_qr(token).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def qr_svg(token: str, *, scale: int = 4) -> bytes:
    """SVG bytes of the token's QR code (XML declaration included)."""
    out = io.BytesIO()
    make_qr(token).save(out, kind="svg", scale=scale, border=BORDER)
    return out.getvalue()
