"""clients/js for the tests that run it: its npm packages installed from the lockfile and built once."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

SDK = Path(__file__).resolve().parent.parent / "clients" / "js"


def run(args: list[str], timeout: int = 300, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(args, cwd=SDK, capture_output=True, text=True, timeout=timeout, env=env)
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    return out.stdout


def _skip_unless_registry_answers() -> None:
    try:
        ping = subprocess.run(
            ["npm", "ping", "--fetch-retries=0"], cwd=SDK, capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm cannot reach its registry: `npm ping` did not answer within 2 minutes")
    if ping.returncode != 0:
        pytest.skip(f"npm cannot reach its registry: {(ping.stderr or ping.stdout).strip()[-300:]}")


def built_sdk() -> Path:
    """clients/js with its packages installed (``npm ci``) and built (``tsc``); skips without node/npm."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node and npm are not installed on this machine")
    with open(SDK / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install and build once
        if not (SDK / "node_modules" / ".bin" / "tsc").exists():
            install = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--fetch-retries=1"],
                cwd=SDK,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if install.returncode != 0:
                _skip_unless_registry_answers()
                pytest.fail(f"npm ci failed: {install.stderr[-2000:]}")
        run(["node_modules/.bin/tsc", "-p", "tsconfig.json"])
    return SDK
