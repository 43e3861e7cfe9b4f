"""The TypeScript SDK in clients/js: its own tests under Node's test runner (a fake ``wx`` runtime that
enforces WeChat's limits), its size budget, and two SDK clients of one person against a real
``zhangban serve``.

The npm packages are installed from the committed lockfile (``npm ci``) when missing; where npm cannot
reach its registry the tests are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from litestar.testing import AsyncTestClient
import pytest

from tests.js_sdk import built_sdk, run
from tests.people import id_number

_run = run


@pytest.fixture(scope="module")
def sdk() -> Path:
    return built_sdk()


def test_sdk_unit_tests_pass_under_node(sdk: Path) -> None:
    out = _run(["node", "--test", *sorted(str(p.relative_to(sdk)) for p in (sdk / "test").glob("*.test.mjs"))])
    assert "# fail 0" in out, out[-3000:]


def test_sdk_fits_its_size_budget(sdk: Path) -> None:
    size = json.loads(_run(["node", "scripts/size.mjs"]))
    print(f"SDK minified {size['minified_bytes']} B, gzipped {size['gzipped_bytes']} B (budget {size['budget_bytes']} B)")
    assert size["gzipped_bytes"] <= size["budget_bytes"]


def _websocket_flag() -> list[str]:
    """Node 20 has a global WebSocket behind a flag (Node 22 has it always)."""
    probe = subprocess.run(["node", "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"], capture_output=True)
    return [] if probe.returncode == 0 else ["--experimental-websocket"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError((proc.stdout.read() if proc.stdout else b"").decode(errors="replace")[-3000:])
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def test_two_sdk_clients_of_one_person_converge_against_a_real_server(sdk: Path, tmp_path: Path) -> None:
    api_port, sim_port = _free_port(), _free_port()
    base, sim = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sim_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
    env |= {"ZB_DATA_DIR": str(tmp_path / "data"), "ZB_PORT": str(api_port), "ZB_WECHAT_API_BASE": sim}
    simulator = subprocess.Popen([sys.executable, "-m", "api.cli", "wechat-sim", "--port", str(sim_port)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(f"{sim}/_sim/messages", simulator)
        _wait(f"{base}/health", server)
        node_env = {**os.environ, "ZB_BASE": base, "ZB_SIM": sim, "ZB_MOTHER": id_number("19920304", 7, male=False)}
        out = _run(["node", *_websocket_flag(), "e2e/two-clients.mjs"], timeout=240, env=node_env)
    finally:
        for proc in (server, simulator):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    summary = json.loads(out.strip().splitlines()[-1])
    print("two clients:", summary)
    assert summary["converged"] and summary["mutations"] >= 6


def test_typed_calls_take_and_give_the_servers_types(sdk: Path) -> None:
    _run(["node_modules/.bin/tsc", "--noEmit", "--strict", "--target", "es2017", "--module", "es2020", "--moduleResolution",
          "bundler", "--skipLibCheck", "--lib", "es2017,dom", "test/typed-calls.ts"])


async def test_the_generated_api_types_are_current(sdk: Path, client: AsyncTestClient, tmp_path: Path) -> None:
    """clients/js/src/generated/openapi.ts is what openapi-typescript makes of the OpenAPI served now;
    regenerate it with `node_modules/.bin/openapi-typescript openapi.json -o src/generated/openapi.ts`."""
    spec = (await client.get("/schema/openapi.json")).json()
    (tmp_path / "openapi.json").write_text(json.dumps(spec, ensure_ascii=False))
    _run(["node_modules/.bin/openapi-typescript", str(tmp_path / "openapi.json"), "-o", str(tmp_path / "openapi.ts")])
    committed = (sdk / "src" / "generated" / "openapi.ts").read_text()
    assert (tmp_path / "openapi.ts").read_text() == committed, "the OpenAPI changed: regenerate src/generated/openapi.ts"
