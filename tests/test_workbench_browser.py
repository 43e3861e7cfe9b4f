"""The window and the back office in a real browser: Debian's Chromium driven by Playwright (`playwright-core` from
clients/workbench's lockfile), zh-CN, against one real `zhangban serve` on the embedded default.

An elderly citizen with no account walks in: the clerk identifies her by her ID card, takes her consent, sees her
ID card supplied from the wallet (免提交), attaches two scans and submits 退休一件事 for her; 人社局 approves its two
tasks in the workbench (医保 and 公积金 through their systems); the window finds it in the pick-up queue, prints the
certificate page and records the hand-over. Then, over HTTP: the printed page's QR decodes to a URL that verifies,
she had a text message, and when she later installs the app and proves who she is she finds the application and
the 退休证 in her wallet. The clerk logs in with the second factor, binding an authenticator from the QR code; a clerk
of another centre, a department clerk without window authority and an expired 代办人 are each refused; axe-core
checks each screen. Screenshots go to test-artifacts/app/.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests import browser, h5_world
from tests.auth.helpers import second_factor_sync
from tests.h5_app import ARTIFACTS, ROOT, cjk_fonts, installed_app
from tests.people import id_number
from tests.test_h5_browser import _wait

WORKBENCH = ROOT / "clients" / "workbench"
ELDER = ("张秀英", id_number("19660301", 61, male=False))
NAMES = {
    "shenpi": "株洲市行政审批服务局",
    "gongan": "株洲市公安局",
    "renshe": "株洲市人力资源和社会保障局",
    "yibao": "株洲市医疗保障局",
    "gongjijin": "株洲市住房公积金管理中心",
}


def _staff(
    http: httpx.Client, op: dict[str, str], department: str, roles: list[str], *, second_factor: bool = True
) -> dict[str, Any]:
    """A member of staff's token pair, the login through its second factor (or only through the SMS code)."""
    pair = h5_world.sms_login(http, h5_world.phone())
    r = http.post(
        f"/v1/admin/departments/{department}/staff",
        headers=op,
        json={"account_id": pair["account"]["id"], "roles": roles},
    )
    assert r.status_code == 200, r.text
    pair = http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()
    return second_factor_sync(http, pair) if second_factor else pair


