"""`zhangban serve` as a user runs it: embedded servers, demo data, data kept across a hard kill, and
metrics that add up every worker's requests and forget a crashed worker's."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from api.observability import forget_dead_workers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
    env |= {"ZB_DATA_DIR": str(data_dir), "ZB_PORT": str(port), "ZB_LOG_FORMAT": "json"}
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode(errors="replace"))
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("server did not become healthy")


async def _rename_matter(data_dir: Path, code: str, name: str) -> None:
    # postmaster.pid line 4 is the port, line 5 the socket directory of the embedded server.
    lines = (data_dir / "pg" / "postmaster.pid").read_text().splitlines()
    conn = await asyncpg.connect(user="postgres", database="zhangban", host=lines[4], port=int(lines[3]))
    try:
        await conn.execute("UPDATE catalog_matter SET name = $2 WHERE code = $1", code, name)
    finally:
        await conn.close()


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    proc.wait(timeout=30)


def test_serve_seeds_and_keeps_data_across_a_kill(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    try:
        _wait_healthy(base, proc)
        birth = httpx.get(f"{base}/v1/bundles/birth").json()
        assert birth["stats"]["materials_after"] == 11
        assert httpx.get(f"{base}/schema").status_code == 200
        # An operator edits the catalogue while it runs (directly in its database).
        asyncio.run(_rename_matter(tmp_path, "430200-WJ-001", "出生医学证明签发（改）"))
        assert httpx.get(f"{base}/v1/matters/430200-WJ-001").json()["name"] == "出生医学证明签发（改）"
    finally:
        # The web process dies without cleanup; its embedded PostgreSQL may survive as an orphan.
        _kill_group(proc, signal.SIGKILL)
    assert (tmp_path / "master.key").exists() and (tmp_path / "pg" / "PG_VERSION").exists()

    proc = _start(tmp_path, port)
    try:
        _wait_healthy(base, proc)
        # The edit survived the kill, and the restart did not re-seed over it.
        assert httpx.get(f"{base}/v1/matters/430200-WJ-001").json()["name"] == "出生医学证明签发（改）"
    finally:
        _kill_group(proc, signal.SIGTERM)
        out = proc.stdout.read()
    text = out.decode(errors="replace")
    assert "embedded PostgreSQL" in text and "embedded Redis" in text
    # A clean stop also stops the embedded PostgreSQL (it removes its pid file on shutdown).
    assert not (tmp_path / "pg" / "postmaster.pid").exists()


def _requests_total(text: str, path: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("zhangban_requests_total{") and f'path="{path}"' in line
    )


def test_metrics_count_every_workers_requests(tmp_path: Path, database_url: str, redis_url: str) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZB_", "PROMETHEUS_"))}
    env |= {
        "ZB_DATA_DIR": str(tmp_path),
        "ZB_PORT": str(port),
        "ZB_WORKERS": "2",
        "ZB_RUN_JOBS": "false",
        "ZB_DATABASE_URL": database_url,
        "ZB_REDIS_URL": redis_url,
        "ZB_ENV": "development",
        "ZB_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_healthy(base, proc)
        for _ in range(40):  # a new connection each time: the workers share them out
            r = httpx.get(f"{base}/v1/bundles/birth", headers={"connection": "close"})
            assert r.status_code == 200
        # Every scrape, whichever worker answers it, counts all 40.
        for _ in range(8):
            r = httpx.get(f"{base}/metrics", headers={"connection": "close"})
            assert _requests_total(r.text, "/v1/bundles/{code}") == 40
    finally:
        _kill_group(proc, signal.SIGTERM)


_IN_FLIGHT_WORKER = """
import os, sys
from prometheus_client import Gauge
g = Gauge("zhangban_requests_in_progress", "x", ("path",), multiprocess_mode="livesum")
g.labels("/v1/bundles").inc()
if sys.argv[1] == "crash":
    os._exit(1)  # a worker killed mid-request: nothing of it runs on
input()
"""


def _in_progress(folder: Path) -> float:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(folder))
    return registry.get_sample_value("zhangban_requests_in_progress", {"path": "/v1/bundles"}) or 0.0


def test_a_crashed_workers_requests_stop_counting_as_in_progress(tmp_path: Path) -> None:
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    crashed = subprocess.Popen([sys.executable, "-c", _IN_FLIGHT_WORKER, "crash"], env=env)
    assert crashed.wait(timeout=30) == 1
    running = subprocess.Popen([sys.executable, "-c", _IN_FLIGHT_WORKER, "run"], env=env, stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while _in_progress(tmp_path) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _in_progress(tmp_path) == 2  # the crashed worker's request still counts
        assert forget_dead_workers(str(tmp_path)) == [crashed.pid]
        assert _in_progress(tmp_path) == 1  # the live worker's request still does
    finally:
        running.communicate(b"\n", timeout=30)
