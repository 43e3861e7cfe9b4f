"""Real browsers and real servers for page tests: the app on a loopback port, headless Chromium.

Debian's ``chromium`` is installed on first use when missing (CI machines start without it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from litestar import Litestar

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_install_lock = threading.Lock()


def chromium() -> str:
    """Path of a headless-capable Chromium, installing Debian's package when it is missing."""
    with _install_lock:
        found = shutil.which("chromium")
        if found is None and shutil.which("apt-get") and os.geteuid() == 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "chromium"],
                capture_output=True,
                timeout=900,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
            found = shutil.which("chromium")
    if found is None:
        pytest.skip("Debian's chromium could not be installed on this machine")
    return found


def dump_dom(url: str, *, budget_ms: int = 8000) -> str:
    """The DOM after the page's scripts ran (virtual time lets fetches finish), as Chromium serialises it."""
    with tempfile.TemporaryDirectory(prefix="zb-chromium-") as profile:
        out = subprocess.run(
            [
                chromium(),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app: Litestar) -> Iterator[str]:
    """Serve ``app`` (lifespan included) on a loopback port in a thread; yield its base URL."""
    port = free_port()
    # proxy_headers off: like granian in production, the app alone decides whom X-Forwarded-For names.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