def _agents(http: httpx.Client, op_token: str) -> dict[str, Any]:
    """A mother who named her son 代办人 twice: for two seconds (long over when he comes to the window) and for
    退休一件事 for a month (he uses that one from his own app, once he has proven who he is there)."""
    mother, son = ("陈淑芬", id_number("19580214", 62, male=False)), ("周建国", id_number("19850520", 63))
    attester = h5_world.window_clerk(http, op_token)
    pair = h5_world.sms_login(http, h5_world.phone())
    me = {"Authorization": f"Bearer {pair['access_token']}"}
    session = http.post(
        "/v1/auth/realname/sessions", headers=me, json={"name": mother[0], "id_number": mother[1], "method": "counter"}
    ).json()
    r = http.post(
        "/v1/dept/realname/attest",
        headers={"Authorization": f"Bearer {attester}"},
        json={"session_id": session["session_id"], "id_number": mother[1]},
    )
    assert r.status_code == 200, r.text
    me = {
        "Authorization": "Bearer "
        + http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()["access_token"]
    }
    ids = []
    for until, matters in (
        (datetime.now(UTC) + timedelta(seconds=2), ["*"]),
        (datetime.now(UTC) + timedelta(days=30), ["retirement"]),
    ):
        r = http.post(
            "/v1/delegations",
            headers=me,
            json={
                "agent": {"id_number": son[1], "name": son[0]},
                "matters": matters,
                "actions": ["apply"],
                "expires_at": until.isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return {
        "expired": {
            "principal_name": mother[0],
            "principal_id_number": mother[1],
            "delegation_id": ids[0],
            "agent_id_number": son[1],
        },
        "agent": {
            "name": son[0],
            "id": son[1],
            "phone": h5_world.phone(),
            "delegation_id": ids[1],
            "attester": attester,
        },
        "mother": me,
    }


def _world(http: httpx.Client, op_token: str) -> dict[str, Any]:
    op = {"Authorization": f"Bearer {op_token}"}
    ids = {
        d["name"]: d["id"] for d in http.get("/v1/admin/departments", headers=op, params={"limit": 500}).json()["items"]
    }
    every = ["dept_admin", "issuer", "approver", "clerk"]
    pairs = {key: _staff(http, op, ids[name], every) for key, name in NAMES.items() if key != "shenpi"}
    tokens = {key: pair["access_token"] for key, pair in pairs.items()}
    for key in ("gongan", "renshe"):
        r = http.post(
            "/v1/dept/seals",
            headers={"Authorization": f"Bearer {tokens[key]}"},
            json={"name": "电子证照专用章", "kind": "official", "algorithm": "ES256"},
        )
        assert r.status_code == 201, r.text
    # 公安 issued her ID card long ago; she never had an app.
    r = http.post(
        "/v1/dept/certificates",
        headers={"Authorization": f"Bearer {tokens['gongan']}"},
        json={
            "type_code": "id_card",
            "holder": {"id_number": ELDER[1], "name": ELDER[0]},
            "external_ref": "elder-id-card",
            "fields": {
                "name": ELDER[0],
                "sex": "女",
                "ethnicity": "汉",
                "birth_date": "1966-03-01",
                "address": "株洲市芦淞区建设路8号",
                "valid_until": "2036-01-01",
            },
        },
    )
    assert r.status_code == 201, r.text
    # The window clerk has passed the SMS code only: the workbench asks for the second factor, binding it first.
    return {
        "clerk": _staff(http, op, ids[NAMES["shenpi"]], ["window_clerk"], second_factor=False),
        "other_centre": _staff(http, op, ids[NAMES["gongan"]], ["window_clerk"]),
        "renshe": pairs["renshe"],
        "yibao": tokens["yibao"],
        "gongjijin": tokens["gongjijin"],
        **_agents(http, op_token),
        "citizen": {"name": ELDER[0], "id": ELDER[1], "phone": h5_world.phone()},
    }


def test_an_elderly_citizen_is_served_at_the_window_from_intake_to_hand_over(tmp_path: Any) -> None:
    import jwt
    import pypdf
    import zxingcpp

    app = installed_app(WORKBENCH)
    chromium = browser.chromium()
    cjk_fonts()
    port = browser.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")} | {
        "ZB_DATA_DIR": str(tmp_path / "data"),
        "ZB_PORT": str(port),
    }
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait(f"{base}/health", server)
        op = subprocess.run(
            [sys.executable, "-m", "api.cli", "operator-token"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.strip()
        with httpx.Client(base_url=base, timeout=60) as http:
            world = _world(http, op)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            out = subprocess.run(
                ["node", "e2e/story.mjs"],
                cwd=app,
                capture_output=True,
                text=True,
                timeout=300,
                env={
                    **os.environ,
                    "ZB_STORY": json.dumps(world | {"base": base, "artifacts": str(ARTIFACTS)}),
                    "ZB_CHROMIUM": chromium,
                },
            )
            story: dict[str, Any] = {}
            for line in out.stdout.splitlines():
                if line.startswith("{"):
                    story.update(json.loads(line))
            why = (
                (out.stdout + out.stderr)[-5000:]
                + "\n--- server ---\n"
                + (tmp_path / "serve.log").read_text(errors="replace")[-2000:]
            )
            assert out.returncode == 0 and "pickup" in story, why
            app_id = story["intake"]["application_id"]
            assert "免提交" in story["intake"]["id_card"]
            assert [
                a.startswith(("审核：职工退休核准", "审核：基本养老金申领")) for a in story["back_office"]["approved"]
            ] == [True, True]
            assert "退休证" in story["pickup"]["results"] and story["pickup"]["printed"].startswith("blob:")
            assert "暂无待领取" in story["pickup"]["queue_after"]
            # Staff log in with a second factor: the clerk bound an authenticator from the QR code at the first login.
            assert story["login"]["secret_length"] == 32 and story["login"]["qr"] == "data:image/svg+xml;base64,"
            clerk_claims = jwt.decode(story["clerk_tokens"]["access_token"], options={"verify_signature": False})
            assert "window_clerk" in clerk_claims["roles"] and clerk_claims["amr"] == ["sms", "otp", "mfa"]
            # Who may not: a clerk of another centre, a department clerk without window authority, an expired 代办人.
            assert "暂无待领取" in story["other_centre"]["queue"]
            other = {"Authorization": f"Bearer {world['other_centre']['access_token']}"}
            r = http.get(f"/v1/dept/window/pickups/{app_id}/print", headers=other)
            assert r.status_code == 403 and r.json()["type"] == "window_other_centre", r.text
            assert "综合受理" not in story["no_window_authority"]["tabs"]
            assert "无权访问" in story["no_window_authority"]["refused"], story["no_window_authority"]
            assert "代办授权已过期或已撤销" in story["expired_agent"]["refused"], story["expired_agent"]
            # Her son, her 代办人 for 退休一件事, applied for her from his own app: it is hers, and in her access log.
            assert "正在代" in story["app_agent"]["acting"] and "已代为提交" in story["app_agent"]["submitted"]
            hers = http.get("/v1/applications", headers=world["mother"]).json()["items"]
            assert [a["bundle_code"] for a in hers] == ["retirement"], hers
            access = http.get("/v1/wallet/access-log", headers=world["mother"]).json()["items"]
            assert [e["purpose"] for e in access if e["delegation_id"] == world["agent"]["delegation_id"]] == [
                "代办人代为申请（retirement）",
                "代办人切换为代您办理",
            ], access
            # axe-core finds nothing on the workbench's screens (WCAG 2.1 A/AA).
            assert [s["name"] for s in story["a11y"]] == [
                "login",
                "login-enrol",
                "intake",
                "tasks",
                "decide",
                "pickups",
                "handover",
                "app-agent",
            ]
            assert [s for s in story["a11y"] if s["violations"]] == [], story["a11y"]

            # The printed page's QR is the certificate's URL, and it verifies.
            clerk = {"Authorization": f"Bearer {story['clerk_tokens']['access_token']}"}
            pdf = pypdf.PdfReader(
                io.BytesIO(http.get(f"/v1/dept/window/pickups/{app_id}/print", headers=clerk).content)
            )
            url = next(b.text for img in pdf.pages[0].images for b in zxingcpp.read_barcodes(img.image))
            assert url.startswith(f"HTTP://127.0.0.1:{port}/V/")
            verdict = http.post("/v1/verify", json={"token": url}).json()
            assert verdict["valid"] is True and verdict["certificate"]["type_name"] == "退休证", verdict
            # She had no app: the pick-up notice came by text message to the phone she gave at the window.
            texts = http.get("/v1/dev/sms", params={"phone": world["citizen"]["phone"]}).json()["items"]
            assert any("领取" in json.dumps(t, ensure_ascii=False) for t in texts), texts

            # Later she installs the app and proves who she is at a window: the application and 退休证 are hers.
            pair = h5_world.sms_login(http, h5_world.phone())
            me = {"Authorization": f"Bearer {pair['access_token']}"}
            session = http.post(
                "/v1/auth/realname/sessions",
                headers=me,
                json={"name": ELDER[0], "id_number": ELDER[1], "method": "counter"},
            ).json()
            attester = h5_world.window_clerk(http, op)
            r = http.post(
                "/v1/dept/realname/attest",
                headers={"Authorization": f"Bearer {attester}"},
                json={"session_id": session["session_id"], "id_number": ELDER[1]},
            )
            assert r.status_code == 200, r.text
            me = {
                "Authorization": "Bearer "
                + http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()["access_token"]
            }
            mine = http.get("/v1/applications", headers=me).json()["items"]
            assert [a["id"] for a in mine] == [app_id] and mine[0]["status"] == "completed"
            wallet = http.get("/v1/wallet/items", params={"kind": "certificate"}, headers=me).json()["items"]
            assert {"退休证", "居民身份证"} <= {i["certificate"]["type_name"] for i in wallet}, wallet
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()
