"""The application's request class: a JSON body nested deeper than ``MAX_DEPTH`` never reaches a decoder.

Every body is read through ``Request.body()`` (Litestar's data extractors, ``request.json()`` and
handlers that read the bytes themselves), so the check sits there once. A body a thousand levels
deep would exhaust the decoder's recursion (msgspec raises RecursionError); a body 65 deep is
already no request of ours. Either answers 400 ``malformed_request`` with no traceback logged.

The scan runs in C: strings are cut out (their brackets are text), braces become brackets, and
each round of deleting ``[]`` pairs peels one level off every innermost container, so a body
within the limit takes at most ``MAX_DEPTH`` rounds. Mismatched brackets are left to the decoder.
"""

from __future__ import annotations

import re
from typing import Any, cast

from litestar import Request

from api.kernel.problems import BadRequest

MAX_DEPTH = 64

_STRING = re.compile(rb'"[^"]*"')
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_CHECKED = "zb.body_depth_checked"


def nesting_exceeds(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text ``body`` nests arrays and objects more than ``limit`` deep."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    if b"\\" in body:
        # Escaped backslashes first, then escaped quotes: what is left of a string is quote ... quote.
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Keep only quotes and brackets. A pair of adjacent quotes is an empty string or the seam between two
    # strings: either way it can go. What is left of a string is then a quote, brackets, a quote.
    shape = body.translate(_BRACKETS, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in shape:
        shape = _STRING.sub(b"", shape)
    for _ in range(limit):
        peeled = shape.replace(b"[]", b"")
        if not peeled or len(peeled) == len(shape):
            return False  # empty: within the limit; stuck: mismatched, the decoder says so
        shape = peeled
    return b"[]" in shape


_JSON_START = re.compile(rb"[ \t\r\n]*[\[{]")


class AppRequest(Request):
    """Litestar's request, refusing over-nested JSON bodies (see the module docstring)."""

    async def body(self) -> bytes:
        raw = await super().body()
        # A plain dict at run time; the key is ours (namespaced), so not one the scope's TypedDict knows.
        scope = cast("dict[str, Any]", self.scope)
        if raw and not scope.get(_CHECKED) and _JSON_START.match(raw):
            if nesting_exceeds(raw):
                raise BadRequest(f"the JSON body is nested more than {MAX_DEPTH} levels deep")
            scope[_CHECKED] = True
        return raw
