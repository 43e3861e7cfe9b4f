"""The application factory: ``create_app(settings)`` wires config, storage, errors and routes."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Tag

from api import __version__, embedded, h5, workbench
from api.config import Settings
from api.deps import DEPENDENCIES, in_turn
from api.docs_ui import OfflineSwaggerUI
from api.health import health
from api.kernel import authority, redis_client
from api.kernel.client_address import parse_networks
from api.kernel.crypto import Keyring
from api.kernel.db import create_pool
from api.kernel.domain import Domain
from api.kernel.idempotency import JOBS as IDEMPOTENCY_JOBS
from api.kernel.jobs import Job, JobRunner
from api.observability import MetricsController, configure_logging, forget_dead_workers, request_id_middleware
from api.openapi import ContractPlugin
from api.problems import EXCEPTION_HANDLERS
from api.requests import AppRequest
from auth.wiring import DOMAIN as AUTH
from esign.wiring import DOMAIN as ESIGN
from matters.wiring import DOMAIN as MATTERS
from notify.wiring import DOMAIN as NOTIFY
from sync.wiring import DOMAIN as SYNC
from wallet.wiring import DOMAIN as WALLET

# Every domain, in the order they start (and, reversed, stop) and their routes and tags are listed;
# each says what it brings in its wiring.
DOMAINS: tuple[Domain, ...] = (MATTERS, AUTH, SYNC, WALLET, NOTIFY, ESIGN)

log = logging.getLogger("zhangban")


def all_jobs() -> list[Job]:
    """Every background job of every domain."""
    return [*IDEMPOTENCY_JOBS, *(job for domain in DOMAINS for job in domain.jobs)]


async def open_resources(state: State, settings: Settings) -> embedded.Embedded | None:
    """Start embedded servers if asked, open the pool and Redis, load keys; shared by serve and worker."""
    started = None
    resolved = settings
    if settings.embedded:
        resolved, started = await asyncio.to_thread(embedded.start, settings)
    state.settings = resolved
    state.trusted_proxies = parse_networks(resolved.trusted_proxies)
    state.keyring = Keyring.from_settings(resolved)
    state.pool = await create_pool(
        resolved.require_database_url(),
        min_size=resolved.db_pool_min,
        max_size=resolved.db_pool_max,
        audit_key=state.keyring.audit_key,
    )
    state.redis = redis_client.from_url(resolved.require_redis_url(), health_check_interval=30)
    for domain in DOMAINS:
        if domain.start is not None:
            await domain.start(state)
    return started


async def close_resources(state: State, started: embedded.Embedded | None) -> None:
    for domain in reversed(DOMAINS):
        if domain.stop is not None:
            await domain.stop(state)
    await state.redis.aclose()
    await state.pool.close()
    if started is not None:
        await asyncio.to_thread(started.stop)


def lifespan(settings: Settings):
    @asynccontextmanager
    async def run(app: Litestar) -> AsyncIterator[None]:
        started = await open_resources(app.state, settings)
        forget_dead_workers()
        runner = JobRunner(app.state, all_jobs()) if settings.run_jobs else None
        try:
            if runner:
                runner.start()
            yield
        finally:
            if runner:
                await runner.stop()
            await close_resources(app.state, started)

    return run


OPENAPI_DESCRIPTION = """\
掌办 (palm-handling) government services: the catalogue of matters and bundled life events
(一件事一次办), identity, electronic seals and certificates, the lifelong wallet, notifications and
offline sync.

