"""The README's walkthroughs, run as written against a fresh development server.

The blocks are read out of README.md itself, so a walkthrough that stops working fails here. Only
the ports change (to free ones) and the data folder (a temporary one).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def walkthrough_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Walkthroughs\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def _wait_healthy(base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the server the walkthrough starts did not become healthy")


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("curl") is None,
    reason="the walkthroughs use curl and jq, and one of them is not installed here",
)
def test_readme_walkthroughs_run_as_written(tmp_path: Path) -> None:
    api_port, sim_port = _free_port(), _free_port()
    zhangban = str(Path(sys.executable).parent / "zhangban")

    def as_here(block: str) -> str:
        return (
            block.replace("127.0.0.1:8000", f"127.0.0.1:{api_port}")
            .replace("--port 8900", f"--port {sim_port}")
            .replace("127.0.0.1:8900", f"127.0.0.1:{sim_port}")
            .replace(".venv/bin/zhangban", zhangban)
        )

    start, *steps = walkthrough_blocks()
    assert len(steps) == 3, "the README has three walkthroughs after the block that starts the servers"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
    # The walkthroughs' commands and the server they start share one data folder and port, as they
    # do for a user in the checkout (./.zhangban, 8000).
    env |= {"ZB_DATA_DIR": str(tmp_path / ".zhangban"), "ZB_PORT": str(api_port)}
    servers = subprocess.Popen(
        ["bash", "-c", as_here(start) + "\nwait"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{api_port}")
        script = "set -euo pipefail\n" + "\n".join(as_here(b) for b in steps)
        done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        os.killpg(servers.pid, signal.SIGTERM)
        servers.wait(timeout=60)
    out = done.stdout
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # What each walkthrough shows its reader.
    assert '"status": "valid"' in out and '"id_masked": "430***********0038"' in out
    assert "1 row: 1 issued, 0 issued before, 0 failed" in out  # zhangban issue, from a spreadsheet
    assert '"valid": true' in out and '"certificate": "居民身份证"' in out
    assert re.search(r"^200 text/html", out, re.M)
    assert '"L3"' in out and '"居民身份证"' in out
    assert '["father_id_card","from_wallet"]' in out and '["child_photo","needed"]' in out
