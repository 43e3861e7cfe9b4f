"""``Idempotency-Key`` for creating POSTs (IETF httpapi-idempotency-key-header semantics).

Same key and same request → the stored response, replayed; same key with another request → 422
``idempotency_key_reused``; same key while the first request is still running → 409
``idempotency_key_in_flight``. The stored response commits in the same transaction as whatever the
request created, so a crash can never leave one without the other. Keys are kept for ``RETENTION``
(clients retry within minutes, not days); the ``api.idempotency_purge`` job forgets older ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, Response

from api.kernel.db import Conn
from api.kernel.jobs import Job, in_batches, now_of
from api.kernel.problems import BadRequest, Conflict, ValidationFailed

HEADER = "idempotency-key"
RETENTION = timedelta(hours=24)
PURGE_BATCH = 5000
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyKeyInvalid(BadRequest):
    """Idempotency-Key 格式不正确"""

    slug = "idempotency_key_invalid"


class IdempotencyKeyReused(ValidationFailed):
    """Idempotency-Key 已用于另一个请求"""

    slug = "idempotency_key_reused"


class IdempotencyKeyInFlight(Conflict):
    """相同 Idempotency-Key 的请求仍在处理中"""

    slug = "idempotency_key_in_flight"


class Stored(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    content_type: str


def lock_id(scope: str, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"idem\x00{scope}\x00{key}".encode()).digest()[:8], "big", signed=True)


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).digest()


SELECT_STORED = """
SELECT fingerprint, response_status, response_body, content_type
FROM idempotency_key WHERE scope = $1 AND key = $2
"""

INSERT_STORED = """
INSERT INTO idempotency_key (scope, key, fingerprint, response_status, response_body, content_type)
VALUES ($1, $2, $3, $4, $5, $6)
"""


async def begin(conn: Conn, *, scope: str, key: str, fp: bytes) -> Stored | None:
    """Take the key for this transaction; return the stored response if the request was done before."""
    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", lock_id(scope, key)):
        raise IdempotencyKeyInFlight()
    row = await conn.fetchrow(SELECT_STORED, scope, key)
    if row is None:
        return None
    if row["fingerprint"] != fp:
        raise IdempotencyKeyReused()
    return Stored(row["response_status"], row["response_body"], row["content_type"])


async def finish(conn: Conn, *, scope: str, key: str, fp: bytes, stored: Stored) -> None:
    await conn.execute(INSERT_STORED, scope, key, fp, stored.status, stored.body, stored.content_type)


async def run(
    request: Request[Any, Any, Any],
    conn: Conn,
    *,
    scope: str,
    create: Callable[[], Awaitable[tuple[int, Any]]],
) -> Response[bytes]:
    """Run ``create`` at most once per key (inside the caller's transaction) and answer with its result.

    ``create`` returns ``(status, body)``; the body is encoded as JSON and stored with the key.
    Without the header the request simply runs.
    """
    key = request.headers.get(HEADER)
    if key is None:
        status, body = await create()
        return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")
    if not _KEY.match(key):
        raise IdempotencyKeyInvalid()
    fp = fingerprint(request.method, request.url.path, await request.body())
    stored = await begin(conn, scope=scope, key=key, fp=fp)
    if stored is not None:
        return Response(
            stored.body,
            status_code=stored.status,
            media_type=stored.content_type,
            headers={"idempotent-replayed": "true"},
        )
    status, body = await create()
    stored = Stored(status, msgspec.json.encode(body), "application/json")
    await finish(conn, scope=scope, key=key, fp=fp, stored=stored)
    return Response(stored.body, status_code=status, media_type=stored.content_type)


PURGE = """
DELETE FROM idempotency_key WHERE (scope, key) IN (
    SELECT scope, key FROM idempotency_key WHERE created_at < $1 LIMIT $2
)
"""


async def purge_expired(state: Any, *, now: datetime | None = None) -> int:
    """Forget every key older than ``RETENTION``; return how many."""
    return await in_batches(state.pool, PURGE, (now or now_of(state)) - RETENTION, batch=PURGE_BATCH)


JOBS = [Job("api.idempotency_purge", purge_expired, every=3600)]
