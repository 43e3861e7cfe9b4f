"""The departments behind the citizen app's birth story, over HTTP. tests/test_h5_browser.py builds its world
with it, and a person uses it beside `make run` to live the birth bundle in /app from start to certificate:

    .venv/bin/python -m tests.h5_world setup              # five departments' staff and seals, the parents' certificates
    .venv/bin/python -m tests.h5_world attest SESSION_ID [ID_NUMBER]  # a window clerk attests the app's 实人认证 code
    .venv/bin/python -m tests.h5_world approve APP_ID     # each department approves its task, in the bundle's order

`setup` keeps the staff's refresh tokens in .zhangban/h5-world.json; the API is ZB_API (default
http://127.0.0.1:8000), the operator token comes from `zhangban operator-token`.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.auth.helpers import prove_l3_sync, second_factor_sync
from tests.people import id_number

DEPARTMENTS = {
    "gongan": "株洲市公安局",
    "minzheng": "株洲市民政局",
    "weijian": "株洲市卫生健康委员会",
    "renshe": "株洲市人力资源和社会保障局",
    "yibao": "株洲市医疗保障局",
}
BY_PREFIX = {"430200-WJ": "weijian", "430200-GA": "gongan", "430200-RS": "renshe", "430200-YB": "yibao"}
MOTHER = ("王芳", id_number("19920304", 41, male=False))
FATHER = ("李强", id_number("19900512", 42, male=True))
ADDRESS = "湖南省株洲市天元区长江北路1号"
STATE = Path(".zhangban") / "h5-world.json"


def results(matter_code: str, form: dict[str, Any]) -> dict[str, Any]:
    """What each department records when it approves its matter of the birth bundle."""
    born = str(form.get("child_born_at", "2026-11-18"))
    return {
        "430200-WJ-001": {
            "result_fields": {
                "birth_place": "株洲市中心医院",
                "mother_name": MOTHER[0],
                "father_name": FATHER[0],
                "institution": "株洲市中心医院",
            }
        },
        "430200-GA-001": {
            "result_fields": {
                "household_head": FATHER[0],
                "relation": "女" if form.get("child_sex") == "女" else "子",
                "address": ADDRESS,
                "registered_on": born,
            },
            "assigned_id_number": id_number(
                born.replace("-", ""), random.randint(100, 499), male=form.get("child_sex") != "女"
            ),
        },
        "430200-RS-001": {"result_fields": {"card_no": "A12345678", "bank": "中国工商银行", "issued_on": born}},
        "430200-YB-001": {"result_fields": {"insurance_type": "城乡居民医保", "start_on": born}},
        "430200-WJ-004": {"result_fields": {"clinic": "天元区社区卫生服务中心"}},
        "430200-WJ-005": {"result_fields": {"mother_name": MOTHER[0], "issued_on": born}},
    }.get(matter_code, {})


def sms_login(http: httpx.Client, phone: str) -> dict[str, Any]:
    """SMS login as a person would, reading the code from the development sink."""
    r = http.post("/v1/auth/sms/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    code = http.get("/v1/dev/sms", params={"phone": phone}).json()["items"][-1]["params"]["code"]
    r = http.post("/v1/auth/sms/login", json={"phone": phone, "code": code})
    assert r.status_code == 200, r.text
    return r.json()


def phone() -> str:
    return f"139{random.randint(0, 99_999_999):08d}"


def setup(http: httpx.Client, operator_token: str) -> dict[str, Any]:
    """Staff (every role) and an official seal for each department, 公安's windows allowed to attest real names,
    the parents' ID cards and household register and their marriage certificate issued. Returns the staff's
    token pairs by department key and the mother's ID card."""
    op = {"Authorization": f"Bearer {operator_token}"}
    ids = {
        d["name"]: d["id"] for d in http.get("/v1/admin/departments", headers=op, params={"limit": 500}).json()["items"]
    }
    r = http.put(
        f"/v1/admin/departments/{ids[DEPARTMENTS['gongan']]}/authority", headers=op, json={"realname_proofing": True}
    )
    assert r.status_code in (200, 201), r.text
    staff: dict[str, dict[str, Any]] = {}
    for key, name in DEPARTMENTS.items():
        pair = sms_login(http, phone())
        r = http.post(
            f"/v1/admin/departments/{ids[name]}/staff",
            headers=op,
            json={"account_id": pair["account"]["id"], "roles": ["dept_admin", "issuer", "approver", "clerk"]},
        )
        assert r.status_code == 200, r.text
        staff[key] = second_factor_sync(
            http, http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()
        )
        r = http.post(
            "/v1/dept/seals",
            headers=bearer(staff[key]),
            json={"name": "电子公章", "kind": "official", "algorithm": "ES256"},
        )
        assert r.status_code in (200, 201), r.text

    def issue(key: str, type_code: str, holder: tuple[str, str], fields: dict[str, Any]) -> dict[str, Any]:
        r = http.post(
            "/v1/dept/certificates",
            headers=bearer(staff[key]),
            json={
                "type_code": type_code,
                "holder": {"id_number": holder[1], "name": holder[0]},
                "fields": fields,
                "external_ref": f"{type_code}:{holder[1]}",
            },
        )
        assert r.status_code in (200, 201), r.text
        return r.json()

    cards = {}
    for (name, number), sex in ((FATHER, "男"), (MOTHER, "女")):
        cards[number] = issue(
            "gongan",
            "id_card",
            (name, number),
            {
                "name": name,
                "sex": sex,
                "ethnicity": "汉",
                "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
                "address": ADDRESS,
                "valid_until": "2040-01-01",
            },
        )
        issue(
            "gongan",
            "household_register",
            (name, number),
            {
                "household_head": FATHER[0],
                "relation": "户主" if number == FATHER[1] else "妻",
                "address": ADDRESS,
                "registered_on": "2020-05-01",
            },
        )
    issue(
        "minzheng",
        "marriage_certificate",
        MOTHER,
        {"spouse_name": FATHER[0], "registered_on": "2020-05-01", "registry": "株洲市天元区民政局"},
    )
    return {"staff": staff, "mother_card": cards[MOTHER[1]]["id"], "clerk": window_clerk(http, operator_token)}


