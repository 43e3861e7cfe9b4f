"""clients/app for the tests that build or drive it: its npm packages installed from the lockfile once."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "clients" / "app"
SHIPPED = ROOT / "api" / "h5_app"
# Screenshots of the browser tests, for a person to look at (gitignored).
ARTIFACTS = ROOT / "test-artifacts" / "app"


def run(args: list[str], timeout: int = 300, env: dict[str, str] | None = None, cwd: Path = APP) -> str:
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    return out.stdout


def installed_app(APP: Path = APP) -> Path:
    """clients/app (or another web app of clients/) with its packages installed by ``npm ci``; skips, saying why,
    without node and npm."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node and npm are not installed on this machine")
    stamp = APP / "node_modules" / ".package-lock.json"
    with open(APP / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel workers install once
        if not stamp.exists() or stamp.stat().st_mtime < (APP / "package-lock.json").stat().st_mtime:
            install = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--fetch-retries=1"],
                cwd=APP,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if install.returncode != 0:
                ping = subprocess.run(
                    ["npm", "ping", "--fetch-retries=0"], cwd=APP, capture_output=True, text=True, timeout=120
                )
                if ping.returncode != 0:
                    pytest.skip(f"npm cannot reach its registry: {(ping.stderr or ping.stdout).strip()[-300:]}")
                pytest.fail(f"npm ci failed: {install.stderr[-2000:]}")
    return APP


def cjk_fonts() -> None:
    """Chinese fonts for the screenshots (Debian's fonts-noto-cjk), installed when missing where the machine
    allows; without them the pages still work and the tests still pass, the pictures show boxes."""
    listed = (
        subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True) if shutil.which("fc-list") else None
    )
    if listed is not None and listed.stdout.strip():
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "fonts-noto-cjk"], capture_output=True, timeout=900, env=env)
