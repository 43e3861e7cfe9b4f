"""A local imitation of the WeChat server APIs zhangban calls, served over real HTTP.

Development and tests point the WeChat base URL here instead of ``https://api.weixin.qq.com``.
Paths, field names and errcodes follow the official contracts; state lives in memory.
Defaults: appid ``wx0000000000000000``, secret ``zb-dev-secret``.
Run it with ``python -m auth.wechat_sim --port 8900``.

WeChat endpoints:
  GET  /sns/jscode2session                          login code -> openid, session_key, unionid
  POST /cgi-bin/stable_token                        access_token (normal and force_refresh modes)
  POST /wxa/business/getuserphonenumber             phone code -> phone_info
  POST /cityservice/face/identify/getverifyid       face verification session
  POST /cityservice/face/identify/queryverifyinfo   face verification result (verify_ret 10000 = passed)
  POST /cgi-bin/message/subscribe/send              subscribe message
  POST /wxa/msg_sec_check                           text content check (version 2)

Control API (not WeChat), under /_sim/:
  POST /_sim/login-codes {openid?, unionid?, behaviour?: ok|blocked|busy|quota, fail_times?} -> {code, openid, unionid}
  POST /_sim/phone-codes {phone, appid?, country_code?} -> {code}
  POST /_sim/face-results {verify_id, verify_ret}
  POST /_sim/templates {template_id, keys}; POST /_sim/subscriptions {openid, template_id, accepted}
  POST /_sim/pages {pages}: once set, subscribe pages outside the list get 41030
  POST /_sim/sec-words {words, label?}: more words that make msg_sec_check answer "risky"
  GET  /_sim/messages?touser= ; GET /_sim/stats ; POST /_sim/reset
  POST /_sim/access-tokens/invalidate {errcode?: 40001|42001} ; POST /_sim/clock/advance {seconds}
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import msgspec
from litestar import Litestar, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromQuery, JSONBody

from auth.wechat_sim_state import DEFAULT_BLOCKED_WORDS, SimState, WechatError, key_type

DEFAULT_APPID = "wx0000000000000000"
DEFAULT_SECRET = "zb-dev-secret"

Json = dict[str, Any]


def _sim(request: Request) -> SimState:
    return request.app.state.sim


async def _wechat(request: Request, op: Callable[[SimState, str, Json], Json]) -> Json:
    """Run one WeChat operation and answer the way WeChat does: HTTP 200 with errcode on failure."""
    try:
        raw = await request.body()
        try:
            body = msgspec.json.decode(raw) if raw.strip() else {}
        except msgspec.DecodeError:
            raise WechatError(47001) from None
        if not isinstance(body, dict):
            raise WechatError(47001)
        return op(_sim(request), request.query_params.get("access_token", ""), body)
    except WechatError as exc:
        return exc.body()


@get("/sns/jscode2session")
async def jscode2session(request: Request) -> Json:
    """Exchange a login code for the user's openid, unionid and session_key."""
    q = request.query_params
    try:
        return _sim(request).code2session(q.get("appid"), q.get("secret"), q.get("js_code"), q.get("grant_type"))
    except WechatError as exc:
        return exc.body()


@post("/cgi-bin/stable_token", status_code=200)
async def stable_token(request: Request) -> Json:
    """Hand out the stable access_token."""
    return await _wechat(request, SimState.stable_token)


@post("/wxa/business/getuserphonenumber", status_code=200)
async def getuserphonenumber(request: Request) -> Json:
    """Exchange a phone code for the user's phone number."""
    return await _wechat(request, SimState.phone_number)


@post("/cityservice/face/identify/getverifyid", status_code=200)
async def getverifyid(request: Request) -> Json:
    """Open a face verification session."""
    return await _wechat(request, SimState.get_verify_id)


@post("/cityservice/face/identify/queryverifyinfo", status_code=200)
async def queryverifyinfo(request: Request) -> Json:
    """Report the result of a face verification session."""
    return await _wechat(request, SimState.query_verify_info)


@post("/cgi-bin/message/subscribe/send", status_code=200)
async def subscribe_send(request: Request) -> Json:
    """Accept a subscribe message and record it."""
    return await _wechat(request, SimState.send_subscribe)


@post("/wxa/msg_sec_check", status_code=200)
async def msg_sec_check(request: Request) -> Json:
    """Check text against the configured blocklist."""
    return await _wechat(request, SimState.msg_sec_check)


# --- control API ---


class LoginCodeIn(msgspec.Struct, forbid_unknown_fields=True):
    openid: str | None = None
    unionid: str | None = None
    behaviour: Literal["ok", "blocked", "busy", "quota"] = "ok"
    fail_times: int | None = None  # busy/quota: failures before the code works (default 1)


class PhoneCodeIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: str
    appid: str | None = None  # the watermark appid; defaults to the simulator's own
    country_code: str = "86"


class FaceResultIn(msgspec.Struct, forbid_unknown_fields=True):
    verify_id: str
    verify_ret: int


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True):
    template_id: str
    keys: list[str]


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    openid: str
    template_id: str
    accepted: bool


class PagesIn(msgspec.Struct, forbid_unknown_fields=True):
    pages: list[str]


class SecWordsIn(msgspec.Struct, forbid_unknown_fields=True):
    words: list[str]
    label: int = 20006


class InvalidateIn(msgspec.Struct, forbid_unknown_fields=True):
    errcode: Literal[40001, 42001] = 40001


class ClockIn(msgspec.Struct, forbid_unknown_fields=True):
    seconds: float


