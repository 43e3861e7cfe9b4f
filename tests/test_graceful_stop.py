"""``zhangban serve`` stopped with SIGTERM (a restart, a deploy) while a device holds its live stream open:
the stream ends with a ``retry:`` hint for the client and the server exits within its grace period."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import httpx

from tests.test_commands_beside_serve import _command
from tests.test_serve import _free_port, _kill_group, _start, _wait_healthy


def test_sigterm_ends_open_streams_with_a_retry_hint_and_the_server_exits(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    try:
        _wait_healthy(base, proc)
        token = _command(tmp_path, "operator-token", port=port).stdout.strip()
        lines: list[str] = []
        opened = threading.Event()

        def read() -> None:
            headers = {"authorization": f"Bearer {token}"}
            with httpx.stream("GET", f"{base}/v1/notifications/stream", headers=headers, timeout=60) as r:
                assert r.status_code == 200
                for line in r.iter_lines():
                    lines.append(line)
                    if line.startswith("event:"):
                        opened.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert opened.wait(60), "the stream sent nothing"

        proc.send_signal(signal.SIGTERM)  # what systemd or a container runtime sends to the main process
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError("serve did not exit within 15 s of SIGTERM with a stream open") from None
        reader.join(10)
        assert not reader.is_alive(), "the stream stayed open"
        assert any(line.startswith("retry:") for line in lines), lines
    finally:
        _kill_group(proc, signal.SIGKILL)
    out = proc.stdout.read().decode(errors="replace")
    assert proc.returncode == 0, out
