"""Blobs: bytes stored once by their SHA-256, who uploaded them, and who may read them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from api.kernel.db import Conn
from sync.models import BlobInfo

INSERT_BLOB = """
INSERT INTO sync_blob (sha256, content_type, size, data, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT ON CONSTRAINT sync_blob_pkey DO NOTHING
RETURNING true
"""


async def insert_blob(conn: Conn, digest: bytes, content_type: str, data: bytes, *, now: datetime) -> bool:
    """Store the bytes unless they are stored already; True when this call stored them."""
    return bool(await conn.fetchval(INSERT_BLOB, digest, content_type, len(data), data, now))


ADD_UPLOADER = """
INSERT INTO sync_blob_uploader (sha256, subject, person_id, uploaded_at) VALUES ($1, $2, $3, $4)
ON CONFLICT ON CONSTRAINT sync_blob_uploader_pkey DO NOTHING
"""


async def add_uploader(conn: Conn, digest: bytes, *, subject: str, person_id: UUID | None, now: datetime) -> None:
    await conn.execute(ADD_UPLOADER, digest, subject, person_id, now)


GET_INFO = "SELECT sha256, content_type, size, created_at FROM sync_blob WHERE sha256 = $1"


async def get_info(conn: Conn, digest: bytes) -> BlobInfo | None:
    row = await conn.fetchrow(GET_INFO, digest)
    if row is None:
        return None
    return BlobInfo(
        sha256=row["sha256"].hex(), content_type=row["content_type"], size=row["size"], created_at=row["created_at"]
    )


GET_INFOS = "SELECT sha256, content_type, size, created_at FROM sync_blob WHERE sha256 = ANY($1::bytea[])"


async def get_infos(conn: Conn, digests: list[bytes]) -> dict[bytes, BlobInfo]:
    """The blobs among ``digests`` that are stored, by digest (one query, however many)."""
    rows = await conn.fetch(GET_INFOS, digests) if digests else []
    return {
        r["sha256"]: BlobInfo(
            sha256=r["sha256"].hex(), content_type=r["content_type"], size=r["size"], created_at=r["created_at"]
        )
        for r in rows
    }


async def get_content(conn: Conn, digest: bytes) -> asyncpg.Record | None:
    """The blob's ``content_type`` and ``data`` (None when it is not stored)."""
    return await conn.fetchrow("SELECT content_type, data FROM sync_blob WHERE sha256 = $1", digest)


# The uploader: that login, or any login of the same person. Departments read the files of their
# own tasks' materials through the task (matters/applications/materials.py), logged.
MAY_READ = """
SELECT EXISTS (SELECT 1 FROM sync_blob_uploader u WHERE u.sha256 = $1 AND (u.subject = $2 OR u.person_id = $3))
"""


async def may_read(conn: Conn, digest: bytes, *, subject: str, person_id: UUID | None) -> bool:
    return await conn.fetchval(MAY_READ, digest, subject, person_id)
