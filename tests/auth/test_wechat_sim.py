"""The WeChat simulator, exercised over real HTTP the way the backend will call it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from auth.wechat_sim import DEFAULT_APPID, DEFAULT_SECRET
from auth.wechat_sim_state import cert_hash
from tests.wechat_sim_server import running_sim

CERT = {"cert_type": "IDENTITY_CARD", "cert_name": "张三", "cert_no": "310101199801011234"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_sim(DEFAULT_APPID, DEFAULT_SECRET) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5) as c:
        assert c.post("/_sim/reset").status_code == 200
        yield c


def login_code(client: httpx.Client, **spec: object) -> dict:
    r = client.post("/_sim/login-codes", json=spec)
    assert r.status_code == 200, r.text
    return r.json()


def code2session(client: httpx.Client, code: str, appid: str = DEFAULT_APPID, secret: str = DEFAULT_SECRET) -> dict:
    params = {"appid": appid, "secret": secret, "js_code": code, "grant_type": "authorization_code"}
    r = client.get("/sns/jscode2session", params=params)
    assert r.status_code == 200
    return r.json()


def token(client: httpx.Client, **extra: object) -> dict:
    body = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET, **extra}
    return client.post("/cgi-bin/stable_token", json=body).json()


def call(client: httpx.Client, path: str, body: dict, access_token: str) -> dict:
    r = client.post(path, params={"access_token": access_token}, json=body)
    assert r.status_code == 200
    return r.json()


# --- jscode2session ---


def test_code2session_returns_the_minted_identity_once(client: httpx.Client) -> None:
    minted = login_code(client, openid="o-alice", unionid="u-alice")
    session = code2session(client, minted["code"])
    assert session["openid"] == "o-alice" and session["unionid"] == "u-alice"
    assert len(session["session_key"]) == 24 and "errcode" not in session
    assert code2session(client, minted["code"])["errcode"] == 40163


def test_code2session_generates_openids_and_keeps_unionid_per_openid(client: httpx.Client) -> None:
    first = login_code(client)
    assert first["openid"].startswith("o") and len(first["openid"]) == 28
    again = login_code(client, openid=first["openid"])
    assert again["unionid"] == first["unionid"] and again["code"] != first["code"]
    assert login_code(client)["openid"] != first["openid"]


def test_code2session_rejects_unknown_codes_and_wrong_credentials(client: httpx.Client) -> None:
    code = login_code(client)["code"]
    assert code2session(client, "nope")["errcode"] == 40029
    assert code2session(client, code, appid="wx1111111111111111")["errcode"] == 40013
    assert code2session(client, code, secret="wrong")["errcode"] == 40125
    assert "openid" in code2session(client, code)  # the failed attempts did not use the code up


def test_code2session_blocked_user(client: httpx.Client) -> None:
    body = code2session(client, login_code(client, behaviour="blocked")["code"])
    assert body["errcode"] == 40226 and body["errmsg"].startswith("code blocked")


def test_code2session_quota_then_success(client: httpx.Client) -> None:
    code = login_code(client, behaviour="quota")["code"]
    assert code2session(client, code)["errcode"] == 45011
    assert "openid" in code2session(client, code)


def test_code2session_busy_fails_n_times_then_succeeds(client: httpx.Client) -> None:
    code = login_code(client, behaviour="busy", fail_times=2)["code"]
    assert [code2session(client, code).get("errcode") for _ in range(2)] == [-1, -1]
    assert "openid" in code2session(client, code)


def test_login_code_control_validates_behaviour(client: httpx.Client) -> None:
    assert client.post("/_sim/login-codes", json={"behaviour": "weird"}).status_code == 400


# --- stable_token ---


def test_stable_token_normal_mode_reuses_the_token_and_counts_every_issue(client: httpx.Client) -> None:
    first = token(client)
    assert first["expires_in"] == 7200 and "errcode" not in first
    second = token(client)
    assert second["access_token"] == first["access_token"] and second["expires_in"] <= 7200
    stats = client.get("/_sim/stats").json()
    assert stats["stable_token_issued"] == 2 and stats["stable_token_minted"] == 1


def test_stable_token_force_refresh_invalidates_the_previous_token(client: httpx.Client) -> None:
    old = token(client)["access_token"]
    new = token(client, force_refresh=True)["access_token"]
    assert new != old
    assert call(client, "/wxa/business/getuserphonenumber", {"code": "x"}, old)["errcode"] == 40001
    assert call(client, "/wxa/business/getuserphonenumber", {"code": "x"}, new)["errcode"] == 40029


def test_stable_token_errors(client: httpx.Client) -> None:
    assert token(client, secret="wrong")["errcode"] == 40125
    assert token(client, appid="wx1111111111111111")["errcode"] == 40013
    assert token(client, grant_type="authorization_code")["errcode"] == 40002
    bad = client.post("/cgi-bin/stable_token", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 200 and bad.json()["errcode"] == 47001
    assert client.get("/_sim/stats").json()["stable_token_issued"] == 0


def test_invalidated_tokens_answer_40001_or_42001_and_a_new_one_is_minted(client: httpx.Client) -> None:
    old = token(client)["access_token"]
    assert client.post("/_sim/access-tokens/invalidate").json()["invalidated"] == 1
    assert call(client, "/wxa/business/getuserphonenumber", {"code": "x"}, old)["errcode"] == 40001
    fresh = token(client)["access_token"]
    assert fresh != old
    client.post("/_sim/access-tokens/invalidate", json={"errcode": 42001})
    assert call(client, "/wxa/business/getuserphonenumber", {"code": "x"}, fresh)["errcode"] == 42001


def test_tokens_expire_and_normal_mode_rotates_ahead_of_expiry(client: httpx.Client) -> None:
    first = token(client)["access_token"]
    client.post("/_sim/clock/advance", json={"seconds": 7000})
    rotated = token(client)
    assert rotated["access_token"] != first and rotated["expires_in"] == 7200
    # The old token still works until its own expiry, as WeChat's hand-over window promises.
    assert call(client, "/wxa/business/getuserphonenumber", {"code": "x"}, first)["errcode"] == 40029
    client.post("/_sim/clock/advance", json={"seconds": 300})
    assert call(client, "/wxa/business/getuserphonenumber", {"code": "x"}, first)["errcode"] == 42001


# --- getuserphonenumber ---


def test_phone_number_success_then_code_used(client: httpx.Client) -> None:
    at = token(client)["access_token"]
    code = client.post("/_sim/phone-codes", json={"phone": "13800138000"}).json()["code"]
    body = call(client, "/wxa/business/getuserphonenumber", {"code": code}, at)
    assert body["errcode"] == 0 and body["errmsg"] == "ok"
    info = body["phone_info"]
    assert info["phoneNumber"] == info["purePhoneNumber"] == "13800138000" and info["countryCode"] == "86"
    assert info["watermark"]["appid"] == DEFAULT_APPID and isinstance(info["watermark"]["timestamp"], int)
    assert call(client, "/wxa/business/getuserphonenumber", {"code": code}, at)["errcode"] == 40029


def test_phone_number_foreign_watermark_and_token_errors(client: httpx.Client) -> None:
    at = token(client)["access_token"]
    code = client.post("/_sim/phone-codes", json={"phone": "13800138000", "appid": "wxother"}).json()["code"]
    assert call(client, "/wxa/business/getuserphonenumber", {"code": code}, "bogus")["errcode"] == 40001
    assert call(client, "/wxa/business/getuserphonenumber", {"code": code}, "")["errcode"] == 41001
    body = call(client, "/wxa/business/getuserphonenumber", {"code": code}, at)
    assert body["phone_info"]["watermark"]["appid"] == "wxother"
    assert call(client, "/wxa/business/getuserphonenumber", {"code": "unknown"}, at)["errcode"] == 40029


# --- face verification ---


def test_cert_hash_matches_the_official_example() -> None:
    assert cert_hash(**CERT) == "3c241f7ff324977aeb91f173bb2a7b06569e6fd784d5573db34a636d8671108b"


def _verify_id(client: httpx.Client, at: str, out_seq_no: str, openid: str = "o-alice") -> dict:
    return call(
        client,
        "/cityservice/face/identify/getverifyid",
        {"out_seq_no": out_seq_no, "cert_info": CERT, "openid": openid},
        at,
    )


def test_face_verify_flow(client: httpx.Client) -> None:
    at = token(client)["access_token"]
    started = _verify_id(client, at, "seq-00001")
    assert started["errcode"] == 0 and started["expires_in"] == 3600
    query = {
        "verify_id": started["verify_id"],
        "out_seq_no": "seq-00001",
        "cert_hash": cert_hash(**CERT),
        "openid": "o-alice",
    }
    pending = call(client, "/cityservice/face/identify/queryverifyinfo", query, at)
    assert pending == {"errcode": 0, "errmsg": "ok"}  # no verify_ret until the user has scanned
    r = client.post("/_sim/face-results", json={"verify_id": started["verify_id"], "verify_ret": 10000})
    assert r.status_code == 200
    done = call(client, "/cityservice/face/identify/queryverifyinfo", query, at)
    assert done["errcode"] == 0 and done["verify_ret"] == 10000


def test_face_verify_failure_and_mismatches(client: httpx.Client) -> None:
    at = token(client)["access_token"]
    vid = _verify_id(client, at, "seq-00002")["verify_id"]
    client.post("/_sim/face-results", json={"verify_id": vid, "verify_ret": 10001})
    query = {"verify_id": vid, "out_seq_no": "seq-00002", "cert_hash": cert_hash(**CERT), "openid": "o-alice"}
    assert call(client, "/cityservice/face/identify/queryverifyinfo", query, at)["verify_ret"] == 10001
    for field, wrong in (
        ("cert_hash", cert_hash("IDENTITY_CARD", "李四", CERT["cert_no"])),
        ("openid", "o-bob"),
        ("out_seq_no", "seq-99999"),
    ):
        body = call(client, "/cityservice/face/identify/queryverifyinfo", {**query, field: wrong}, at)
        assert body["errcode"] == 47003 and f"{field} mismatch" in body["errmsg"]
    unknown = call(client, "/cityservice/face/identify/queryverifyinfo", {**query, "verify_id": "x"}, at)
    assert unknown["errcode"] == 84001
    assert client.post("/_sim/face-results", json={"verify_id": "x", "verify_ret": 10000}).status_code == 404


def test_getverifyid_validates_its_arguments(client: httpx.Client) -> None:
    at = token(client)["access_token"]
    assert _verify_id(client, at, "seq-00003")["errcode"] == 0
    assert _verify_id(client, at, "seq-00003")["errcode"] == 47003  # out_seq_no is unique per appid
    assert _verify_id(client, at, "bad")["errcode"] == 47003
    assert _verify_id(client, at, "seq-00004", openid="")["errcode"] == 40003
    body = {"out_seq_no": "seq-00005", "openid": "o-alice"}
    assert call(client, "/cityservice/face/identify/getverifyid", body, at)["errcode"] == 47001
    assert _verify_id(client, "bogus", "seq-00006")["errcode"] == 40001


# --- subscribe messages ---

TEMPLATE = {"template_id": "tpl-progress", "keys": ["thing1", "time2", "phrase3", "character_string4", "number5"]}
DATA = {
    "thing1": {"value": "户籍迁入办理"},
    "time2": {"value": "2025年1月2日 15:01"},
    "phrase3": {"value": "已受理"},
    "character_string4": {"value": "ZB-2025-0001"},
    "number5": {"value": "3"},
}


def _send(client: httpx.Client, at: str, **override: object) -> dict:
    body = {
        "touser": "o-alice",
        "template_id": "tpl-progress",
        "page": "pages/matter/detail?id=1",
        "data": DATA,
        "miniprogram_state": "developer",
        "lang": "zh_CN",
        **override,
    }
    return call(client, "/cgi-bin/message/subscribe/send", body, at)


def test_subscribe_send_records_the_message(client: httpx.Client) -> None:
    assert client.post("/_sim/templates", json=TEMPLATE).status_code == 200
    at = token(client)["access_token"]
    sent = _send(client, at)
    assert sent["errcode"] == 0 and sent["errmsg"] == "ok" and isinstance(sent["msgid"], int)
    _send(client, at, touser="o-bob")
    mine = client.get("/_sim/messages", params={"touser": "o-alice"}).json()["messages"]
    assert [m["msgid"] for m in mine] == [sent["msgid"]] and mine[0]["data"] == DATA
    assert len(client.get("/_sim/messages").json()["messages"]) == 2


def test_subscribe_send_refused_by_user(client: httpx.Client) -> None:
    client.post("/_sim/templates", json=TEMPLATE)
    at = token(client)["access_token"]
    sub = {"openid": "o-alice", "template_id": "tpl-progress", "accepted": False}
    client.post("/_sim/subscriptions", json=sub)
    assert _send(client, at)["errcode"] == 43101
    assert client.get("/_sim/messages").json()["messages"] == []
    client.post("/_sim/subscriptions", json={**sub, "accepted": True})
    assert _send(client, at)["errcode"] == 0


def test_subscribe_send_argument_errors(client: httpx.Client) -> None:
    client.post("/_sim/templates", json=TEMPLATE)
    at = token(client)["access_token"]
    assert _send(client, at, template_id="tpl-unknown")["errcode"] == 40037
    too_long = _send(client, at, data={**DATA, "thing1": {"value": "一" * 21}})
    assert too_long["errcode"] == 47003 and "data.thing1.value invalid" in too_long["errmsg"]
    assert _send(client, at, data={**DATA, "thing1": {"value": "一" * 20}})["errcode"] == 0
    assert _send(client, at, data={**DATA, "phrase3": {"value": "已受理等待中"}})["errcode"] == 47003
    assert _send(client, at, data={**DATA, "number5": {"value": "three"}})["errcode"] == 47003
    assert _send(client, at, data={**DATA, "character_string4": {"value": "编号"}})["errcode"] == 47003
    missing = _send(client, at, data={k: v for k, v in DATA.items() if k != "time2"})
    assert missing["errcode"] == 47003 and "data.time2.value is empty" in missing["errmsg"]
    assert _send(client, at, miniprogram_state="production")["errcode"] == 47003
    assert _send(client, at, touser="")["errcode"] == 40003


def test_subscribe_send_invalid_page(client: httpx.Client) -> None:
    client.post("/_sim/templates", json=TEMPLATE)
    at = token(client)["access_token"]
    assert _send(client, at, page="https://example.com/x")["errcode"] == 41030
    client.post("/_sim/pages", json={"pages": ["pages/matter/detail", "pages/index/index"]})
    assert _send(client, at, page="pages/nowhere/index")["errcode"] == 41030
    assert _send(client, at, page="/pages/index/index")["errcode"] == 0


def test_template_control_rejects_unknown_key_types(client: httpx.Client) -> None:
    assert client.post("/_sim/templates", json={"template_id": "t", "keys": ["colour1"]}).status_code == 400


# --- msg_sec_check ---


def test_msg_sec_check_pass_and_risky(client: httpx.Client) -> None:
    at = token(client)["access_token"]
    body = {"content": "请问户籍迁入需要哪些材料", "version": 2, "scene": 2, "openid": "o-alice"}
    ok = call(client, "/wxa/msg_sec_check", body, at)
    assert ok["errcode"] == 0 and ok["result"] == {"suggest": "pass", "label": 100} and ok["detail"]
    client.post("/_sim/sec-words", json={"words": ["Forbidden"], "label": 10001})
    risky = call(client, "/wxa/msg_sec_check", {**body, "content": "some forbidden text"}, at)
    assert risky["errcode"] == 0 and risky["result"] == {"suggest": "risky", "label": 10001}
    assert {"keyword": "Forbidden", "suggest": "risky"}.items() <= risky["detail"][0].items()
    default_word = call(client, "/wxa/msg_sec_check", {**body, "content": "网络赌博"}, at)
    assert default_word["result"]["suggest"] == "risky"
    assert call(client, "/wxa/msg_sec_check", {**body, "version": 1}, at)["errcode"] == 47003
    assert call(client, "/wxa/msg_sec_check", {**body, "openid": ""}, at)["errcode"] == 40003


# --- control API ---


def test_stats_and_reset(client: httpx.Client) -> None:
    token(client)
    code2session(client, "nope")
    stats = client.get("/_sim/stats").json()
    assert stats["stable_token_issued"] == 1 and stats["jscode2session"] == 1
    client.post("/_sim/templates", json=TEMPLATE)
    assert client.post("/_sim/reset").json() == {"reset": True}
    assert set(client.get("/_sim/stats").json().values()) == {0}
    assert token(client)["expires_in"] == 7200  # a new token was minted after the reset


def test_running_sim_stops_on_exit() -> None:
    with running_sim("wxaaaaaaaaaaaaaaaa", "other-secret") as url:
        body = {"grant_type": "client_credential", "appid": "wxaaaaaaaaaaaaaaaa", "secret": "other-secret"}
        assert "access_token" in httpx.post(f"{url}/cgi-bin/stable_token", json=body).json()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_sim/stats", timeout=2)
