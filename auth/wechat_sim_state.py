"""In-memory state and WeChat rule checks behind the local WeChat API simulator (``auth.wechat_sim``)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CODE_TTL = 300.0  # js_code and phone codes are valid for 5 minutes at WeChat
TOKEN_TTL = 7200
TOKEN_REFRESH_AHEAD = 300  # normal-mode stable_token hands out a new token in the last 5 minutes
VERIFY_ID_TTL = 3600
LABEL_NORMAL = 100
DEFAULT_BLOCKED_WORDS: dict[str, int] = {"违禁词": 21000, "赌博": 20006, "诈骗": 20008}
STAT_KEYS = (
    "jscode2session",
    "stable_token_issued",
    "stable_token_minted",
    "getuserphonenumber",
    "getverifyid",
    "queryverifyinfo",
    "subscribe_send",
    "subscribe_delivered",
    "msg_sec_check",
)
MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
OUT_SEQ_NO = re.compile(r"[0-9A-Za-z_-]{5,32}")

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    40226: "code blocked",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    41030: "invalid page",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
    84001: "invalid verify_id",
}


class WechatError(Exception):
    """A WeChat failure, rendered by the HTTP layer as an errcode/errmsg body."""

    def __init__(self, errcode: int, detail: str = "") -> None:
        super().__init__(errcode, detail)
        self.errcode = errcode
        self.detail = detail

    def body(self) -> dict[str, Any]:
        """The JSON body WeChat would answer with."""
        msg = ERRMSG.get(self.errcode, "error") + (f" {self.detail}" if self.detail else "")
        # Real errmsg values end in a request id; callers must branch on errcode, never on errmsg.
        return {"errcode": self.errcode, "errmsg": f"{msg} rid: {secrets.token_hex(4)}-{secrets.token_hex(4)}"}


def cert_hash(cert_type: str, cert_name: str, cert_no: str) -> str:
    """The queryverifyinfo cert_hash: lowercase hex SHA-256 of the base64-encoded cert_info fields."""
    fields = (("cert_type", cert_type), ("cert_name", cert_name), ("cert_no", cert_no))
    raw = "&".join(f"{key}={base64.b64encode(value.encode()).decode()}" for key, value in fields)
    return hashlib.sha256(raw.encode()).hexdigest()


_CJK = "\u4e00-\u9fff"
_KEY = re.compile(r"([a-z_]+?)\d+")
_DATETIME = re.compile(r"[0-9年月日时分秒:：/\-~ .]+")


def _symbol(c: str) -> bool:
    return not c.isalnum() and not c.isspace()


def _name(v: str) -> bool:
    # Chinese (or mixed) names up to 10 characters, Latin-only names up to 20; digits never pass.
    if any(c.isdigit() for c in v):
        return False
    return len(v) <= 10 if re.search(f"[{_CJK}]", v) else len(v) <= 20


# The value limits of the subscribe-message parameter types, as WeChat documents them.
VALUE_RULES: dict[str, Callable[[str], bool]] = {
    "thing": lambda v: len(v) <= 20,
    "number": lambda v: len(v) <= 32 and re.fullmatch(r"\d+(\.\d+)?", v) is not None,
    "letter": lambda v: re.fullmatch(r"[A-Za-z]{1,32}", v) is not None,
    "symbol": lambda v: len(v) <= 5 and all(_symbol(c) for c in v),
    "character_string": lambda v: len(v) <= 32 and all(c.isascii() and not c.isspace() for c in v),
    "time": lambda v: _DATETIME.fullmatch(v) is not None and any(c.isdigit() for c in v),
    "date": lambda v: _DATETIME.fullmatch(v) is not None and any(c.isdigit() for c in v),
    "amount": lambda v: re.fullmatch(r"[¥￥$€£]?\d{1,10}(\.\d{1,2})?元?", v) is not None,
    "phone_number": lambda v: len(v) <= 17 and all(c.isdigit() or _symbol(c) for c in v),
    "car_number": lambda v: len(v) <= 8 and re.fullmatch(f"[{_CJK}]?[A-Za-z0-9]+[{_CJK}]?", v) is not None,
    "name": _name,
    "phrase": lambda v: re.fullmatch(f"[{_CJK}]{{1,5}}", v) is not None,
    "enum": lambda v: len(v) <= 20,
}


def key_type(key: str) -> str | None:
    """The parameter type of a template key such as ``thing1`` or ``character_string4``."""
    m = _KEY.fullmatch(key)
    return m.group(1) if m and m.group(1) in VALUE_RULES else None


def _field(body: dict[str, Any], key: str, typ: type, *, required: bool = True) -> Any:
    value = body.get(key)
    if value is None:
        if required:
            raise WechatError(47001, f"{key} missing")
        return None
    if not isinstance(value, typ):
        raise WechatError(47001, f"{key} has the wrong type")
    return value


def _new_openid() -> str:
    return "o" + secrets.token_urlsafe(20)  # 28 characters, like real openids and unionids


@dataclass
class LoginCode:
    openid: str
    unionid: str
    behaviour: str
    fail_left: int
    minted_at: float
    used: bool = False


@dataclass
class PhoneCode:
    phone: str
    country_code: str
    appid: str
    minted_at: float
    used: bool = False


@dataclass
class AccessToken:
    token: str
    expires_at: float
    revoked: int | None = None  # the errcode callers get once the token was invalidated


@dataclass
class VerifySession:
    out_seq_no: str
    openid: str
    cert_hash: str
    verify_ret: int | None = None  # None until the user has done the face scan


@dataclass
class SimState:
    """Everything the simulator remembers; one instance per app, replaced on reset."""

    appid: str
    secret: str
    default_words: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_BLOCKED_WORDS))
    clock_offset: float = 0.0
    login_codes: dict[str, LoginCode] = field(default_factory=dict)
    unionids: dict[str, str] = field(default_factory=dict)
    phone_codes: dict[str, PhoneCode] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    current_token: str | None = None
    verify_sessions: dict[str, VerifySession] = field(default_factory=dict)
    templates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    refused: set[tuple[str, str]] = field(default_factory=set)
    pages: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    blocked_words: dict[str, int] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    next_msgid: int = 2_000_000_000

    def __post_init__(self) -> None:
        self.blocked_words = self.blocked_words or dict(self.default_words)

    def fresh(self) -> SimState:
        """A clean state with the same configuration."""
        return SimState(self.appid, self.secret, default_words=dict(self.default_words))

    def now(self) -> float:
        return time.time() + self.clock_offset

    def _check_app(self, appid: str | None, secret: str | None) -> None:
        for value, expected, missing, wrong in ((appid, self.appid, 41002, 40013), (secret, self.secret, 41004, 40125)):
            if not value:
                raise WechatError(missing)
            if value != expected:
                raise WechatError(wrong)

    # --- WeChat operations: each takes (access_token, body) and raises WechatError on failure ---

    def code2session(
        self,
        appid: str | None,
        secret: str | None,
        js_code: str | None,
        grant_type: str | None,
    ) -> dict[str, Any]:
        self.counts["jscode2session"] += 1
        self._check_app(appid, secret)
        if grant_type != "authorization_code":
            raise WechatError(40002)
        if not js_code:
            raise WechatError(41008)
        login = self.login_codes.get(js_code)
        if login is None or self.now() - login.minted_at > CODE_TTL:
            raise WechatError(40029)
        if login.used:
            raise WechatError(40163)
        if login.behaviour == "blocked":
            raise WechatError(40226)
        if login.fail_left > 0:
            # Transient failures leave the code unused, so a retrying caller can still succeed.
            login.fail_left -= 1
            raise WechatError(-1 if login.behaviour == "busy" else 45011)
        login.used = True
        session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        return {"openid": login.openid, "session_key": session_key, "unionid": login.unionid}

    def stable_token(self, _token: str, body: dict[str, Any]) -> dict[str, Any]:
        if _field(body, "grant_type", str, required=False) != "client_credential":
            raise WechatError(40002)
        self._check_app(_field(body, "appid", str, required=False), _field(body, "secret", str, required=False))
        force = bool(_field(body, "force_refresh", bool, required=False))
        now = self.now()
        current = self.tokens.get(self.current_token or "")
        if force and current is not None:
            current.revoked = 40001
        if force or current is None or current.revoked or current.expires_at - now <= TOKEN_REFRESH_AHEAD:
            # As at WeChat, a normal-mode rotation leaves the previous token usable until it expires.
            current = AccessToken("zbsim_" + secrets.token_urlsafe(48), now + TOKEN_TTL)
            self.tokens[current.token] = current
            self.current_token = current.token
            self.counts["stable_token_minted"] += 1
        self.counts["stable_token_issued"] += 1
        return {"access_token": current.token, "expires_in": int(current.expires_at - now)}

    def check_token(self, token: str) -> None:
        if not token:
            raise WechatError(41001)
        known = self.tokens.get(token)
        if known is None:
            raise WechatError(40001)
        if known.revoked:
            raise WechatError(known.revoked)
        if self.now() >= known.expires_at:
            raise WechatError(42001)

    def phone_number(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        self.counts["getuserphonenumber"] += 1
        self.check_token(token)
        code = _field(body, "code", str)
        phone = self.phone_codes.get(code)
        if phone is None or phone.used or self.now() - phone.minted_at > CODE_TTL:
            raise WechatError(40029)
        phone.used = True
        full = phone.phone if phone.country_code == "86" else f"+{phone.country_code}{phone.phone}"
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": full,
                "purePhoneNumber": phone.phone,
                "countryCode": phone.country_code,
                "watermark": {"timestamp": int(phone.minted_at), "appid": phone.appid},
            },
        }

    def get_verify_id(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        self.counts["getverifyid"] += 1
        self.check_token(token)
        out_seq_no = _field(body, "out_seq_no", str)
        cert = _field(body, "cert_info", dict)
        openid = _field(body, "openid", str)
        cert_type, name, number = (_field(cert, k, str) for k in ("cert_type", "cert_name", "cert_no"))
        if not OUT_SEQ_NO.fullmatch(out_seq_no):
            raise WechatError(47003, "out_seq_no invalid")
        if cert_type != "IDENTITY_CARD" or not name or not number:
            raise WechatError(47003, "cert_info invalid")
        if not openid:
            raise WechatError(40003)
        if any(s.out_seq_no == out_seq_no for s in self.verify_sessions.values()):
            raise WechatError(47003, "out_seq_no duplicated")
        verify_id = "zbsim_" + secrets.token_urlsafe(32)
        self.verify_sessions[verify_id] = VerifySession(out_seq_no, openid, cert_hash(cert_type, name, number))
        return {"errcode": 0, "errmsg": "ok", "verify_id": verify_id, "expires_in": VERIFY_ID_TTL}

    def query_verify_info(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        self.counts["queryverifyinfo"] += 1
        self.check_token(token)
        verify_id, out_seq_no, digest, openid = (
            _field(body, k, str) for k in ("verify_id", "out_seq_no", "cert_hash", "openid")
        )
        session = self.verify_sessions.get(verify_id)
        if session is None:
            raise WechatError(84001)
        for name, got, want in (
            ("out_seq_no", out_seq_no, session.out_seq_no),
            ("openid", openid, session.openid),
            ("cert_hash", digest, session.cert_hash),
        ):
            if got != want:
                raise WechatError(47003, f"{name} mismatch")
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if session.verify_ret is not None:
            answer["verify_ret"] = session.verify_ret
        return answer

    def _page_ok(self, page: str) -> bool:
        path = page.split("?", 1)[0].lstrip("/")
        if not path or "://" in page or any(c.isspace() for c in page):
            return False
        return not self.pages or path in self.pages

    def send_subscribe(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        self.counts["subscribe_send"] += 1
        self.check_token(token)
        touser = _field(body, "touser", str, required=False)
        template_id = _field(body, "template_id", str, required=False)
        if not touser:
            raise WechatError(40003)
        keys = self.templates.get(template_id or "")
        if keys is None:
            raise WechatError(40037)
        page = _field(body, "page", str, required=False)
        if page and not self._page_ok(page):
            raise WechatError(41030)
        for key, allowed in (("miniprogram_state", MINIPROGRAM_STATES), ("lang", LANGS)):
            if _field(body, key, str, required=False) not in (None, *allowed):
                raise WechatError(47003, f"{key} invalid")
        data = _field(body, "data", dict, required=False) or {}
        for key in keys:
            item = data.get(key)
            value = item.get("value") if isinstance(item, dict) else None
            if value is None or value == "":
                raise WechatError(47003, f"data.{key}.value is empty")
            if not isinstance(value, str) or not VALUE_RULES[key_type(key) or "thing"](value):
                raise WechatError(47003, f"data.{key}.value invalid")
        if (touser, template_id) in self.refused:
            raise WechatError(43101)
        self.next_msgid += 1
        self.counts["subscribe_delivered"] += 1
        self.messages.append(
            {
                "msgid": self.next_msgid,
                "touser": touser,
                "template_id": template_id,
                "page": page,
                "data": data,
                "miniprogram_state": body.get("miniprogram_state") or "formal",
                "lang": body.get("lang") or "zh_CN",
                "sent_at": int(self.now()),
            }
        )
        return {"errcode": 0, "errmsg": "ok", "msgid": self.next_msgid}

    def msg_sec_check(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        self.counts["msg_sec_check"] += 1
        self.check_token(token)
        content = _field(body, "content", str)
        if str(body.get("version")) != "2":
            raise WechatError(47003, "version invalid")
        if body.get("scene") not in (1, 2, 3, 4):
            raise WechatError(47003, "scene invalid")
        if not _field(body, "openid", str, required=False):
            raise WechatError(40003)
        text = content.casefold()
        hits = [(word, label) for word, label in self.blocked_words.items() if word.casefold() in text]
        suggest, label = ("risky", hits[0][1]) if hits else ("pass", LABEL_NORMAL)
        detail: list[dict[str, Any]] = [
            {"strategy": "keyword", "errcode": 0, "suggest": "risky", "label": lab, "level": 20, "keyword": word}
            for word, lab in hits
        ]
        detail.append({"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90})
        return {
            "errcode": 0,
            "errmsg": "ok",
            "result": {"suggest": suggest, "label": label},
            "detail": detail,
            "trace_id": f"{secrets.token_hex(4)}-{secrets.token_hex(4)}",
        }

    # --- control operations ---

    def mint_login_code(
        self,
        openid: str | None,
        unionid: str | None,
        behaviour: str,
        fail_times: int | None,
    ) -> tuple[str, LoginCode]:
        openid = openid or _new_openid()
        unionid = unionid or self.unionids.get(openid) or _new_openid()
        self.unionids[openid] = unionid
        fails = (1 if fail_times is None else fail_times) if behaviour in ("busy", "quota") else 0
        code = secrets.token_hex(16)
        self.login_codes[code] = login = LoginCode(openid, unionid, behaviour, fails, self.now())
        return code, login

    def mint_phone_code(self, phone: str, appid: str | None, country_code: str) -> str:
        code = secrets.token_hex(32)
        self.phone_codes[code] = PhoneCode(phone, country_code, appid or self.appid, self.now())
        return code

    def invalidate_tokens(self, errcode: int) -> int:
        live = [t for t in self.tokens.values() if not t.revoked]
        for t in live:
            t.revoked = errcode
        return len(live)

    def stats(self) -> dict[str, int]:
        return {key: self.counts[key] for key in STAT_KEYS}
