"""A blob sent as a multipart form (``wx.uploadFile``), read as it streams in: the SHA-256 is computed
chunk by chunk while the parts are parsed, so the client never hashes the file itself.

The form carries the file in the part named ``file``; a ``sha256`` part, when present, must be the
digest of the file (an integrity check of the client's own). The file's type is its part's
``Content-Type`` when that is one we accept, else (none, or ``application/octet-stream``, which some
platforms send for every file) what its first bytes say. Other parts are read and ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import multipart

from api.kernel.problems import BadRequest, FieldError, ValidationFailed
from sync import service
from sync.errors import BlobEmpty, BlobHashMismatch, BlobTooLarge, BlobTypeMismatch, BlobTypeUnsupported

FIELD = "file"
# The form around the file (boundaries, part headers, a sha256 part) may add this much to the body.
FORM_OVERHEAD = 64 * 1024
MAX_BODY = service.MAX_BLOB + FORM_OVERHEAD
_UNTYPED = ("", "application/octet-stream")
_SMALL_PART = 1024  # the text parts we read (sha256) are tiny


@dataclass(frozen=True)
class Upload:
    data: bytes
    digest: bytes
    media: str


def boundary_of(content_type: str | None) -> str:
    """The boundary of a ``multipart/form-data`` body, else 400 ``malformed_request``."""
    media, options = multipart.parse_options_header(content_type or "")
    if media != "multipart/form-data" or not options.get("boundary"):
        raise BadRequest(f"the body must be multipart/form-data with the file in a part named {FIELD!r}")
    return options["boundary"]


async def read(chunks: AsyncIterator[bytes], boundary: str) -> Upload:
    """Parse the form as it arrives; the file's bytes, digest and type (problems as ``PUT /v1/blobs``)."""
    form = _Form()
    try:
        with multipart.PushMultipartParser(boundary, max_header_count=16, max_segment_count=32) as parser:
            async for chunk in chunks:
                if chunk:
                    for event in parser.parse(chunk):
                        form.take(event)
            for event in parser.parse(b""):  # the end: an unfinished body is a ParserError
                form.take(event)
    except multipart.MultipartError as exc:
        raise BadRequest(f"malformed multipart body: {exc}") from None
    if form.files != 1:
        problem = "is missing" if form.files == 0 else "must be given once"
        raise ValidationFailed(errors=[FieldError(FIELD, f"the file part {problem}")])
    data = b"".join(form.body)
    if not data:
        raise BlobEmpty()
    media = _media(form.declared or "", data)
    digest = form.hasher.digest()
    if form.claimed:
        expected = form.claimed.decode("ascii", "replace").strip().lower()
        if expected != digest.hex():
            raise BlobHashMismatch(actual_sha256=digest.hex())
    return Upload(data=data, digest=digest, media=media)


class _Form:
    """What the parser's events say so far: the file's bytes and digest, its declared type, a claimed sha256."""

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.body: list[bytes] = []
        self.size = 0
        self.files = 0
        self.declared: str | None = None
        self.claimed = bytearray()
        self.part: multipart.MultipartSegment | None = None

    def take(self, event: multipart.MultipartSegment | bytes | None) -> None:
        if isinstance(event, multipart.MultipartSegment):
            self.part = event
            if event.name == FIELD:
                self.files += 1
                self.declared = (event.content_type or "").lower()
        elif event is None:
            self.part = None
        elif self.part is None:
            return
        elif self.part.name == FIELD and self.files == 1:
            self.size += len(event)
            if self.size > service.MAX_BLOB:
                raise BlobTooLarge(max_bytes=service.MAX_BLOB)
            self.hasher.update(event)
            self.body.append(event)
        elif self.part.name == "sha256" and len(self.claimed) <= _SMALL_PART:
            self.claimed += event


def _media(declared: str, data: bytes) -> str:
    if declared in _UNTYPED:
        found = next((media for media, magic in service.MAGIC.items() if data.startswith(magic)), None)
        if found is None:
            raise BlobTypeUnsupported(accepted=sorted(service.MAGIC))
        return found
    media = service.blob_type(declared)  # 415 for a type we do not take
    if not data.startswith(service.MAGIC[media]):
        raise BlobTypeMismatch(content_type=media)
    return media
