"""Test harness: a real PostgreSQL and a real Redis, a fresh database per test.

``ZB_TEST_DATABASE_URL`` / ``ZB_TEST_REDIS_URL`` name servers to use (CI sets them to the machine's);
without them the embedded servers start in a temporary folder. A template database is migrated and
seeded once per run with the real runner; each test gets ``CREATE DATABASE ... TEMPLATE`` of it.
``ZB_TEST_CITUS`` (the admin DSNs of a Citus coordinator and its workers, comma-separated; set by
``tests/cluster``) runs the same tests on a Citus cluster: the template and each clone on every node.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from api import embedded
from api.app import close_resources, create_app, open_resources
from api.config import Settings
from api.kernel import db, redis_client
from api.kernel.crypto import Keyring
from matters import seed

TEST_MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
TEST_AUDIT_KEY = Keyring.from_settings(Settings(master_key=TEST_MASTER_KEY)).audit_key
_counter = itertools.count()


# The short run (`pytest -m smoke`, the second run of .ci/run against the machine's own servers): the
# migrations, the shared mechanisms, health and errors, and the store and routes of each domain.
# The slow suites (browser pages, crashes, fuzzing) run once, in the whole-suite run.
SMOKE_MODULES = frozenset(
    {
        "tests/test_migrations.py",
        "tests/test_health_and_meta.py",
        "tests/test_outages.py",
        "tests/test_problems.py",
        "tests/test_idempotency.py",
        "tests/test_outbox.py",
        "tests/test_jobs.py",
        "tests/test_ratelimit.py",
        "tests/auth/test_flows.py",
        "tests/matters/test_catalogue_routes.py",
        "tests/matters/test_applications.py",
        "tests/esign/test_routes_issue.py",
        "tests/wallet/test_items.py",
        "tests/sync/test_pull.py",
        "tests/notify/test_inbox.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(config.rootpath)
    if missing := sorted(m for m in SMOKE_MODULES if not (root / m).exists()):
        raise pytest.UsageError(f"the short run names modules that are gone: {', '.join(missing)}")
    for item in items:
        if item.path.relative_to(root).as_posix() in SMOKE_MODULES:
            item.add_marker(pytest.mark.smoke)


def with_database(dsn: str, name: str) -> str:
    """The same server, another database name (works for host and unix-socket DSNs)."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def with_redis_db(url: str, db: int) -> str:
    """The same Redis server, another database number (works for ``redis://`` and ``unix://`` URLs:
    redis-py reads ``?db=`` before the path, and a socket URL's path is the socket)."""
    if url.startswith(redis_client.CLUSTER_SCHEME):
        return url  # a Redis Cluster has only database 0
    base, _, query = url.partition("?")  # not urlunsplit: it writes ``unix:///s`` back as ``unix:/s``
    params = [q for q in query.split("&") if q and not q.startswith("db=")]
    return base + "?" + "&".join([*params, f"db={db}"])


@pytest.fixture(scope="session")
def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def citus_nodes() -> list[str]:
    """The Citus nodes' admin DSNs, coordinator first (empty: a single PostgreSQL)."""
    return [d for d in os.environ.get("ZB_TEST_CITUS", "").split(",") if d]


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[str, str]]:
    """(admin DSN, Redis URL) of real servers: the named ones, or embedded ones for this run."""
    dsn = (citus_nodes() or [None])[0] or os.environ.get("ZB_TEST_DATABASE_URL")
    redis_url = os.environ.get("ZB_TEST_REDIS_URL")
    started = []
    tmp = Path(tempfile.mkdtemp(prefix="zb-test-"))
    if dsn is None:
        pg, _ = embedded.start_postgres(tmp)
        started.append(pg.cleanup)
        dsn = pg.get_uri("postgres")
    if redis_url is None:
        rs, redis_url = embedded.start_redis(tmp)
        started.append(rs.stop)
    yield dsn, redis_url
    for stop in reversed(started):
        stop()


@pytest.fixture(scope="session")
def template_db(servers: tuple[str, str], worker_id: str) -> Iterator[str]:
    """A migrated, seeded database that every test database is cloned from (one per test run)."""
    admin, _ = servers
    # The pid keeps concurrent runs against one server (several checkouts, CI and a laptop) apart.
    name = f"zb_tpl_{worker_id}_{os.getpid()}"

    async def build_citus() -> None:
        from tests.cluster import citus

        tpl = await db.connect(await citus.create_database(citus_nodes(), name))
        try:
            await db.migrate(tpl)
            await seed.seed_catalogue(tpl)
        finally:
            await tpl.close()
        await citus.freeze(citus_nodes(), name)

    async def build() -> None:
        if citus_nodes():
            return await build_citus()
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        tpl = await db.connect(with_database(admin, name))
        try:
            await db.migrate(tpl)
            await seed.seed_catalogue(tpl)
        finally:
            await tpl.close()

    async def drop() -> None:
        if citus_nodes():
            from tests.cluster import citus

            return await citus.drop(citus_nodes(), name)
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(build())
    yield name
    asyncio.run(drop())


@pytest.fixture
async def database_url(servers: tuple[str, str], template_db: str, worker_id: str) -> AsyncIterator[str]:
    """A fresh database for one test, cloned from the template; dropped afterwards."""
    admin, _ = servers
    name = f"zb_t_{worker_id}_{os.getpid()}_{next(_counter)}"
    if citus_nodes():
        from tests.cluster import citus

        yield await citus.clone(citus_nodes(), template_db, name)
        await citus.drop(citus_nodes(), name)
        return
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()
    yield with_database(admin, name)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def redis_url(servers: tuple[str, str]) -> AsyncIterator[str]:
    url = servers[1]
    client = redis_client.from_url(url)
    await client.flushdb()
    await client.aclose()
    yield url


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings(
        env="development",
        webhook_allow_private=True,  # the tests' webhook receivers listen on loopback
        database_url=database_url,
        redis_url=redis_url,
        master_key=TEST_MASTER_KEY,
        log_format="text",
        log_level="WARNING",
        run_jobs=False,
        db_pool_min=1,
        db_pool_max=10,
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test database, for tests that exercise the store and mechanisms directly."""
    p = await db.create_pool(database_url, min_size=1, max_size=12, audit_key=TEST_AUDIT_KEY)
    yield p
    await p.close()


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as c:
        yield c


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    """An HTTP client over the real app (lifespan included: real pool, real Redis)."""
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        yield c


@pytest.fixture
async def worker(client: AsyncTestClient, settings: Settings) -> AsyncIterator[State]:
    """What a ``zhangban worker`` process opens, on the test's loop, for running jobs here (such as
    ``esign.batch.jobs.drain``): the app under ``client`` runs on a loop of its own."""
    state = State()
    await open_resources(state, settings)
    yield state
    await close_resources(state, None)
