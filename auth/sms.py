"""SMS one-time login codes and the providers that deliver them.

A code is 6 random digits, valid for 5 minutes; 5 wrong guesses burn it. Redis keeps only an HMAC of
phone and code (under the keyring's index key, so a copy of Redis does not reveal the code by trying
all million), plus the count of wrong guesses; checking and counting happen in one Lua script, so
parallel guesses cannot exceed the budget. Redis keys name the phone by its blind index.

Providers: ``sink`` keeps the messages in Redis for ``GET /v1/dev/sms`` (development and tests);
``http`` posts ``{phone, template, params, text}`` as JSON to ``ZB_SMS_HTTP_URL``.

Gateways send only texts made from templates registered with them beforehand, each known by a
code, filled with named parameters. Every text says what it is about (``login_code``, or the
notification kind that made it) and the provider looks the gateway's code up in
``ZB_SMS_TEMPLATES``; a name the setting does not map is sent as its own code.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Protocol

import httpx
import msgspec
from redis.exceptions import RedisError

from api.kernel.crypto import Keyring
from api.kernel.problems import ServiceUnavailable
from auth.errors import SmsCodeInvalid, SmsUnavailable

log = logging.getLogger("zhangban.sms")

CODE_TTL = 300
MAX_TRIES = 5
SINK_TTL = 86400
SINK_KEEP = 20

# KEYS[1] the code hash; ARGV[1] the digest of the guess, ARGV[2] tries allowed.
# Returns -1 when there is no live code, 0 when the guess matched (code burnt), else tries left + 1.
_CHECK = """
local stored = redis.call('HGET', KEYS[1], 'digest')
if not stored then return -1 end
if stored == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 0
end
local tries = redis.call('HINCRBY', KEYS[1], 'wrong', 1)
local left = tonumber(ARGV[2]) - tries
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
return left + 1
"""


def phone_index(keyring: Keyring, phone: str) -> bytes:
    return keyring.blind_index(phone, purpose="phone")


def _code_key(keyring: Keyring, phone: str) -> str:
    return f"zb:sms:code:{phone_index(keyring, phone).hex()}"


def _digest(keyring: Keyring, phone: str, code: str) -> str:
    return keyring.blind_index(f"{phone}:{code}", purpose="sms-code").hex()


async def issue_code(redis: Any, keyring: Keyring, phone: str) -> str:
    """Make and remember a new code for ``phone`` (replacing any earlier one); return it for sending."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    key = _code_key(keyring, phone)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"digest": _digest(keyring, phone, code), "wrong": 0})
            pipe.expire(key, CODE_TTL)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable("one-time codes are unavailable") from exc
    return code


async def check_code(redis: Any, keyring: Keyring, phone: str, code: str) -> None:
    """Accept the code once; otherwise 400 ``sms_code_invalid`` saying how many tries are left."""
    try:
        result = int(await redis.eval(_CHECK, 1, _code_key(keyring, phone), _digest(keyring, phone, code), MAX_TRIES))
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable("one-time codes are unavailable") from exc
    if result == 0:
        return
    if result == -1:
        raise SmsCodeInvalid("no live code for this phone; request a new one", tries_left=0)
    raise SmsCodeInvalid("the code does not match", tries_left=result - 1)


LOGIN_CODE = "login_code"  # the template of login codes; its one parameter is ``code``


def login_text(code: str) -> str:
    return f"【掌办】您的登录验证码为{code}，{CODE_TTL // 60}分钟内有效。如非本人操作，请忽略。"


class SmsProvider(Protocol):
    async def send(self, phone: str, text: str, *, about: str, params: dict[str, str]) -> None:
        """Send ``text``, made from the template for ``about`` filled with ``params``."""


class Templates:
    """What a text is about → the gateway's template code (``ZB_SMS_TEMPLATES``, else the name)."""

    def __init__(self, codes: dict[str, str]) -> None:
        self.codes = dict(codes)

    def code(self, about: str) -> str:
        return self.codes.get(about, about)


class SinkMessage(msgspec.Struct, frozen=True):
    text: str
    sent_at: float
    template: str | None = None
    params: dict[str, str] = {}


class SinkProvider:
    """Keeps the last messages per phone in Redis for a day; nothing leaves the machine."""

    def __init__(self, redis: Any, keyring: Keyring, templates: Templates | None = None) -> None:
        self.redis = redis
        self.keyring = keyring
        self.templates = templates or Templates({})

    def _key(self, phone: str) -> str:
        return f"zb:sms:sink:{phone_index(self.keyring, phone).hex()}"

    async def send(self, phone: str, text: str, *, about: str, params: dict[str, str]) -> None:
        key = self._key(phone)
        message = SinkMessage(text, time.time(), self.templates.code(about), params)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, msgspec.json.encode(message))
            pipe.ltrim(key, 0, SINK_KEEP - 1)
            pipe.expire(key, SINK_TTL)
            await pipe.execute()

    async def messages(self, phone: str) -> list[SinkMessage]:
        """Newest first."""
        raw = await self.redis.lrange(self._key(phone), 0, -1)
        return [msgspec.json.decode(r, type=SinkMessage) for r in raw]


class HttpProvider:
    """Posts each message as JSON to the configured gateway; any non-2xx answer is a failure."""

    def __init__(self, http: httpx.AsyncClient, url: str, templates: Templates | None = None) -> None:
        self.http = http
        self.url = url
        self.templates = templates or Templates({})

    async def send(self, phone: str, text: str, *, about: str, params: dict[str, str]) -> None:
        body = {"phone": phone, "template": self.templates.code(about), "params": params, "text": text}
        try:
            response = await self.http.post(self.url, json=body)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("sms gateway failed: %s", type(exc).__name__)
            raise SmsUnavailable() from None
