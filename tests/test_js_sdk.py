"""The TypeScript SDK in clients/js: its own tests under Node's test runner (a fake ``wx`` runtime that
enforces WeChat's limits), its size budget, and two SDK clients of one person against a real
``zhangban serve``.

The npm packages are installed from the committed lockfile (``npm ci``) when missing; where npm cannot
reach its registry the tests are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

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
    print(
        f"SDK minified {size['minified_bytes']} B, gzipped {size['gzipped_bytes']} B (budget {size['budget_bytes']} B)"
    )
    assert size["gzipped_bytes"] <= size["budget_bytes"]


def test_the_sdks_gb18030_decoder_reads_every_code_as_the_server_writes_it(sdk: Path) -> None:
    """Token fields carry Chinese text as GB 18030 bytes (Python's codec writes them); the SDK decodes them with
    its own compact table (mini-program runtimes may lack TextDecoder("gb18030")): every two-byte code, every
    four-byte code of the BMP, supplementary-plane codes, and strictness on bytes that are not GB 18030."""
    trails = [*range(0x40, 0x7F), *range(0x80, 0xFF)]
    two = [bytes([lead, trail]) for lead in range(0x81, 0xFF) for trail in trails]
    four = []
    for i in range(39_420):  # the BMP's four-byte codes, 81 30 81 30 to 84 31 A4 39
        four.append(bytes([0x81 + i // 12600, 0x30 + i // 1260 % 10, 0x81 + i // 10 % 126, 0x30 + i % 10]))
    supplementary = [chr(cp).encode("gb18030") for cp in (0x10000, 0x20000, 0x2A6D6, 0x10FFFF)]
    codes = two + four + supplementary + ["长沙市岳麓区麓山南路932号 Room 5".encode("gb18030")]
    bad = [b"\x80", b"\xff", b"\x81", b"\x81\x7f", b"\x81\x30\x81", b"\x84\x31\xa5\x30", b"\xe4\x32\x81\x30"]
    script = (
        "import { decodeGb18030 } from './dist/index.js'; import { readFileSync } from 'node:fs';"
        "const input = JSON.parse(readFileSync(0, 'utf8'));"
        "const out = input.codes.map((h) => decodeGb18030(Buffer.from(h, 'hex')));"
        "const refused = input.bad.map((h) => { try { decodeGb18030(Buffer.from(h, 'hex')); return false; } catch { return true; } });"
        "process.stdout.write(JSON.stringify({ out, refused }));"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=sdk,
        capture_output=True,
        text=True,
        input=json.dumps({"codes": [c.hex() for c in codes], "bad": [b.hex() for b in bad]}),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    expected = [c.decode("gb18030") for c in codes]
    wrong = [(c.hex(), e, o) for c, e, o in zip(codes, expected, result["out"], strict=True) if e != o]
    assert not wrong, wrong[:10]
    for b in bad:
        with pytest.raises(UnicodeDecodeError):
            b.decode("gb18030")
    assert result["refused"] == [True] * len(bad)


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


def _issue_id_card(base: str, env: dict[str, str], name: str, id_no: str) -> None:
    """As README's walkthrough: an operator gives 株洲市公安局 a system account, which makes a seal and issues."""
    op = subprocess.run(
        [sys.executable, "-m", "api.cli", "operator-token"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    with httpx.Client(base_url=base, timeout=30) as http:
        departments = http.get("/v1/admin/departments", headers={"Authorization": f"Bearer {op}"}).json()["items"]
        gongan = next(d["id"] for d in departments if d["name"] == "株洲市公安局")
        account = http.post(
            f"/v1/admin/departments/{gongan}/clients",
            headers={"Authorization": f"Bearer {op}"},
            json={"name": "户籍系统", "scopes": ["seals:manage", "certificates:issue"]},
        ).json()
        dept = http.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": account["client_id"],
                "client_secret": account["client_secret"],
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {dept}"}
        assert (
            http.post(
                "/v1/dept/seals",
                headers=headers,
                json={"name": "株洲市公安局电子证照专用章", "kind": "business", "algorithm": "ES256"},
            ).status_code
            == 201
        )
        issued = http.post(
            "/v1/dept/certificates",
            headers=headers,
            json={
                "type_code": "id_card",
                "holder": {"id_number": id_no, "name": name},
                "external_ref": "sdk-docs-1",
                "fields": {
                    "name": name,
                    "sex": "女",
                    "ethnicity": "汉",
                    "birth_date": f"{id_no[6:10]}-{id_no[10:12]}-{id_no[12:14]}",
                    "address": "湖南省株洲市芦淞区建设中路1号",
                    "valid_until": "2040-01-01",
                },
            },
        )
        assert issued.status_code == 201, issued.text


class Server:
    """``zhangban serve`` on the embedded default (its data folder and ports), stopped and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.starts = env, log, 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def healthy(self, base: str) -> None:
        """Wait for ``/health``; fail with the server's log when it exited."""
        assert self.proc is not None
        try:
            _wait(f"{base}/health", self.proc)
        except AssertionError as exc:
            raise AssertionError(self.log.read_text(errors="replace")[-3000:]) from exc

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the server's process group (granian's workers too) and wait for it to end."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):  # it died already (the failure being reported)
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=60)


def _drive(node: subprocess.Popen[str], server: Server, base: str, timeout: float) -> list[str]:
    """Run the two-client script, doing what it asks (`ZB-CONTROL sigterm|kill9`): the server is stopped
    or killed, its answer sent, and the server started again on the same data and ports."""
    assert node.stdout is not None and node.stdin is not None
    watchdog = threading.Timer(timeout, node.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        for line in node.stdout:
            if not line.startswith("ZB-CONTROL "):
                lines.append(line)
                continue
            ask = line.split()[1]
            server.signal({"sigterm": signal.SIGTERM, "kill9": signal.SIGKILL}[ask])
            node.stdin.write("down\n")
            node.stdin.flush()
            server.start()  # the clients retry with backoff meanwhile
            server.healthy(base)
        node.wait(timeout=30)
    finally:
        watchdog.cancel()
    return lines


def test_two_sdk_clients_of_one_person_converge_against_a_real_server(sdk: Path, tmp_path: Path) -> None:
    """Two SDK clients (wx adapters; web adapters on IndexedDB) converge through lost answers, duplicated,
    held back and overtaken batches, a SIGTERM (live channels close with 1012 and resume) and a
    SIGKILL of the server in the middle of a push; every mutation takes effect exactly once."""
    api_port, sim_port = _free_port(), _free_port()
    base, sim = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sim_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
    env |= {"ZB_DATA_DIR": str(tmp_path / "data"), "ZB_PORT": str(api_port), "ZB_WECHAT_API_BASE": sim}
    simulator = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "wechat-sim", "--port", str(sim_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(env, tmp_path / "serve.log")
    server.start()
    try:
        _wait(f"{sim}/_sim/messages", simulator)
        server.healthy(base)
        node_env = {**os.environ, "ZB_BASE": base, "ZB_SIM": sim, "ZB_MOTHER": id_number("19920304", 7, male=False)}
        with (tmp_path / "node.err").open("w") as err:
            node = subprocess.Popen(
                ["node", "e2e/two-clients.mjs"],
                cwd=sdk,
                env=node_env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
            out = _drive(node, server, base, timeout=240)
        assert node.returncode == 0, ("".join(out) + (tmp_path / "node.err").read_text())[-6000:]
        # The documentation's examples, for a person the public security bureau issued an ID card to.
        person = {"ZB_PERSON_NAME": "李娜", "ZB_PERSON_ID": id_number("19880505", 3, male=False)}
        _issue_id_card(base, env, person["ZB_PERSON_NAME"], person["ZB_PERSON_ID"])
        examples = _run(["node", "e2e/examples.mjs"], timeout=240, env=node_env | person)
    finally:
        server.signal(signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(simulator.pid, signal.SIGTERM)
        simulator.wait(timeout=60)
    assert json.loads(examples.strip().splitlines()[-1])["examples"] == "ok"
    summary = json.loads(out[-1])
    print("two clients:", summary)
    assert summary["converged"] and summary["mutations"] >= 20
    assert summary["web_socket_closes"][0] == "closed 1012"  # then the one the test closed itself
    assert server.starts == 3  # started, restarted after SIGTERM, restarted after SIGKILL


def test_typed_calls_take_and_give_the_servers_types(sdk: Path) -> None:
    _run(
        [
            "node_modules/.bin/tsc",
            "--noEmit",
            "--strict",
            "--target",
            "es2017",
            "--module",
            "es2020",
            "--moduleResolution",
            "bundler",
            "--skipLibCheck",
            "--lib",
            "es2017,dom",
            "test/typed-calls.ts",
        ]
    )


async def test_the_generated_api_types_are_current(sdk: Path, client: AsyncTestClient, tmp_path: Path) -> None:
    """clients/js/src/generated/openapi.ts is what openapi-typescript makes of the OpenAPI served now;
    regenerate it with `make api-types`."""
    spec = (await client.get("/schema/openapi.json")).json()
    (tmp_path / "openapi.json").write_text(json.dumps(spec, ensure_ascii=False))
    _run(["node_modules/.bin/openapi-typescript", str(tmp_path / "openapi.json"), "-o", str(tmp_path / "openapi.ts")])
    committed = (sdk / "src" / "generated" / "openapi.ts").read_text()
    assert (tmp_path / "openapi.ts").read_text() == committed, "the OpenAPI changed: run make api-types"
