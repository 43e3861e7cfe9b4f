"""The Redis-touching tests that run on a Redis Cluster (three masters, three replicas, ports 7401-7406).

They run again in one pytest of their own with ``ZB_TEST_REDIS_URL=redis+cluster://...``: rate limits
(multi-key Lua scripts on hash-tagged keys), one-time SMS codes (a transaction on one code's keys),
live pokes (sharded pub/sub across server processes) and the dispatch streams (every
lane in one read, dead letters in one transaction). One story test of each kind, not their modules:
what differs on a cluster is the Redis commands, which these reach.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from api.kernel import redis_client
from notify import live
from tests.cluster import citus, reaper, redis_cluster
from tests.cluster.redis_cluster import RedisCluster, Unavailable

ROOT = Path(__file__).resolve().parents[2]

ON_CLUSTER = [
    "tests/test_ratelimit.py",
    "tests/auth/test_sms.py",
    "tests/notify/test_live.py::test_every_device_on_any_server_hears_it_and_a_reconnect_resumes",
    "tests/sync/test_push.py::test_the_other_devices_are_poked_after_an_applied_push",
    "tests/notify/test_streams.py::test_a_duplicate_relay_shows_once",
    "tests/notify/test_streams.py::test_poison_events_go_to_the_dead_letters",
    "tests/notify/test_streams.py::test_a_bulk_send_of_one_department_does_not_hold_back_another",
    "tests/notify/test_streams.py::test_operators_retry_and_discard_dead_letters",
]

# Starts a Redis Cluster (and a Citus coordinator where Citus builds here), says where, and waits to be killed.
KILLED_RUN = """
import sys, time
from tests.cluster import citus
from tests.cluster.redis_cluster import RedisCluster
homes = [RedisCluster().start().home]
try:
    citus.system_user()
    homes.append(citus.Cluster(citus.build(), workers=0).start().home)
except citus.Unavailable:
    pass
print(*homes, flush=True)
time.sleep(300)
"""


def test_servers_stop_with_a_test_run_that_is_terminated() -> None:
    """A cancelled CI job SIGTERMs pytest: the cluster's servers go with it, not on holding their ports.

    First in the module: it starts its own cluster on the ports the fixture below takes next.
    """
    try:
        RedisCluster.check()
    except Unavailable as exc:
        pytest.skip(str(exc))
    run = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert run.stdout is not None
        homes = [Path(h) for h in run.stdout.readline().split()]
        assert homes, run.stderr.read() if run.stderr else ""
        servers = redis_cluster.pids(homes[0]) + (citus.pids(homes[1]) if len(homes) > 1 else [])
        running = [reaper.running_pid(p) for p in servers]
        assert len(servers) >= 6 and None not in running
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == -signal.SIGTERM  # it still dies of the signal
    finally:
        if run.poll() is None:
            run.kill()
    assert not [n for n in running if n is not None and reaper.alive(n)]
    assert not any(h.exists() for h in homes)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    started = RedisCluster()
    try:
        started.start()
    except Unavailable as exc:
        started.stop()
        pytest.skip(str(exc))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def redis(cluster: RedisCluster) -> AsyncIterator[Any]:
    client = redis_client.from_url(cluster.url)
    yield client
    await client.aclose()


async def test_pokes_go_to_the_shard_of_the_person_s_channel(redis: Any) -> None:
    """Sharded pub/sub: each channel is subscribed on the master owning its slot, none on every node."""
    people = [uuid.uuid4() for _ in range(12)]  # 12 hash tags: every master owns some of them
    channels = [live.channel(p, None) for p in people]
    async with live.Hub(redis).listen(channels) as heard:
        for version, person in enumerate(people, 1):
            await live.poke_sync(redis, person, version)
        async with asyncio.timeout(10):
            got = {msgspec.json.decode((await heard.get()) or b"{}")["v"] for _ in people}
        assert got == set(range(1, len(people) + 1))
        sharded, plain = [], []
        for node in redis.get_primaries():
            sharded.append(sum(n for _, n in await redis.pubsub_shardnumsub(*channels, target_nodes=node)))
            plain.append(sum(n for _, n in await redis.pubsub_numsub(*channels, target_nodes=node)))
        assert sum(sharded) == len(people) and 0 not in sharded and sum(plain) == 0


def test_rate_limits_codes_live_pokes_and_dispatch_on_a_redis_cluster(cluster: RedisCluster) -> None:
    env = {**os.environ, "ZB_TEST_REDIS_URL": cluster.url}
    env.pop("ZB_TEST_CITUS", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ON_CLUSTER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reaper.also(run, run.terminate)  # terminated, this run ends the inner one before the cluster
    try:
        out, err = run.communicate()
    finally:
        reaper.untrack(run)
    print(out[-3000:])
    assert run.returncode == 0, out[-6000:] + err[-2000:]
