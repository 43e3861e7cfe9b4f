"""Delivery rules, pure: the status machine, retries, quiet hours, provider answers, webhook signatures.

Status machine per notification and channel, after GOV.UK Notify: ``created`` → ``sending`` →
``delivered`` | ``sent`` | ``temporary-failure`` | ``permanent-failure`` | ``technical-failure``.
Only ``created`` and ``sending`` move; the store applies a transition only to a row still in the
state (and attempt) it expects, so a late or repeated answer changes nothing.

- ``delivered``: the provider took it for the user (WeChat accepted the message, the webhook answered
  2xx); ``sent``: handed to a provider that reports no receipt (SMS gateways);
- ``temporary-failure``: retries ran out (network, 5xx, 429, WeChat busy) or it sat in ``sending``
  past the time limit; ``permanent-failure``: the recipient refused or cannot be reached (WeChat
  43101, an opt-out, a 4xx from a webhook); ``technical-failure``: our request was wrong (WeChat
  47003 / 41030 / 40037) or the message poisoned the dispatcher.
"""

from __future__ import annotations

import base64
import functools
import hmac
import ipaddress
import os
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from api.kernel.problems import FieldError
from notify import addresses
from notify.catalogue import WEBHOOK_EVENTS
from notify.errors import WebhookEventsInvalid, WebhookUrlInvalid, WebhookUrlNotPublic
from notify.render import CHINA

OPEN = ("created", "sending")
FINAL = frozenset({"delivered", "sent", "temporary-failure", "permanent-failure", "technical-failure"})
CHANNELS = ("wechat", "sms", "webhook")
# Webhooks: 8 attempts, waits growing from 5 s towards 6 h (FORMATS.md §webhooks).
MAX_ATTEMPTS = {"webhook": 8, "wechat": 5, "sms": 5}
BACKOFF_BASE = 5.0
BACKOFF_FACTOR = 4.0
BACKOFF_CAP = 6 * 3600.0

Result = Literal["delivered", "sent", "retry", "permanent-failure", "technical-failure"]


class Outcome(msgspec.Struct, frozen=True):
    """What one attempt came to, as a channel reports it."""

    result: Result
    detail: str | None = None
    provider_ref: str | None = None


class Settled(msgspec.Struct, frozen=True):
    """The delivery's next state after an attempt, and how the attempt is recorded."""

    status: str
    not_before: datetime | None
    attempt_outcome: str


def backoff_seconds(attempt: int, *, rand: Callable[[], float] = random.random) -> float:
    """Wait after failed attempt ``attempt`` (1-based): 5 s × 4^(n−1), ±20 % jitter, at most 6 h.

    The jitter spreads retries of a burst that failed together (an endpoint that was down), so
    they do not all return in the same second.
    """
    delay = BACKOFF_BASE * BACKOFF_FACTOR ** (attempt - 1)
    return min(BACKOFF_CAP, delay * (0.8 + 0.4 * rand()))


def settle(
    channel: str, attempt: int, outcome: Outcome, *, now: datetime, rand: Callable[[], float] = random.random
) -> Settled:
    """Where a delivery goes after attempt number ``attempt`` ended with ``outcome``."""
    if outcome.result != "retry":
        return Settled(outcome.result, None, outcome.result)
    if attempt >= MAX_ATTEMPTS[channel]:
        return Settled("temporary-failure", None, "temporary-failure")
    return Settled("sending", now + timedelta(seconds=backoff_seconds(attempt, rand=rand)), "retry")


