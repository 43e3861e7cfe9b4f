"""The Redis client for a URL: one server (``redis://``, ``rediss://``, ``unix://``) or a Redis Cluster.

A cluster is named by ``redis+cluster://host:port`` (any of its nodes; the client learns the rest).
Every multi-key command and transaction of zhangban keeps its keys in one hash slot (hash tags in
braces), so the same code runs on both. Where a cluster wants other commands (sharded pub/sub, a
read of many keys across slots), the caller asks :func:`is_cluster`.
"""

from __future__ import annotations

from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

CLUSTER_SCHEME = "redis+cluster://"


def from_url(url: str, **options: Any) -> aioredis.Redis:
    if url.startswith(CLUSTER_SCHEME):
        options.pop("health_check_interval", None)
        # Not a subclass of Redis, but it answers every command we send as Redis does.
        return cast(aioredis.Redis, RedisCluster.from_url("redis://" + url.removeprefix(CLUSTER_SCHEME), **options))
    return aioredis.from_url(url, **options)


def is_cluster(redis: Any) -> bool:
    """Whether ``redis`` is a Redis Cluster client (sharded pub/sub; reads across slots split by node)."""
    return isinstance(redis, RedisCluster)
