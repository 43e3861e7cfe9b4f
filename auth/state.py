"""What identity keeps on ``app.state`` for the life of the process; opened and closed by the lifespan.

- ``signing_keys``: :class:`auth.keys.SigningKeys` (made on first start, private key sealed at rest);
- ``revoked_logins``: :class:`auth.revocation.RevokedLogins` (ended logins whose access tokens are refused);
- ``wechat``: :class:`auth.wechat.WechatClient` over one pooled HTTP client;
- ``sms``: the configured SMS provider.

Startup touches PostgreSQL only; Redis is used lazily, so the health check can still report a Redis
outage instead of the process failing to start.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from litestar.datastructures import State

from api.config import ConfigError, parse_sms_templates
from auth.keys import SigningKeys
from auth.revocation import RevokedLogins
from auth.sms import HttpProvider, SinkProvider, SmsProvider, Templates
from auth.wechat import WechatClient

HTTP_TIMEOUT = httpx.Timeout(5.0, connect=3.0)


async def start(state: State) -> None:
    settings = state.settings
    now = state.clock() if state.get("clock") else datetime.now(UTC)
    keys = SigningKeys(state.pool, state.keyring)
    await keys.start(now=now)
    state.signing_keys = keys
    state.revoked_logins = RevokedLogins(state.pool)
    state.auth_http = httpx.AsyncClient(timeout=HTTP_TIMEOUT)
    state.wechat = WechatClient(
        httpx.AsyncClient(base_url=settings.wechat_api_base, timeout=HTTP_TIMEOUT),
        state.redis,
        appid=settings.wechat_appid,
        secret=settings.wechat_secret,
    )
    sms: SmsProvider
    templates = Templates(parse_sms_templates(settings.sms_templates))
    if settings.sms_provider == "http":
        if not settings.sms_http_url:
            raise ConfigError("ZB_SMS_HTTP_URL: required when ZB_SMS_PROVIDER is http")
        sms = HttpProvider(state.auth_http, settings.sms_http_url, templates)
    else:
        sms = SinkProvider(state.redis, state.keyring, templates)
    state.sms = sms


async def stop(state: State) -> None:
    if state.get("wechat") is not None:
        await state.wechat.http.aclose()
    if state.get("auth_http") is not None:
        await state.auth_http.aclose()