@post("/_sim/login-codes", status_code=200)
async def mint_login_code(request: Request, data: JSONBody[LoginCodeIn]) -> Json:
    """Mint a wx.login code with a chosen behaviour."""
    code, login = _sim(request).mint_login_code(data.openid, data.unionid, data.behaviour, data.fail_times)
    return {"code": code, "openid": login.openid, "unionid": login.unionid}


@post("/_sim/phone-codes", status_code=200)
async def mint_phone_code(request: Request, data: JSONBody[PhoneCodeIn]) -> Json:
    """Mint a getPhoneNumber code for a phone number."""
    return {"code": _sim(request).mint_phone_code(data.phone, data.appid, data.country_code)}


@post("/_sim/face-results", status_code=200)
async def set_face_result(request: Request, data: JSONBody[FaceResultIn]) -> Json:
    """Record what the user's face scan produced for a verify_id."""
    session = _sim(request).verify_sessions.get(data.verify_id)
    if session is None:
        raise NotFoundException(f"unknown verify_id {data.verify_id}")
    session.verify_ret = data.verify_ret
    return {"verify_id": data.verify_id, "verify_ret": data.verify_ret}


@post("/_sim/templates", status_code=200)
async def register_template(request: Request, data: JSONBody[TemplateIn]) -> Json:
    """Register a subscribe-message template and its keys."""
    unknown = [k for k in data.keys if key_type(k) is None]
    if unknown or not data.keys:
        raise ValidationException(f"keys must look like thing1, time2, phrase3...: {unknown}")
    _sim(request).templates[data.template_id] = tuple(data.keys)
    return {"template_id": data.template_id, "keys": data.keys}


@post("/_sim/subscriptions", status_code=200)
async def set_subscription(request: Request, data: JSONBody[SubscriptionIn]) -> Json:
    """Mark whether a user accepts a template; users accept every template until told otherwise."""
    pair = (data.openid, data.template_id)
    if data.accepted:
        _sim(request).refused.discard(pair)
    else:
        _sim(request).refused.add(pair)
    return msgspec.to_builtins(data)


@post("/_sim/pages", status_code=200)
async def set_pages(request: Request, data: JSONBody[PagesIn]) -> Json:
    """Declare the mini-program pages that exist."""
    _sim(request).pages = {p.split("?", 1)[0].lstrip("/") for p in data.pages}
    return {"pages": sorted(_sim(request).pages)}


@post("/_sim/sec-words", status_code=200)
async def add_sec_words(request: Request, data: JSONBody[SecWordsIn]) -> Json:
    """Add words that msg_sec_check reports as risky."""
    words = _sim(request).blocked_words
    words.update(dict.fromkeys(data.words, data.label))
    return {"words": sorted(words)}


@get("/_sim/messages")
async def list_messages(request: Request, touser: FromQuery[str | None] = None) -> Json:
    """The subscribe messages accepted so far, optionally for one user."""
    return {"messages": [m for m in _sim(request).messages if touser is None or m["touser"] == touser]}


@post("/_sim/access-tokens/invalidate", status_code=200)
async def invalidate_tokens(request: Request, data: JSONBody[InvalidateIn | None] = None) -> Json:
    """Make every current access_token fail with 40001 (or 42001)."""
    errcode = data.errcode if data else 40001
    return {"invalidated": _sim(request).invalidate_tokens(errcode), "errcode": errcode}


@post("/_sim/clock/advance", status_code=200)
async def advance_clock(request: Request, data: JSONBody[ClockIn]) -> Json:
    """Move the simulator's clock forward, to reach expiry without waiting."""
    _sim(request).clock_offset += data.seconds
    return {"clock_offset": _sim(request).clock_offset}


@get("/_sim/stats")
async def stats(request: Request) -> Json:
    """Call counters, e.g. stable_token_issued."""
    return _sim(request).stats()


@post("/_sim/reset", status_code=200)
async def reset(request: Request) -> Json:
    """Forget everything except appid, secret and the configured blocklist."""
    request.app.state.sim = _sim(request).fresh()
    return {"reset": True}


def create_sim_app(
    appid: str = DEFAULT_APPID,
    secret: str = DEFAULT_SECRET,
    *,
    blocked_words: Mapping[str, int] | None = None,
) -> Litestar:
    """Build the simulator app; ``blocked_words`` maps each risky word to its msg_sec_check label."""
    words = dict(DEFAULT_BLOCKED_WORDS if blocked_words is None else blocked_words)
    handlers = [
        jscode2session,
        stable_token,
        getuserphonenumber,
        getverifyid,
        queryverifyinfo,
        subscribe_send,
        msg_sec_check,
        mint_login_code,
        mint_phone_code,
        set_face_result,
        register_template,
        set_subscription,
        set_pages,
        add_sec_words,
        list_messages,
        invalidate_tokens,
        advance_clock,
        stats,
        reset,
    ]
    state = State({"sim": SimState(appid, secret, default_words=words)})
    return Litestar(route_handlers=handlers, state=state, openapi_config=None)


def run(host: str = "127.0.0.1", port: int = 8900, appid: str = DEFAULT_APPID, secret: str = DEFAULT_SECRET) -> None:
    """Serve the simulator with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_sim_app(appid, secret), host=host, port=port, log_level="info")


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry: ``python -m auth.wechat_sim [--host] [--port] [--appid] [--secret]``."""
    parser = argparse.ArgumentParser(prog="wechat-sim", description="Local WeChat API simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--appid", default=DEFAULT_APPID)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    args = parser.parse_args(argv)
    run(args.host, args.port, args.appid, args.secret)


if __name__ == "__main__":
    main()