def window_clerk(http: httpx.Client, operator_token: str) -> str:
    """A new 公安 window clerk who proved their own identity just now (a clerk attests only within 15 minutes of
    that); their access token."""
    op = {"Authorization": f"Bearer {operator_token}"}
    ids = {
        d["name"]: d["id"] for d in http.get("/v1/admin/departments", headers=op, params={"limit": 500}).json()["items"]
    }
    pair = sms_login(http, phone())
    r = http.post(
        f"/v1/admin/departments/{ids[DEPARTMENTS['gongan']]}/staff",
        headers=op,
        json={"account_id": pair["account"]["id"], "roles": ["clerk"]},
    )
    assert r.status_code == 200, r.text
    pair = second_factor_sync(http, http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json())
    return prove_l3_sync(http, operator_token, pair)["access_token"]


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def approve_ready(http: httpx.Client, staff: dict[str, dict[str, Any]], application_id: str) -> int:
    """One round: every department approves the tasks of the application that are ready. Answers how many."""
    done = 0
    for key in BY_PREFIX.values():
        tasks = http.get("/v1/dept/tasks", headers=bearer(staff[key]), params={"limit": 500}).json()["items"]
        for t in tasks:
            if t["application_id"] != application_id or t["status"] not in ("pending", "claimed"):
                continue
            if t["status"] == "pending":
                assert http.post(f"/v1/dept/tasks/{t['id']}/claim", headers=bearer(staff[key])).status_code == 200
            r = http.post(
                f"/v1/dept/tasks/{t['id']}/approve",
                headers=bearer(staff[key]),
                json=results(t["matter_code"], t["form"]),
            )
            assert r.status_code == 200, r.text
            print(f"{DEPARTMENTS[key]}：{t['matter_name']} 已通过")
            done += 1
    return done


def main() -> None:
    base = os.environ.get("ZB_API", "http://127.0.0.1:8000")
    command, *args = sys.argv[1:] or ["help"]
    with httpx.Client(base_url=base, timeout=60) as http:
        op = subprocess.run(
            [sys.executable, "-m", "api.cli", "operator-token"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if command == "setup":
            world = setup(http, op)
            STATE.parent.mkdir(exist_ok=True)
            STATE.write_text(json.dumps({k: v["refresh_token"] for k, v in world["staff"].items()}))
            print(
                f"母亲 {MOTHER[0]} {MOTHER[1]}，父亲 {FATHER[0]} {FATHER[1]}：证照已签发。在 /app 用任一手机号登录，"
                f"以母亲的身份实人认证，再 attest 认证码。"
            )
            return
        kept = json.loads(STATE.read_text())
        staff = {k: http.post("/v1/auth/refresh", json={"refresh_token": t}).json() for k, t in kept.items()}
        STATE.write_text(json.dumps({k: v["refresh_token"] for k, v in staff.items()}))
        if command == "attest" and args:
            # The clerk keys in the number on the ID card shown (the mother's, unless another is given).
            clerk = window_clerk(http, op)
            r = http.post(
                "/v1/dept/realname/attest",
                headers={"Authorization": f"Bearer {clerk}"},
                json={"session_id": args[0], "id_number": args[1] if len(args) > 1 else MOTHER[1]},
            )
            print(r.json())
        elif command == "approve" and args:
            while approve_ready(http, staff, args[0]):
                pass
        else:
            print(__doc__)


if __name__ == "__main__":
    main()
