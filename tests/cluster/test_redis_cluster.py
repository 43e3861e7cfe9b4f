"""The Redis-touching tests that run on a Redis Cluster (three masters, three replicas, ports 7401-7406).

They run again in a pytest of their own with ``ZB_TEST_REDIS_URL=redis+cluster://...``: rate limits
(multi-key Lua scripts on hash-tagged keys) and one-time SMS codes (a transaction on one code's keys).
The live pokes and dispatch streams do not run on a cluster yet: see docs/scaling.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.redis_cluster import RedisCluster, Unavailable

ROOT = Path(__file__).resolve().parents[2]

ON_CLUSTER = ["tests/test_ratelimit.py", "tests/auth/test_sms.py"]


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    cluster = RedisCluster()
    try:
        cluster.start()
    except Unavailable as exc:
        cluster.stop()
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


def test_rate_limits_and_one_time_codes_on_a_redis_cluster(redis_cluster: RedisCluster) -> None:
    env = {**os.environ, "ZB_TEST_REDIS_URL": redis_cluster.url}
    env.pop("ZB_TEST_CITUS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ON_CLUSTER],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    print(run.stdout[-3000:])
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
