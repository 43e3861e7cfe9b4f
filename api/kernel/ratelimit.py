"""A small Redis rate limiter: fixed windows anchored at the first hit, checked and counted atomically.

A window starts with the first request a subject makes and lasts ``window`` seconds, so "1 a
minute" really means 60 seconds between two sends, not "once per clock minute". Several limits on
the same subject (1 a minute *and* 10 a day) are checked together in one Lua script: a refused
request counts against none of them, so a client that waits for ``Retry-After`` is never punished
twice.

Usage::

    await ratelimit.hit(redis, f"phone:{index_hex}", Limit("sms_send", 1, 60), Limit("sms_send_day", 10, 86400))

Keys are ``zb:rl:{<subject>}:<name>``; the braces are a Redis Cluster hash tag, so every key of one
call lands in the same slot. Callers pass a subject that holds no personal data in the clear (an
IP, an account id, a blind-index digest). When Redis cannot be reached the limiter fails closed
with 503: an unlimited login endpoint is worse than an unavailable one.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from redis.exceptions import RedisError

from api.kernel.problems import RateLimited, ServiceUnavailable

# KEYS: one per limit. ARGV: limit_1, window_ms_1, limit_2, window_ms_2, ...
# Returns 0 when counted, else the milliseconds until the fullest window reopens.
_SCRIPT = """
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= limit then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      -- A counter without expiry would block forever; give it its window again.
      redis.call('PEXPIRE', key, ARGV[2 * i])
      ttl = tonumber(ARGV[2 * i])
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIRE', key, ARGV[2 * i])
  end
end
return 0
"""


class Limit(NamedTuple):
    """At most ``limit`` hits per ``window`` seconds, under the budget called ``name``."""

    name: str
    limit: int
    window: int


def key(subject: str, name: str) -> str:
    return f"zb:rl:{{{subject}}}:{name}"


async def check(redis: Any, subject: str, *limits: Limit) -> int:
    """Count one hit against every limit; return 0, or the seconds to wait when any limit is full."""
    keys = [key(subject, lim.name) for lim in limits]
    args: list[int] = []
    for lim in limits:
        args += [lim.limit, lim.window * 1000]
    try:
        wait_ms = await redis.eval(_SCRIPT, len(keys), *keys, *args)
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable("the rate limiter is unavailable") from exc
    return math.ceil(int(wait_ms) / 1000)


async def hit(redis: Any, subject: str, *limits: Limit, detail: str | None = None) -> None:
    """Like :func:`check`, but answer 429 ``rate_limited`` with ``Retry-After`` when a limit is full."""
    wait = await check(redis, subject, *limits)
    if wait:
        raise RateLimited(detail or "too many requests", headers={"Retry-After": str(wait)}, retry_after=wait)


async def reset(redis: Any, subject: str, *limits: Limit) -> None:
    """Forget the counters (e.g. after a successful login ends a run of failures)."""
    try:
        await redis.delete(*(key(subject, lim.name) for lim in limits))
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable("the rate limiter is unavailable") from exc
