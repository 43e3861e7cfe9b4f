"""Commands run beside a live ``zhangban serve`` on the embedded default share its servers and leave
them running; on their own they start only what they need and stop what they started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from tests.test_serve import _free_port, _kill_group, _start, _wait_healthy


def _command(data_dir: Path, *args: str, port: int = 8000) -> subprocess.CompletedProcess[str]:
    # The server's settings (the port names the tokens' issuer), as an operator beside it has them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
    env |= {"ZB_DATA_DIR": str(data_dir), "ZB_PORT": str(port), "ZB_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _redis_pid(data_dir: Path) -> int | None:
    state = data_dir / "redis.json"
    return json.loads(state.read_text())["pid"] if state.exists() else None


def _postgres_running(data_dir: Path) -> bool:
    pidfile = data_dir / "pg" / "postmaster.pid"
    return pidfile.exists() and psutil.pid_exists(int(pidfile.read_text().split()[0]))


def test_every_command_beside_a_live_server_leaves_it_healthy(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    try:
        _wait_healthy(base, proc)
        redis_pid = _redis_pid(tmp_path)
        expected = {
            ("migrate",): "applied 0 migration(s)",
            ("seed",): "seeded ",
            ("audit-verify",): "audit chain ok",
            ("burden",): "all bundles",
            ("operator-token", "--ttl", "600"): "",
            ("rotate-signing-key",): "new signing key",
        }
        for args, says in expected.items():
            done = _command(tmp_path, *args, port=port)
            assert done.returncode == 0, (args, done.stderr)
            assert says in done.stdout, (args, done.stdout)
            health = httpx.get(f"{base}/health", timeout=10)
            assert health.status_code == 200, (args, health.text)
            assert health.json()["redis"] == "ok" and health.json()["database"] == "ok"
            if args[0] == "operator-token":  # the token it printed works against the running server
                bearer = {"authorization": f"Bearer {done.stdout.strip()}"}
                admin = httpx.get(f"{base}/v1/admin/departments", headers=bearer, timeout=10)
                assert admin.status_code == 200, admin.text

        # A worker beside it (background jobs scaled out) joins the same servers and leaves them on SIGTERM.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")} | {"ZB_DATA_DIR": str(tmp_path)}
        worker = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in worker.stdout:  # its log lines, then this one once its jobs run (EOF if it died)
            if "worker running" in line:
                break
        assert worker.poll() is None, "the worker exited"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, worker.stdout.read()
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200

        assert redis_pid is not None and _redis_pid(tmp_path) == redis_pid and psutil.pid_exists(redis_pid)
    finally:
        _kill_group(proc, signal.SIGTERM)
    # The server, the last one using them, stopped both when it stopped.
    assert not psutil.pid_exists(redis_pid) and not _postgres_running(tmp_path)


def test_a_command_alone_starts_only_postgresql_and_stops_it(tmp_path: Path) -> None:
    done = _command(tmp_path, "operator-token")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(".") == 2  # a JWT
    # No Redis was started for it (nor left behind), and the PostgreSQL it started is stopped again.
    assert _redis_pid(tmp_path) is None and not (tmp_path / "redis.rdb").exists()
    assert (tmp_path / "pg" / "PG_VERSION").exists() and not _postgres_running(tmp_path)