def quiet_until(now: datetime, start: time | None, end: time | None) -> datetime | None:
    """When quiet hours (China time, ``start``–``end``, may span midnight) end, if ``now`` is inside them."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(CHINA)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside, ends_tomorrow = start <= t < end, False
    else:
        inside, ends_tomorrow = t >= start or t < end, t >= start
    if not inside:
        return None
    day = local.date() + timedelta(days=1 if ends_tomorrow else 0)
    return datetime.combine(day, end, tzinfo=CHINA).astimezone(UTC)


# --- provider answers ------------------------------------------------------------------------------

WECHAT_OPT_OUT = 43101  # the user refused this template: no more messages until they accept again
WECHAT_TECHNICAL = frozenset({47003, 41030, 40037})  # bad data, bad page, bad template: our mistake
WECHAT_UNREACHABLE = frozenset({40003})  # the openid is not a user of this mini-program


def wechat_outcome(errcode: int) -> Outcome:
    """What a WeChat ``errcode`` from ``subscribe/send`` means for the delivery."""
    detail = f"wechat errcode {errcode}"
    if errcode == WECHAT_OPT_OUT or errcode in WECHAT_UNREACHABLE:
        return Outcome("permanent-failure", detail)
    # Unknown codes are not retried either: repeating a request WeChat refused only burns quota.
    return Outcome("technical-failure", detail)


def http_outcome(status: int) -> Outcome:
    """A webhook's HTTP answer: 2xx delivered; 429 and 5xx retried; anything else is final."""
    if 200 <= status < 300:
        return Outcome("delivered", f"http {status}")
    if status == 429 or status >= 500:
        return Outcome("retry", f"http {status}")
    return Outcome("permanent-failure", f"http {status}")


# --- Standard Webhooks signatures --------------------------------------------------------------------

SECRET_PREFIX = "whsec_"


async def check_webhook_address(url: str) -> None:
    """Resolve the url's host (a name) and refuse it unless every address is public (422)."""
    parts = urlsplit(url)
    try:
        await addresses.public_addresses(parts.hostname or "", parts.port or 443)
    except addresses.HostUnresolvable:
        raise WebhookUrlInvalid(
            "the url's host name does not resolve", errors=[FieldError("url", "the host name does not resolve")]
        ) from None
    except addresses.AddressNotPublic:
        raise WebhookUrlNotPublic(
            "the url must lead to a public address, not inside a network",
            errors=[FieldError("url", "not a globally routable address")],
        ) from None


def new_webhook_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


@functools.lru_cache(maxsize=1024)
def _key(secret: str) -> bytes:
    # A dispatcher signs thousands of messages a second with a handful of secrets.
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`` where key is the secret's bytes."""
    mac = hmac.digest(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, "sha256")  # one-shot, in C
    return "v1," + base64.b64encode(mac).decode()


def verify_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime, tolerance: int = 300
) -> bool:
    """What a receiver checks: a fresh timestamp and one matching ``v1`` signature (constant time)."""
    try:
        msg_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - timestamp) > tolerance:
        return False
    expected = sign_webhook(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in headers.get("webhook-signature", "").split())


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook(url: str, events: list[str], *, allow_private: bool = False) -> list[str]:
    """The events to subscribe (deduplicated, in order), or a 422 naming what is wrong.

    Deliveries carry event data and a signature, so they go over https to a globally routable
    address (an IP address given is checked here; a name is resolved by the caller, see
    :mod:`notify.addresses`). ``allow_private`` (development only) also accepts plain http to a
    loopback address and any address at all. Credentials in the URL are refused: they would be
    stored and shown in the clear.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError:
        host = ""
    if any(c.isspace() or not c.isprintable() for c in url):
        host = ""
    if parts.scheme not in ("https", "http") or not host:
        raise WebhookUrlInvalid("the url must be an absolute https URL", errors=[FieldError("url", "not an https URL")])
    if parts.scheme == "http" and not (allow_private and _loopback(host)):
        raise WebhookUrlInvalid("the url must be https", errors=[FieldError("url", "use https")])
    if not allow_private and (
        host == "localhost"
        or host.endswith(".localhost")
        or (addresses.literal(host) and not addresses.is_public(host))
    ):
        raise WebhookUrlNotPublic(
            "the url must lead to a public address, not inside a network",
            errors=[FieldError("url", "not a globally routable address")],
        )
    if parts.username or parts.password:
        raise WebhookUrlInvalid(
            "the url must not carry credentials", errors=[FieldError("url", "remove user:password@")]
        )
    bad = [
        FieldError(f"events[{i}]", f"unknown event; one of {', '.join(WEBHOOK_EVENTS)}")
        for i, e in enumerate(events)
        if e not in WEBHOOK_EVENTS
    ]
    if bad:
        raise WebhookEventsInvalid("events names an event department systems cannot subscribe to", errors=bad)
    return list(dict.fromkeys(events))
