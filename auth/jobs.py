"""Identity's background sweeps: what has expired is not kept.

* Refresh tokens past their expiry are deleted. Each refresh leaves the spent token behind so that
  its reuse can be caught and its family revoked; once expired, a token is refused as expired
  whether its row exists or not, so keeping it would only grow the table by one row per refresh of
  every device.
* A real-name session left open past its expiry forgets the name and ID number it was opened with
  (sealed until then), as a finished one does when it closes: they were collected for that check
  only, and it can no longer be completed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from api.kernel.jobs import Job, in_batches, now_of

log = logging.getLogger("zhangban.auth")

DELETE_EXPIRED = """
DELETE FROM auth_refresh_token WHERE token_hash IN (
    SELECT token_hash FROM auth_refresh_token WHERE expires_at <= $1 LIMIT $2
)
"""


async def prune_refresh_tokens(state: Any, *, now: datetime | None = None) -> int:
    """Delete expired refresh tokens, a batch per short statement; return how many."""
    removed = await in_batches(state.pool, DELETE_EXPIRED, now or now_of(state))
    if removed:
        log.info("deleted %d expired refresh tokens", removed)
    return removed


FORGET_EXPIRED_SESSIONS = """
UPDATE auth_realname_session SET name = NULL, id_number = NULL WHERE id IN (
    SELECT id FROM auth_realname_session WHERE status = 'open' AND id_number IS NOT NULL AND expires_at <= $1 LIMIT $2
)
"""


async def forget_expired_sessions(state: Any, *, now: datetime | None = None) -> int:
    """Clear the personal data of real-name sessions that expired open; return how many."""
    return await in_batches(state.pool, FORGET_EXPIRED_SESSIONS, now or now_of(state))


JOBS = [
    Job("auth.prune_refresh_tokens", prune_refresh_tokens, every=3600),
    Job("auth.forget_expired_realname_sessions", forget_expired_sessions, every=900),
]
