"""The outside channels: WeChat subscribe messages, SMS through auth's provider, department webhooks.

:meth:`Senders.prepare` runs in the claiming transaction and finds what each delivery needs (the
openid and a grant to spend, the phone, the webhook's URL and secret); a delivery that can no
longer go out (grant gone, channel turned off, webhook disabled) is settled there without a send.
:meth:`Senders.send` makes one attempt and reports an :class:`~notify.service.Outcome`; it never
raises for a provider's failure.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
import httpx
import msgspec
from redis.exceptions import RedisError

import auth
from api.config import parse_sms_templates
from api.kernel.crypto import PRIVATE_VALUE, DecryptionError, Keyring
from api.kernel.db import Conn
from auth import PHONE_CONTEXT, SmsUnavailable, WechatUnavailable
from notify import catalogue, contacts, dispatch_store, service, webhook_store
from notify.service import Outcome
from notify.webclient import AddressNotAllowed, NetworkError, WebClient

log = logging.getLogger("zhangban.notify")

SECRET_TTL = 30.0  # seconds a decrypted webhook secret is reused; a disabled webhook stops within it
SUBSCRIBE_SEND = "/cgi-bin/message/subscribe/send"


@dataclass
class Job:
    """One claimed delivery, with what its channel needs to send it."""

    id: UUID
    channel: str
    target: UUID
    lane: str
    attempt: int
    content: dict[str, Any] | None
    notification_id: UUID
    kind: str
    data: msgspec.Raw  # the notification's data as stored (JSON): a webhook sends it as it is
    created_at: datetime
    entry: tuple[str, str]
    started_at: datetime
    address: str | None = None  # the webhook URL, the openid or the phone number
    secret: str | None = None
    # A webhook's secret before its last rotation, and until when it still signs beside ``secret``.
    previous_secret: str | None = None
    previous_until: datetime | None = None


class Hook(NamedTuple):
    """What signing a webhook's deliveries needs (url None: gone or disabled)."""

    url: str | None
    secret: str | None
    previous_secret: str | None
    previous_until: datetime | None


NO_HOOK = Hook(None, None, None, None)


def template_ids(setting: str) -> dict[str, str]:
    """Our template keys → WeChat template ids: the defaults, overridden by ``key=id,key=id``."""
    ids = {key: t.default_id for key, t in catalogue.WECHAT_TEMPLATES.items()}
    for pair in filter(None, (p.strip() for p in setting.split(","))):
        key, _, value = (part.strip() for part in pair.partition("="))
        if key in ids and value:
            ids[key] = value
        else:
            log.warning("ZB_NOTIFY_WECHAT_TEMPLATES: ignoring %r (keys: %s)", pair, ", ".join(ids))
    return ids


def check_sms_templates(setting: str) -> None:
    """Warn about ``ZB_SMS_TEMPLATES`` names that no text is about (a typo sends the default code)."""
    known = {auth.LOGIN_CODE, *(k.key for k in catalogue.KINDS.values() if k.sms)}
    for name in sorted(set(parse_sms_templates(setting)) - known):
        log.warning(
            "ZB_SMS_TEMPLATES: %r is neither login_code nor a notification kind sent by SMS (%s)",
            name,
            ", ".join(sorted(known)),
        )


def opened(content: dict[str, Any], keyring: Keyring) -> dict[str, Any]:
    """A planned text with its sealed private values opened into their placeholders (see notify.plan)."""
    sealed = content.get("sealed")
    if not sealed:
        return content
    clear = {"{" + name + "}": keyring.open_text(value, context=PRIVATE_VALUE) for name, value in sealed.items()}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            for placeholder, text in clear.items():
                value = value.replace(placeholder, text)
            return value
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    return {k: fill(v) for k, v in content.items() if k != "sealed"}


ACCOUNTS = """
SELECT a.id, a.wechat_openid, a.phone, coalesce(p.wechat, true) AS wechat, coalesce(p.sms, true) AS sms
FROM auth_account a LEFT JOIN notify_preference p ON p.account_id = a.id WHERE a.id = ANY($1::uuid[])
"""


