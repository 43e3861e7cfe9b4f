"""Run the WeChat simulator on a free loopback port for the duration of a test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from auth.wechat_sim import DEFAULT_APPID, DEFAULT_SECRET, create_sim_app


@contextmanager
def running_sim(appid: str = DEFAULT_APPID, secret: str = DEFAULT_SECRET) -> Iterator[str]:
    """Serve a fresh simulator in a background thread; yields its base URL and stops it on exit."""
    # Binding the socket here (port 0) hands uvicorn a port no other test can race us for.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_sim_app(appid, secret), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="wechat-sim", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the WeChat simulator did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
