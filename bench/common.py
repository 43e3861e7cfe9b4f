"""What the benchmark scripts share: their servers, scratch-database names and per-process CPU from /proc."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def with_database(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name`` instead."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process on this host, from /proc (None when not readable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def create_database(admin: Any, name: str) -> None:
    """Database ``name`` made afresh through ``admin`` (an asyncpg connection to the server): a copy of the one
    ``ZB_BENCH_TEMPLATE`` names when set (migrated and seeded once; the benchmarks' short-mode tests pass the
    test run's template so that none migrates a database of its own), else empty, for the script to migrate."""
    template = os.environ.get("ZB_BENCH_TEMPLATE")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """(PostgreSQL admin DSN, Redis URL): ``ZB_BENCH_DATABASE_URL`` / ``ZB_BENCH_REDIS_URL``, else embedded
    servers started here in a scratch folder and stopped on leaving."""
    from api import embedded

    dsn, redis_url = os.environ.get("ZB_BENCH_DATABASE_URL"), os.environ.get("ZB_BENCH_REDIS_URL")
    tmp = Path(tempfile.mkdtemp(prefix="zb-bench-"))
    stops: list[Callable[[], object]] = []
    try:
        if dsn is None:
            pg, _ = embedded.start_postgres(tmp)
            stops.append(pg.cleanup)
            dsn = pg.get_uri("postgres")
        if redis_url is None:
            rs, redis_url = embedded.start_redis(tmp)
            stops.append(rs.stop)
        yield dsn, redis_url
    finally:
        for stop in reversed(stops):
            stop()