Every error is an RFC 9457 `application/problem+json` document `{type, title, status, detail?,
errors?}` whose `type` is a stable slug (for example `validation_failed`, `not_found`,
`malformed_request`, `method_not_allowed`, `idempotency_key_reused`). Lists take `limit`
(default 50, at most 500) and an opaque `cursor`, and answer `{items, next_cursor}`.
Each error response names the `type`s it can carry. Creating POSTs that document an
`Idempotency-Key` header honour it for 24 hours (a replay carries `Idempotent-Replayed: true`);
answers with an `ETag` answer 304 to a matching `If-None-Match`; 429 and 503 carry `Retry-After`;
every answer carries `X-Request-Id`. The docs page (`/schema`) needs no internet.
"""


# gzip for clients that accept it (a full sync pull shrinks about tenfold). Answers under
# COMPRESS_MIN bytes go as they are: compressing them costs more time than the bytes saved.
# The live stream is never compressed (gzip would hold events back until a block fills) and neither
# are blobs (JPEG, PNG and PDF are compressed already).
COMPRESS_MIN = 1024
COMPRESSION = CompressionConfig(
    backend="gzip",
    minimum_size=COMPRESS_MIN,
    gzip_compress_level=6,
    exclude=["^/v1/notifications/stream$", "^/v1/blobs/", "^/v1/dept/tasks/.*/file$"],
)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the application. Storage is opened in the lifespan, never at import time."""
    settings = settings or Settings.from_env()
    settings.check_deployable()
    configure_logging(settings.log_format, settings.log_level)
    return Litestar(
        route_handlers=[
            health,
            MetricsController,
            *(route for domain in DOMAINS for route in domain.routes(settings)),
            *h5.ROUTES,
            *workbench.ROUTES,
        ],
        dependencies=in_turn(
            {**DEPENDENCIES, **{name: dep for domain in DOMAINS for name, dep in domain.dependencies.items()}}
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        after_exception=[authority.audit_refusal],
        middleware=[request_id_middleware],
        request_class=AppRequest,
        plugins=[ContractPlugin()],
        compression_config=COMPRESSION,
        lifespan=[lifespan(settings)],
        openapi_config=OpenAPIConfig(
            title="zhangban 掌办 API",
            version=__version__,
            description=OPENAPI_DESCRIPTION,
            path="/schema",
            render_plugins=[OfflineSwaggerUI(path="/")],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
            tags=[
                Tag(name="meta", description="Health, keys and metrics"),
                *(tag for domain in DOMAINS for tag in domain.tags),
            ],
        ),
        # Our handler on the root logger formats everything; Litestar's own config would add a second.
        logging_config=None,
        debug=False,
    )


def app_from_env() -> Litestar:
    """Entry point for server workers (granian ``--factory``)."""
    app = create_app(Settings.from_env())
    app.on_startup.append(_freeze_startup_objects)
    app.on_startup.append(_end_streams_on_sigterm)
    return app


async def _end_streams_on_sigterm(app: Litestar) -> None:
    """On SIGTERM, end the open event streams and sockets first, then let the server stop.

    The server stops gracefully: it waits for the responses under way, but it drops upgraded
    connections (WebSockets) at once, and a live stream never ends by itself. So this process takes
    SIGTERM over on its event loop: every stream ends with its ``retry:`` hint and every socket with
    close code 1012, waiting up to half of ``ZB_SHUTDOWN_GRACE_SECONDS`` for them to be sent; then
    it sends itself SIGINT, on which the server (granian) stops as it would have on SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach only the main thread's handlers (an app served from a test thread)
    loop = asyncio.get_running_loop()
    grace = app.state.settings.shutdown_grace_seconds / 2
    stopping: list[asyncio.Task[None]] = []

    async def goodbye_then_stop() -> None:
        for domain in DOMAINS:
            if domain.goodbye is not None and not await domain.goodbye(app.state, grace):
                log.warning("%s: live streams still open after %.1f s; stopping anyway", domain.name, grace)
        os.kill(os.getpid(), signal.SIGINT)

    def on_sigterm() -> None:
        if not stopping:  # a second SIGTERM changes nothing: the first is under way
            stopping.append(loop.create_task(goodbye_then_stop()))

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)  # in place of the server's own, on this loop


async def _freeze_startup_objects(app: Litestar) -> None:
    # What startup made (modules, routes, the OpenAPI document, pools) lives as long as the worker:
    # out of the collector's way, a full collection walks only what requests made. In the load
    # benchmark this halves the wallet list's p99 (the pauses were full collections).
    gc.collect()
    gc.freeze()
