"""The WeChat server APIs we call: login, phone number, face verification, and the access token.

WeChat answers HTTP 200 with ``errcode`` on failure; we branch on ``errcode`` only (``errmsg`` carries
a random request id). ``-1`` (system busy), ``45011`` (minute quota), 5xx answers, timeouts and
connection failures are retried with a short exponential backoff, then reported as 503
``wechat_unavailable``.

The access token is shared by every worker through Redis. When it is missing, one caller fetches it
under a lock while the others wait for the result (single flight): WeChat limits how often
``stable_token`` may be called, and a thundering herd after expiry would burn that quota. A call
that meets 40001 / 40014 / 42001 drops the cached token (only if it is still the one that failed)
and retries once with a fresh one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import random
import secrets
import time
from typing import Any

import httpx
import msgspec

from auth.errors import WechatUnavailable

log = logging.getLogger("zhangban.wechat")

TRANSIENT = frozenset({-1, 45011})
TOKEN_INVALID = frozenset({40001, 40014, 42001})
BACKOFF = (0.1, 0.3)  # waits between the three tries
TOKEN_LOCK_MS = 10_000
TOKEN_WAIT = 10.0
# WeChat tokens live 7200 s; stop using ours 5 minutes early so no call races its expiry.
TOKEN_MARGIN = 300

# Delete the key only while it still holds the value we saw (another caller may have replaced it).
_DELETE_IF = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class WechatError(Exception):
    """WeChat answered with an errcode we do not retry; callers map it to their own problem."""

    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


class Session(msgspec.Struct, frozen=True):
    openid: str
    session_key: str
    unionid: str | None = None


def cert_hash(name: str, id_number: str, cert_type: str = "IDENTITY_CARD") -> str:
    """queryverifyinfo's ``cert_hash``: hex SHA-256 of the base64 cert_info fields joined as a query."""
    fields = (("cert_type", cert_type), ("cert_name", name), ("cert_no", id_number))
    raw = "&".join(f"{k}={base64.b64encode(v.encode()).decode()}" for k, v in fields)
    return hashlib.sha256(raw.encode()).hexdigest()


class WechatClient:
    """One per process, on ``app.state.wechat``; ``http`` is closed by the lifespan."""

    def __init__(self, http: httpx.AsyncClient, redis: Any, *, appid: str, secret: str) -> None:
        self.http = http
        self.redis = redis
        self.appid = appid
        self._secret = secret
        self.token_key = f"zb:wechat:{appid}:access_token"

    async def code2session(self, code: str) -> Session:
        """Exchange a ``wx.login`` code; raises :class:`WechatError` for 40029, 40163, 40226..."""
        params = {"appid": self.appid, "secret": self._secret, "js_code": code, "grant_type": "authorization_code"}
        body = await self._request("GET", "/sns/jscode2session", params=params)
        return msgspec.convert(body, Session, strict=False)

    async def phone_number(self, code: str) -> dict[str, Any]:
        """The ``phone_info`` behind a ``getPhoneNumber`` code."""
        body = await self._with_token("/wxa/business/getuserphonenumber", {"code": code})
        return body.get("phone_info") or {}

    async def get_verify_id(self, *, out_seq_no: str, name: str, id_number: str, openid: str) -> str:
        """Open a face verification for this person and WeChat user; return the ``verify_id``."""
        cert = {"cert_type": "IDENTITY_CARD", "cert_name": name, "cert_no": id_number}
        body = {"out_seq_no": out_seq_no, "cert_info": cert, "openid": openid}
        return str((await self._with_token("/cityservice/face/identify/getverifyid", body))["verify_id"])

    async def query_verify_info(self, *, verify_id: str, out_seq_no: str, cert_hash: str, openid: str) -> int | None:
        """The face scan's ``verify_ret`` (10000 = passed), or None while the user has not scanned yet."""
        body = {"verify_id": verify_id, "out_seq_no": out_seq_no, "cert_hash": cert_hash, "openid": openid}
        answer = await self._with_token("/cityservice/face/identify/queryverifyinfo", body)
        ret = answer.get("verify_ret")
        return ret if isinstance(ret, int) else None

    # --- plumbing -------------------------------------------------------------------------------

    async def _with_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        token = await self.access_token()
        try:
            return await self._request("POST", path, params={"access_token": token}, json=body)
        except WechatError as exc:
            if exc.errcode not in TOKEN_INVALID:
                raise
            await self.redis.eval(_DELETE_IF, 1, self.token_key, token)
            fresh = await self.access_token(stale=token)
            return await self._request("POST", path, params={"access_token": fresh}, json=body)

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One WeChat call with retries; returns the body when ``errcode`` is absent or 0."""
        for attempt in range(len(BACKOFF) + 1):
            try:
                response = await self.http.request(method, path, **kwargs)
                if response.status_code >= 500:
                    raise httpx.HTTPStatusError("server error", request=response.request, response=response)
                body = response.json()
                errcode = int(body.get("errcode") or 0) if isinstance(body, dict) else 47001
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("wechat %s failed (%s), attempt %d", path, type(exc).__name__, attempt + 1)
                errcode = -1
                body = {}
            if errcode == 0:
                return body
            if errcode not in TRANSIENT:
                raise WechatError(errcode)
            if attempt < len(BACKOFF):
                await asyncio.sleep(BACKOFF[attempt] * (1 + random.random() / 2))
        raise WechatUnavailable(f"WeChat did not answer {path} successfully")

    async def access_token(self, *, stale: str | None = None) -> str:
        """The shared access token; when missing, exactly one caller fetches it (single flight)."""
        deadline = time.monotonic() + TOKEN_WAIT
        lock = self.token_key + ":lock"
        while True:
            cached = await self.redis.get(self.token_key)
            if cached is not None and cached.decode() != stale:
                return cached.decode()
            owner = secrets.token_hex(8)
            if await self.redis.set(lock, owner, nx=True, px=TOKEN_LOCK_MS):
                try:
                    cached = await self.redis.get(self.token_key)
                    if cached is not None and cached.decode() != stale:
                        return cached.decode()
                    token, ttl = await self._fetch_token(force=False)
                    if token == stale:
                        # WeChat still hands out the token it just refused: ask for a new one.
                        token, ttl = await self._fetch_token(force=True)
                    await self.redis.set(self.token_key, token, ex=max(60, ttl - TOKEN_MARGIN))
                    return token
                finally:
                    await self.redis.eval(_DELETE_IF, 1, lock, owner)
            if time.monotonic() > deadline:
                raise WechatUnavailable("timed out waiting for the WeChat access token")
            await asyncio.sleep(0.05)

    async def _fetch_token(self, *, force: bool) -> tuple[str, int]:
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret, "force_refresh": force}
        try:
            answer = await self._request("POST", "/cgi-bin/stable_token", json=body)
        except WechatError as exc:
            # A wrong appid or secret is our configuration, not the user's fault.
            log.error("stable_token refused with errcode %s", exc.errcode)
            raise WechatUnavailable("the WeChat access token could not be obtained") from None
        return str(answer["access_token"]), int(answer.get("expires_in") or 7200)