class Senders:
    """The channels of one dispatcher process (a pooled webhook client, the WeChat and SMS clients)."""

    def __init__(self, state: Any) -> None:
        self.state = state
        timeout = min(10.0, state.settings.notify_claim_timeout / 2)
        self.web = WebClient(per_origin=16, timeout=timeout, allow_private=state.settings.private_webhooks_allowed)
        self.template_ids = template_ids(state.settings.notify_wechat_templates)
        check_sms_templates(state.settings.sms_templates)
        self._secrets: dict[UUID, tuple[float, Hook]] = {}
        self._contact: dict[UUID, bytes] = {}

    async def prepare(
        self, conn: Conn, rows: list[dict[str, Any]], entries: dict[UUID, tuple[str, str]], *, now: datetime
    ) -> tuple[list[Job], list[tuple[Job, Outcome]]]:
        """Jobs ready to send, and those settled here without a send."""
        hooks = await self._webhooks(conn, {r["target"] for r in rows if r["channel"] == "webhook"})
        people = [r["target"] for r in rows if r["channel"] != "webhook"]
        accounts = {a["id"]: a for a in await conn.fetch(ACCOUNTS, people)} if people else {}
        orphans = [t for t in people if t not in accounts]
        self._contact = await contacts.phones(conn, orphans) if orphans else {}
        ready, settled = [], []
        for r in rows:
            job = Job(
                id=r["id"],
                channel=r["channel"],
                target=r["target"],
                lane=r["lane"],
                attempt=r["attempts"],
                content=r["content"],
                notification_id=r["notification_id"],
                kind=r["kind"],
                data=msgspec.Raw(r["data"].encode()),
                created_at=r["created_at"],
                entry=entries[r["id"]],
                started_at=now,
            )
            refusal = await self._address(conn, job, r, hooks, accounts, now=now)
            if refusal is None:
                ready.append(job)
            else:
                settled.append((job, refusal))
        return ready, settled

    async def _address(
        self,
        conn: Conn,
        job: Job,
        row: dict[str, Any],
        hooks: dict[UUID, Hook],
        accounts: dict[UUID, asyncpg.Record],
        *,
        now: datetime,
    ) -> Outcome | None:
        if job.channel == "webhook":
            hook = hooks.get(job.target, NO_HOOK)
            job.address, job.secret, job.previous_secret, job.previous_until = hook
            return None if job.address else Outcome("permanent-failure", "webhook disabled")
        account = accounts.get(job.target)
        if account is None and job.channel == "sms" and job.target in self._contact:
            # A person without the app, at the phone they gave at a window.
            job.address = self.state.keyring.decrypt_str(self._contact[job.target], context=PHONE_CONTEXT)
            return None
        if account is None or not account[job.channel]:
            return Outcome("permanent-failure", f"{job.channel} turned off by the user")
        if job.channel == "sms":
            if account["phone"] is None:
                return Outcome("permanent-failure", "no phone number")
            job.address = self.state.keyring.decrypt_str(account["phone"], context=PHONE_CONTEXT)
            return None
        job.address = account["wechat_openid"]
        if not job.address:
            return Outcome("permanent-failure", "no WeChat user")
        template = (job.content or {}).get("template", "")
        if not row["credit_spent"] and not await dispatch_store.spend_grant(
            conn, job.id, job.target, template, now=now
        ):
            return Outcome("permanent-failure", "no subscription grant")
        return None

    async def _webhooks(self, conn: Conn, ids: set[UUID]) -> dict[UUID, Hook]:
        clock = time.monotonic()
        missing = [i for i in ids if i not in self._secrets or self._secrets[i][0] < clock]
        if missing:
            found = await webhook_store.signing_secrets(conn, missing)
            keyring, context = self.state.keyring, webhook_store.SECRET_CONTEXT
            for i in missing:
                r = found.get(i)
                hook = NO_HOOK
                if r is not None:
                    previous = r["previous_secret"]
                    hook = Hook(
                        r["url"],
                        keyring.decrypt_str(r["secret"], context=context),
                        keyring.decrypt_str(previous, context=context) if previous is not None else None,
                        r["previous_secret_expires_at"],
                    )
                self._secrets[i] = (clock + SECRET_TTL, hook)
        return {i: self._secrets[i][1] for i in ids}

    async def send(self, job: Job) -> Outcome:
        if job.channel == "webhook":
            return await self._webhook(job)
        if job.channel == "wechat":
            return await self._wechat(job)
        return await self._sms(job)

    async def _webhook(self, job: Job) -> Outcome:
        body = msgspec.json.encode({"type": job.kind, "timestamp": job.created_at, "data": job.data})
        msg_id, stamp = f"msg_{job.notification_id}", int(time.time())
        signature = service.sign_webhook(job.secret or "", msg_id, stamp, body)
        if job.previous_secret and job.previous_until and job.started_at < job.previous_until:
            # Inside a rotation's overlap: a signature under each secret, so a receiver still on the
            # old one verifies too (Standard Webhooks: several space-separated signatures).
            signature += " " + service.sign_webhook(job.previous_secret, msg_id, stamp, body)
        headers = [
            ("content-type", "application/json"),
            ("user-agent", "zhangban-webhooks/1"),
            ("webhook-id", msg_id),
            ("webhook-timestamp", str(stamp)),
            ("webhook-signature", signature),
        ]
        try:
            status = await self.web.post(job.address or "", body, headers)
        except AddressNotAllowed:
            return Outcome("permanent-failure", "the endpoint's address is not public")
        except NetworkError:
            # Which failure it was (refused, reset, timed out) would tell what answers at that address.
            return Outcome("retry", "network error")
        return service.http_outcome(status)

    async def _wechat(self, job: Job) -> Outcome:
        try:
            content = opened(job.content or {}, self.state.keyring)
        except DecryptionError:
            return Outcome("permanent-failure", "a sealed value does not open")
        body = {
            "touser": job.address,
            "template_id": self.template_ids.get(content.get("template", ""), ""),
            "page": content.get("page"),
            "data": content.get("data", {}),
            "lang": "zh_CN",
        }
        client = self.state.wechat
        token = None
        for _ in range(2):
            try:
                token = await client.access_token(stale=token)
                response = await client.http.post(SUBSCRIBE_SEND, params={"access_token": token}, json=body)
                if response.status_code >= 500:
                    return Outcome("retry", f"wechat http {response.status_code}")
                answer = response.json()
            except WechatUnavailable:
                return Outcome("retry", "wechat access token unavailable")
            except (httpx.HTTPError, ValueError) as exc:
                return Outcome("retry", f"wechat {type(exc).__name__}")
            errcode = int(answer.get("errcode") or 0) if isinstance(answer, dict) else -1
            if errcode == 0:
                return Outcome("delivered", "wechat ok", str(answer.get("msgid", "")) or None)
            if errcode in auth.TOKEN_INVALID:
                continue  # the cached token went stale: once more with a fresh one
            if errcode in auth.TRANSIENT:
                return Outcome("retry", f"wechat errcode {errcode}")
            return service.wechat_outcome(errcode)
        return Outcome("retry", "wechat access token refused twice")

    async def _sms(self, job: Job) -> Outcome:
        try:
            content = opened(job.content or {}, self.state.keyring)
        except DecryptionError:
            return Outcome("permanent-failure", "a sealed value does not open")
        try:
            # The gateway's template is the kind's (ZB_SMS_TEMPLATES); a delivery planned before
            # texts carried their parameters has none.
            await self.state.sms.send(
                job.address, content.get("text", ""), about=job.kind, params=content.get("params", {})
            )
        except (SmsUnavailable, RedisError, OSError) as exc:
            return Outcome("retry", f"sms {type(exc).__name__}")
        # Gateways report no receipt we could wait for: handed over is as far as we can see.
        return Outcome("sent", "sms provider accepted")

    async def aclose(self) -> None:
        await self.web.aclose()
