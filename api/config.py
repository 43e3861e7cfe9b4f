"""Settings: one frozen Struct, built once from ``ZB_*`` environment variables and passed in."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

from api.kernel.client_address import parse_networks
from api.kernel.errors import ConfigError

PREFIX = "ZB_"
_QR_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"  # what a QR code packs 11 bits a pair
# Never printed: repr() and startup logs show these as "***".
SECRET_FIELDS = frozenset(
    {"master_key", "master_key_previous", "wechat_secret", "database_url", "redis_url", "metrics_token"}
)
# The WeChat values a laptop runs with against the simulator (`zhangban wechat-sim`); never production's.
DEV_WECHAT_APPID = "wx0000000000000000"
DEV_WECHAT_SECRET = "zb-dev-secret"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # "development" or "production". Unset: development on the embedded default (neither database
    # nor Redis URL given), production otherwise. Production refuses to start while a development
    # setting is on (check_deployable).
    env: Literal["development", "production"] | None = None
    # Unset database / redis URLs mean "start the embedded servers under data_dir".
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: str = "./.zhangban"
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    public_base_url: str | None = None
    # What a QR code's URL starts with (FORMATS.md "QR codes"): unset, the public base URL's scheme and host
    # upper-cased. Set it where the service sits under a path, in QR alphanumeric characters only (upper-case
    # letters, digits, " $%*+-./:"), e.g. HTTPS://GOV.EXAMPLE.CN/ZB, and route that path to the service.
    qr_base_url: str | None = None
    master_key: str | None = None
    master_key_previous: str | None = None
    wechat_appid: str = DEV_WECHAT_APPID
    wechat_secret: str = DEV_WECHAT_SECRET
    wechat_api_base: str = "https://api.weixin.qq.com"
    sms_provider: Literal["sink", "http"] = "sink"
    sms_http_url: str | None = None
    # SMS gateway template codes, a JSON object: what a text is about (``login_code``, or a
    # notification kind such as ``application.supplement_requested``) → the code the gateway knows
    # the template by. Unnamed ones use their own name as the code (auth/sms.py).
    sms_templates: str = ""
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    db_pool_min: Annotated[int, msgspec.Meta(ge=1)] = 2
    db_pool_max: Annotated[int, msgspec.Meta(ge=1)] = 20
    # 差评整改: working days a department has to answer a bad rating.
    rectification_days: Annotated[int, msgspec.Meta(ge=1, le=60)] = 5
    # Seconds `serve` gives its workers to finish after SIGTERM (open event streams end at once, with a
    # `retry:` hint); a worker still busy after that is killed.
    shutdown_grace_seconds: Annotated[int, msgspec.Meta(ge=1, le=1800)] = 10
    # Background jobs (outbox relay, sweeps) run inside `serve` unless turned off.
    run_jobs: bool = True
    # Days a relayed and consumed outbox row is kept before notify.prune deletes it.
    outbox_retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 7
    # Notifications: a stream entry or a delivery attempt without an outcome for this many seconds
    # is taken over by another worker; a delivery in "sending" this long becomes temporary-failure.
    notify_claim_timeout: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    # Batch issuing: a worker renews its claim on a batch while it works; a worker gone this many
    # seconds (killed, hung) leaves the batch to the next one, which goes on where it stopped.
    batch_lease_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    notify_sending_timeout: Annotated[int, msgspec.Meta(ge=60)] = 86400
    # Seconds between heartbeats on GET /v1/notifications/stream.
    notify_heartbeat_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 15.0
    # WeChat subscribe-message template ids, "key=id,key=id" (keys: notify/catalogue.py).
    notify_wechat_templates: str = ""
    # Reverse proxies whose X-Forwarded-For is believed: addresses or CIDR blocks, comma-separated
    # (api/kernel/client_address.py). Empty: the TCP peer is the client and the header is ignored.
    trusted_proxies: str = ""
    # GET /metrics answers only with "Authorization: Bearer <token>" when set; production needs it.
    metrics_token: Annotated[str, msgspec.Meta(min_length=16)] | None = None
    # Development only: webhook URLs may be http and point at loopback or private addresses (local
    # test receivers). Ignored, and refused at start, in production.
    webhook_allow_private: bool = False

    def __post_init__(self) -> None:
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            raise ValueError(f"{PREFIX}TRUSTED_PROXIES: {exc}") from None
        try:
            parse_sms_templates(self.sms_templates)
        except ValueError as exc:
            raise ValueError(f"{PREFIX}SMS_TEMPLATES: {exc}") from None
        if self.qr_base_url is not None and (
            not all(ch in _QR_ALPHANUMERIC for ch in self.qr_base_url) or "://" not in self.qr_base_url
        ):
            raise ValueError(
                f"{PREFIX}QR_BASE_URL: an absolute URL in QR alphanumeric characters only "
                '(upper-case letters, digits and " $%*+-./:"), e.g. HTTPS://GOV.EXAMPLE.CN/ZB'
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Collect ``ZB_*`` keys; fail naming the key that is missing or ill-typed."""
        environ = os.environ if environ is None else environ
        raw = {k[len(PREFIX) :].lower(): v for k, v in environ.items() if k.startswith(PREFIX) and v != ""}
        known = set(cls.__struct_fields__)
        # Test-only and tool keys share the prefix; only our own fields are read.
        raw = {k: v for k, v in raw.items() if k in known}
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(_name_the_key(str(exc))) from None

    @property
    def base_url(self) -> str:
        """Where clients reach us; used in QR links and status-list URLs."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def qr_base(self) -> str:
        """What QR codes' URLs start with: ``qr_base_url``, else the base URL's scheme and host upper-cased."""
        if self.qr_base_url is not None:
            return self.qr_base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}".upper()

    @property
    def environment(self) -> Literal["development", "production"]:
        """``env`` as set, else development on the embedded default and production otherwise."""
        if self.env is not None:
            return self.env
        return "development" if self.database_url is None and self.redis_url is None else "production"

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def private_webhooks_allowed(self) -> bool:
        """Webhooks may reach loopback and private addresses over http: development, when asked for."""
        return self.environment == "development" and self.webhook_allow_private

    def development_settings(self) -> list[str]:
        """Each setting still in its development state, as "ZB_KEY: why"; production refuses to start with any."""
        found = []
        if self.sms_provider == "sink":
            found.append(f"{PREFIX}SMS_PROVIDER=sink: login codes would be kept for GET /v1/dev/sms, not sent")
        if self.wechat_appid == DEV_WECHAT_APPID:
            found.append(f"{PREFIX}WECHAT_APPID: the simulator's default appid")
        if self.wechat_secret == DEV_WECHAT_SECRET:
            found.append(f"{PREFIX}WECHAT_SECRET: the simulator's default secret")
        if not _is_public_https(self.wechat_api_base):
            found.append(f"{PREFIX}WECHAT_API_BASE: not https to a public host (a simulator)")
        if self.metrics_token is None:
            found.append(f"{PREFIX}METRICS_TOKEN: unset, /metrics would be open to anyone")
        if self.webhook_allow_private:
            found.append(f"{PREFIX}WEBHOOK_ALLOW_PRIVATE: webhooks to private addresses over http")
        if self.public_base_url is None:
            found.append(f"{PREFIX}PUBLIC_BASE_URL: unset, tokens and QR codes would name {self.base_url}")
        if self.master_key is None:
            found.append(f"{PREFIX}MASTER_KEY: unset")
        return found

    def check_deployable(self) -> None:
        """In production, refuse (``ConfigError``) naming every development setting still on."""
        if not self.production:
            return
        found = self.development_settings()
        if found:
            raise ConfigError(
                f"{PREFIX}ENV=production, but development settings are on: "
                + "; ".join(found)
                + f" (set {PREFIX}ENV=development to run for development)"
            )

    @property
    def embedded(self) -> bool:
        """True when at least one backing server is started by us."""
        return self.database_url is None or self.redis_url is None

    def require_database_url(self) -> str:
        """``database_url`` of settings resolved by ``embedded.start`` (or given); ``ConfigError`` before that."""
        if self.database_url is None:
            raise ConfigError(f"{PREFIX}DATABASE_URL is unset and no embedded PostgreSQL was started")
        return self.database_url

    def require_redis_url(self) -> str:
        """``redis_url`` of settings resolved by ``embedded.start`` (or given); ``ConfigError`` before that."""
        if self.redis_url is None:
            raise ConfigError(f"{PREFIX}REDIS_URL is unset and no embedded Redis was started")
        return self.redis_url

    def safe_items(self) -> dict[str, object]:
        """Every setting with secrets replaced, for startup logs."""
        return {
            name: ("***" if name in SECRET_FIELDS and getattr(self, name) else getattr(self, name))
            for name in self.__struct_fields__
        }

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.safe_items().items())
        return f"Settings({inner})"

    __str__ = __repr__


def _is_public_https(url: str) -> bool:
    """https to a name or a globally routable address (not localhost, loopback or a private network)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or not host or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True  # a name; where it leads is the operator's to say


def parse_sms_templates(text: str) -> dict[str, str]:
    """``ZB_SMS_TEMPLATES`` as a dict; ValueError unless it is a JSON object of non-empty strings."""
    if not text.strip():
        return {}
    try:
        value = msgspec.json.decode(text, type=dict[str, str])
    except msgspec.DecodeError:
        raise ValueError('must be a JSON object of template codes, e.g. {"login_code": "SMS_100001"}') from None
    if not all(k and v.strip() for k, v in value.items()):
        raise ValueError("names and template codes must not be empty")
    return value


def _name_the_key(message: str) -> str:
    # msgspec says "... - at `$.port`"; operators set ZB_PORT, so say that.
    if " - at `$." in message:
        text, _, path = message.rpartition(" - at `$.")
        key = path.rstrip("`").split(".")[0].split("[")[0]
        return f"{PREFIX}{key.upper()}: {text}"
    return message
