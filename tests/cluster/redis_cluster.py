"""A Redis Cluster of three masters and three replicas from the machine's ``redis-server``, on ports
7401-7406, for the tests in this folder."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

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

    def start(self) -> RedisCluster:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            raise Unavailable("a Redis Cluster needs redis-server and redis-cli, which this machine lacks")
        for port in PORTS:
            if subprocess.run([cli, "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip() == "PONG":
                raise Unavailable(f"port {port} is taken by another Redis")
        self.home = Path(tempfile.mkdtemp(prefix="zb-redis-cluster-"))
        for port in PORTS:
            node = self.home / str(port)
            node.mkdir()
            subprocess.run([server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                            "--cluster-config-file", str(node / "nodes.conf"), "--dir", str(node), "--save", "",
                            "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(node / "redis.pid"),
                            "--logfile", str(node / "redis.log")], check=True)
            self.started.append(port)
        for port in PORTS:
            self._wait(cli, port)
        subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in PORTS), "--cluster-replicas", "1",
                        "--cluster-yes"], check=True, capture_output=True)
        deadline = time.monotonic() + 30
        while "cluster_state:ok" not in subprocess.run([cli, "-p", str(PORTS[0]), "cluster", "info"],
                                                       capture_output=True, text=True).stdout:
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
        cli = shutil.which("redis-cli") or "redis-cli"
        for port in self.started:
            subprocess.run([cli, "-p", str(port), "shutdown", "nosave"], capture_output=True)
        self.started.clear()
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None
