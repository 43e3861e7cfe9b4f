"""QR codes of tokens, as PNG or SVG bytes (segno), and the URL they encode.

A token is ``ZB1:`` + Base45, and every Base45 character (and ``:``) is in the QR alphanumeric set,
which packs 11 bits per 2 characters — that is why Base45 was chosen over base64. A QR code holds
a URL that any phone camera or WeChat scan opens (FORMATS.md "QR codes"): ``QR_BASE + "/V/" +
token`` with, in the token, space → ``%20``, ``%`` → ``%25`` and ``/`` → ``%2F``, so the URL stays
within the alphanumeric set too; ``QR_BASE`` is the public base URL's scheme and host upper-cased
(URL schemes and host names are case-insensitive), or ``ZB_QR_BASE_URL`` where the service sits
under a path. The mode is forced to alphanumeric so a future change cannot silently fall back to
byte mode (8 bits a character, a much denser code).

Error correction level M (15 %) is the floor: a token of 500 characters then fits version 14
(73 × 73 modules), coarse enough for a phone camera to read off a screen at arm's length; level Q
would need version 17 (85 × 85) and H version 20 (97 × 97), smaller modules that hurt more on a
screen than the extra redundancy helps (a screen does not get dirty or torn like paper). segno raises the level for
free whenever the same version has room to spare. The quiet zone is the standard 4 modules.
"""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import segno

ERROR_LEVEL = "m"
BORDER = 4
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_IN_URL = re.compile(r"/[Vv]/([^/]+)\Z")


def alphanumeric(text: str) -> bool:
    """Whether every character of ``text`` is in the QR alphanumeric set."""
    return all(ch in ALPHANUMERIC for ch in text)


def qr_url(base: str, token: str) -> str:
    """The URL a token's QR code holds: ``base + "/V/" + token``, the token's space, % and / escaped."""
    return f"{base.rstrip('/')}/V/" + token.replace("%", "%25").replace(" ", "%20").replace("/", "%2F")


def token_from_text(text: str) -> str:
    """The token in a bare token or in a QR code's URL (``…/V/…`` or ``…/v/…``); other text as it is."""
    if isinstance(text, str) and not text.startswith(("ZB1:", "ZB2:")) and (found := _IN_URL.search(text)) is not None:
        return unquote(found.group(1))
    return text


def make_qr(text: str) -> segno.QRCode:
    """The QR code of a token or its URL, alphanumeric mode, error correction M or better."""
    return segno.make_qr(text, error=ERROR_LEVEL, mode="alphanumeric", boost_error=True)


def qr_png(text: str, *, scale: int = 4) -> bytes:
    """PNG bytes of the QR code of ``text`` (a token's URL), ``scale`` pixels per module."""
    out = io.BytesIO()
    make_qr(text).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def qr_svg(text: str, *, scale: int = 4) -> bytes:
    """SVG bytes of the QR code of ``text`` (XML declaration included)."""
    out = io.BytesIO()
    make_qr(text).save(out, kind="svg", scale=scale, border=BORDER)
    return out.getvalue()
