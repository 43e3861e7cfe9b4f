"""The citizen app in a real browser: Debian's Chromium driven by Playwright (`playwright-core` from
clients/app's lockfile), phone viewport, zh-CN, against a real `zhangban serve` on the embedded default.

One server and one browser for the module: `clients/app/e2e/story.mjs` lives the birth bundle offline
(log in, real name at the window, go offline, fill the form, attach three photos, reload, queue, come
online: the submission lands once), follows the departments' approvals live, finds the child's
certificates in the wallet, shows a certificate as a QR whose page says 有效 and, after revocation,
吊销, shows her household register offline from her phone's own key (ZB2:) to an offline verifier, audits the main screens with axe-core in normal and large-text mode, and opens the app as a WeChat
web-view handed a wx.login code (the bundled WeChat simulator answers for WeChat). Then `e2e/camera.mjs` opens
the verifier with Chromium's fake camera playing a QR code of an ID card issued here, and scans it. Screenshots are kept in
test-artifacts/app/ for a person to look at. Without node/npm or Chromium the tests skip, saying why.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from esign.codec import qr
from tests import browser, h5_world
from tests.h5_app import ARTIFACTS, cjk_fonts, installed_app
from tests.people import id_number

CHILD = id_number("20261118", 43, male=False)
NEIGHBOUR = ("赵敏", id_number("19880620", 44, male=False))


def y4m_of_qr(url: str, *, width: int = 640, height: int = 480, frames: int = 5) -> bytes:
    """A fake camera's video (YUV4MPEG2, 4:2:0): a few identical grey frames of the server's QR code of ``url``,
    black modules on white with the quiet zone, as a phone held over a screen would see it."""
    matrix = qr.make_qr(url).matrix
    n = len(matrix) + 2 * qr.BORDER
    scale = min(width, height) // n
    left, top = (width - n * scale) // 2, (height - n * scale) // 2
    luma = bytearray(b"\xeb" * (width * height))
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                x, y = left + (c + qr.BORDER) * scale, top + (r + qr.BORDER) * scale
                for dy in range(scale):
                    luma[(y + dy) * width + x : (y + dy) * width + x + scale] = b"\x10" * scale
    chroma = b"\x80" * (2 * (width // 2) * (height // 2))
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    return header + (b"FRAME\n" + bytes(luma) + chroma) * frames


def _camera_file(base: str, world: dict[str, Any], tmp: Any) -> tuple[str, str]:
    """A neighbour's ID card issued now by 公安; the fake camera's file showing its QR code, and the URL it holds."""
    r = httpx.post(
        f"{base}/v1/dept/certificates",
        headers={"Authorization": f"Bearer {world['staff']['gongan']}"},
        json={
            "type_code": "id_card",
            "holder": {"id_number": NEIGHBOUR[1], "name": NEIGHBOUR[0]},
            "fields": {
                "name": NEIGHBOUR[0],
                "sex": "女",
                "ethnicity": "汉",
                "birth_date": "1988-06-20",
                "address": h5_world.ADDRESS,
                "valid_until": "2040-01-01",
            },
            "external_ref": f"id_card:{NEIGHBOUR[1]}",
        },
        timeout=60,
    )
    assert r.status_code in (200, 201), r.text
    url = r.json()["qr_url"]
    path = tmp / "camera.y4m"
    path.write_bytes(y4m_of_qr(url))
    return str(path), url


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"zhangban serve exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def _world(base: str, env: dict[str, str]) -> dict[str, Any]:
    """As the README's walkthroughs: departments with staff and seals, the parents' certificates issued."""
    op = subprocess.run(
        [sys.executable, "-m", "api.cli", "operator-token"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    with httpx.Client(base_url=base, timeout=60) as http:
        world = h5_world.setup(http, op)
    staff = {key: pair["access_token"] for key, pair in world["staff"].items()}
    return {
        "base": base,
        "staff": staff,
        "clerk": world["clerk"],
        "mother": {"name": h5_world.MOTHER[0], "id": h5_world.MOTHER[1]},
        "father_id": h5_world.FATHER[1],
        "child_id": CHILD,
        "address": h5_world.ADDRESS,
        "phone": h5_world.phone(),
        "mother_card": world["mother_card"],
        "artifacts": str(ARTIFACTS),
    }


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Runs clients/app/e2e/story.mjs once against one server; each test reads its part of the outcome."""
    app = installed_app()
    chromium = browser.chromium()
    cjk_fonts()
    tmp = tmp_path_factory.mktemp("h5")
    port = browser.free_port()
    base = f"http://127.0.0.1:{port}"
    sim_port = browser.free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")} | {
        "ZB_DATA_DIR": str(tmp / "data"),
        "ZB_PORT": str(port),
        "ZB_WECHAT_API_BASE": sim,
    }
    log = open(tmp / "serve.log", "wb")  # a file, not a pipe: nobody reads the log while the story runs
    simulator = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "wechat-sim", "--port", str(sim_port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait(f"{sim}/_sim/messages", simulator)
        _wait(f"{base}/health", server)
        world = _world(base, env) | {"sim": sim}
        world["camera_file"], camera_url = _camera_file(base, world, tmp)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        results: dict[str, Any] = {"_camera_url": camera_url}
        logs = []
        for script in ("e2e/story.mjs", "e2e/camera.mjs"):
            out = subprocess.run(
                ["node", script],
                cwd=app,
                capture_output=True,
                text=True,
                timeout=400,
                env={**os.environ, "ZB_STORY": json.dumps(world), "ZB_CHROMIUM": chromium},
            )
            for line in out.stdout.splitlines():
                if line.startswith("{"):
                    results.update(json.loads(line))
            logs.append((out.stdout + out.stderr)[-6000:])
            results.setdefault("_exit", out.returncode)
        results["_log"] = (
            "\n".join(logs) + "\n--- server ---\n" + (tmp / "serve.log").read_text(errors="replace")[-3000:]
        )
        yield results
    finally:
        os.killpg(simulator.pid, signal.SIGTERM)
        simulator.wait(timeout=30)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


def _part(story: dict[str, Any], name: str) -> dict[str, Any]:
    assert name in story, f"the browser story stopped before {name!r}:\n{story['_log']}"
    return story[name]


def test_the_birth_bundle_offline_lands_once_and_progresses_live(story: dict[str, Any]) -> None:
    part = _part(story, "birth")
    assert part["offline_page_reloaded"] and part["draft_survived_reload"] and part["photos_survived_reload"] == 3
    assert part["queued_while_offline"] >= 1 and part["queue_survived_reload"]
    assert part["applications_on_server"] == 1 and part["status_after_online"] in ("已受理", "办理中")
    assert part["first_approval_seen_live"] and part["final_status"] == "已办结"
    assert {"birth_medical_certificate", "household_register"} <= set(part["child_certificates"])
    assert part["supplement_answered"] in ("pending", "claimed")
    assert part["rating"] == 5 and part["feedback_received"]
    assert part["unread"] >= 1 and part["unread_after_reading"] == part["unread"] - 1
    assert any("株洲市医疗保障局" in entry and "已查阅" in entry for entry in part["access_log"]), part["access_log"]


def test_a_presented_qr_says_valid_then_revoked(story: dict[str, Any]) -> None:
    part = _part(story, "present")
    assert part["qr_url"].lower().startswith(story["birth"]["base"])
    assert "有效" in part["page_valid"] and "无效" not in part["page_valid"] and part["app_valid"] == "有效"
    assert part["stepped_up"]
    assert part["app_valid_offline"] == "有效" and part["offline_note"]
    # The disclosed fields with their labels, the issuer by name (from the trust list).
    assert "姓名" in part["app_fields"] and "性别" in part["app_fields"] and "株洲市公安局" in part["app_fields"]
    assert part["fields_shown"] >= 1 and part["countdown"].startswith("剩余")
    assert "吊销" in part["page_revoked"] and part["app_revoked"] == "已吊销" and part["wallet_status"] == "已吊销"


def test_a_presentation_made_offline_is_valid_offline_and_refused_after_the_device_is_revoked(
    story: dict[str, Any],
) -> None:
    """ZB2: her phone (its key non-extractable, registered after a fresh L3 proof) shows two fields of her household
    register with no network, answering the nonce the verifier showed; the verifier phone, offline too with its trust
    list and status lists, says 有效 with exactly those two fields. Revoked from elsewhere, the phone still makes a
    presentation from the credential it keeps: accepted by lists that predate the revocation, refused once they refresh."""
    part = _part(story, "zb2")
    assert "密钥不可导出" in part["device"] and "本机" in part["device"], part["device"]
    assert part["holder_network"].startswith("离线") and part["verifier_offline"]
    assert part["verdict"] == "有效" and part["holder_bound"]
    assert part["fields"] == ["户主姓名", "与户主关系"], part["fields"]
    assert part["token_chars"] <= 1100
    assert part["revoked"] == "revoked"
    assert part["before_refresh"] == "有效"
    assert part["after_refresh"] == part["after_refresh_offline"] == "已吊销", part
    assert any("停用" in r for r in part["reasons"]), part["reasons"]
    assert [d for d in part["devices_after"] if "已停用" in d], part["devices_after"]


def test_the_verifier_scans_a_certificate_with_the_camera(story: dict[str, Any]) -> None:
    """A fake camera shows the QR code of an ID card issued in the test; 扫码 reads it (jsQR where Chromium has no
    BarcodeDetector) and says 有效 with the labelled fields; cancelling and leaving stop the camera; a refusal is said."""
    part = _part(story, "camera")
    assert "error" not in part, part["error"]
    assert part["scanned"] == story["_camera_url"] and part["verdict"] == "有效"
    assert NEIGHBOUR[0] in part["fields"] and "姓名" in part["fields"] and "株洲市公安局" in part["fields"], part[
        "fields"
    ]
    assert part["live_while_scanning"] >= 1
    assert part["reader"] == ("BarcodeDetector" if part["native_detector"] else "jsQR")
    assert part["live_after_cancel"] == part["live_after_scan"] == part["live_after_leaving"] == 0
    assert "摄像头权限" in part["denied"]


def test_a_consent_granted_in_the_app_is_listed_and_reaches_the_department(story: dict[str, Any]) -> None:
    part = _part(story, "consent")
    assert "生效中" in part["listed"], part
    assert part["department_sees"] == ["active"]


def test_not_me_in_the_inbox_ends_the_other_login(story: dict[str, Any]) -> None:
    part = _part(story, "not_me")
    assert part["other_login_before"] == 200 and part["alert_shown"]
    assert "不是您本人操作" in part["confirm_asked"] and "已结束该登录" in part["answer"]
    assert part["other_login_after"] == 401 and part["this_login_after"] == 200


def test_large_text_and_the_accessibility_audit(story: dict[str, Any]) -> None:
    """axe-core's WCAG 2.1 A/AA rules on every main screen in both modes; tap targets at least 48 px, and 60 px in
    large-text mode (the 适老版 of the national guideline), checkboxes and file inputs measured by their labels."""
    part = _part(story, "a11y")
    assert len(part["screens"]) >= 8
    for screen in part["screens"]:
        assert screen["violations"] == [], screen
        assert screen["small_targets"] == [], screen
    assert part["large_font_px"] >= 22 > part["normal_font_px"] - 1
    shots = sorted(p.name for p in ARTIFACTS.glob("*.png"))
    assert len(shots) >= 16, shots
    assert story["_exit"] == 0, story["_log"]


def test_inside_wechat_the_mini_program_hands_the_app_a_login(story: dict[str, Any]) -> None:
    part = _part(story, "wechat")
    assert part["logged_in"] and not part["code_left_in_url"]
