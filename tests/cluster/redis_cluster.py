"""A Redis Cluster of three masters and three replicas from the machine's ``redis-server``, on ports
7401-7406, for the tests in this folder. Its servers end with the test process (``reaper``)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.cluster import reaper

PREFIX = "zb-redis-cluster-"
PORTS = range(7401, 7407)


class Unavailable(Exception):
    """Why a Redis Cluster cannot run here."""


class RedisCluster:
    def __init__(self) -> None:
        self.home: Path | None = None
        self.started: list[int] = []

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{PORTS[0]}"

    @staticmethod
    def check() -> tuple[str, str]:
        """``redis-server`` and ``redis-cli``, when they are here and the cluster's ports are free."""
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            raise Unavailable("a Redis Cluster needs redis-server and redis-cli, which this machine lacks")
        reaper.reap(PREFIX, pids, signal.SIGTERM)  # a run killed before it could stop its cluster
        for port in PORTS:
            if subprocess.run([cli, "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip() == "PONG":
                raise Unavailable(f"port {port} is taken by another Redis")
        return server, cli

    def start(self) -> RedisCluster:
        server, cli = self.check()
        self.home = Path(tempfile.mkdtemp(prefix=PREFIX))
        reaper.track(self.home, self.stop)
        for port in PORTS:
            node = self.home / str(port)
            node.mkdir()
            subprocess.run(
                [
                    server,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(node / "nodes.conf"),
                    "--dir",
                    str(node),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "yes",
                    "--pidfile",
                    str(node / "redis.pid"),
                    "--logfile",
                    str(node / "redis.log"),
                ],
                check=True,
            )
            self.started.append(port)
        for port in PORTS:
            self._wait(cli, port)
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in PORTS),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 30
        while (
            "cluster_state:ok"
            not in subprocess.run([cli, "-p", str(PORTS[0]), "cluster", "info"], capture_output=True, text=True).stdout
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become ready")
            time.sleep(0.1)
        return self

    @staticmethod
    def _wait(cli: str, port: int) -> None:
        deadline = time.monotonic() + 10
        while subprocess.run([cli, "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip() != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.home is not None:
            reaper.end(pids(self.home), signal.SIGTERM)  # nothing is saved: SIGTERM is SHUTDOWN NOSAVE
            reaper.untrack(self.home)
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None
        self.started.clear()


def pids(home: Path) -> list[reaper.Pid]:
    """Each node's PID file in ``home``; its process names the node's port (``redis-server 127.0.0.1:7401``)."""
    return [(node / "redis.pid", f":{node.name}") for node in sorted(home.iterdir()) if node.name.isdigit()]
