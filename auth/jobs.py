"""Identity's background sweep: refresh tokens past their expiry are deleted.

Each refresh leaves the spent token behind so that its reuse can be caught and its family revoked;
once expired, a token is refused as expired whether its row exists or not, so keeping it would only
grow the table by one row per refresh of every device.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from api.jobs import Job, now_of

log = logging.getLogger("zhangban.auth")

BATCH = 5000

DELETE_EXPIRED = """
DELETE FROM auth_refresh_token WHERE token_hash IN (
    SELECT token_hash FROM auth_refresh_token WHERE expires_at <= $1 LIMIT $2
)
"""


async def prune_refresh_tokens(state: Any, *, now: datetime | None = None) -> int:
    """Delete expired refresh tokens, a batch per short statement; return how many."""
    now = now or now_of(state)
    removed = 0
    while True:
        async with state.pool.acquire() as conn:
            n = int((await conn.execute(DELETE_EXPIRED, now, BATCH)).split()[-1])
        removed += n
        if n < BATCH:
            break
    if removed:
        log.info("deleted %d expired refresh tokens", removed)
    return removed


JOBS = [Job("auth.prune_refresh_tokens", prune_refresh_tokens, every=3600)]
