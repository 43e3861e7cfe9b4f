"""The ``zhangban`` command: serve, migrate, seed, audit-verify and the operator helpers."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from api import __version__, embedded
from api.config import ConfigError, Settings
from api.observability import configure_logging


def _resolve(settings: Settings) -> tuple[Settings, embedded.Embedded | None]:
    if not settings.embedded:
        return settings, None
    return embedded.start(settings)


def _with_database(settings: Settings, job: Callable[[Settings], Coroutine[Any, Any, int]]) -> int:
    resolved, started = _resolve(settings)
    try:
        return asyncio.run(job(resolved))
    finally:
        if started is not None:
            started.stop()


async def _migrate(settings: Settings) -> int:
    from api import db

    conn = await db.connect(settings.database_url)
    try:
        applied = await db.migrate(conn)
    finally:
        await conn.close()
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


async def _seed(settings: Settings, *, only_if_empty: bool = False) -> int:
    from api import db
    from api.matters import seed

    conn = await db.connect(settings.database_url)
    try:
        await db.migrate(conn)
        counts = await seed.seed_catalogue(conn, only_if_empty=only_if_empty)
    finally:
        await conn.close()
    if counts:
        print("seeded " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    return 0


async def _audit_verify(settings: Settings) -> int:
    from api import audit, db

    conn = await db.connect(settings.database_url)
    try:
        report = await audit.verify(conn)
    finally:
        await conn.close()
    if report.ok:
        print(f"audit chain ok: {report.entries} entries")
        return 0
    print(f"audit chain BROKEN at entry {report.first_bad_entry} ({report.entries} entries read)")
    return 1


def serve(settings: Settings) -> int:
    """Migrate, seed an empty database, and serve with granian (workers inherit the resolved URLs)."""
    from granian import Granian
    from granian.constants import Interfaces

    resolved, started = _resolve(settings)
    try:
        if started is not None:
            for what, where in started.sources.items():
                print(f"{what}: {where}", flush=True)
        asyncio.run(_seed(resolved, only_if_empty=True))
        embedded.export(resolved)
        print(f"serving on {resolved.base_url}  (OpenAPI UI: {resolved.base_url}/schema)", flush=True)
        Granian(
            "api.app:app_from_env",
            factory=True,
            address=resolved.host,
            port=resolved.port,
            interface=Interfaces.ASGI,
            workers=resolved.workers,
            log_enabled=False,
        ).serve()
    finally:
        if started is not None:
            started.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zhangban", description="掌办 — palm-handling government services backend")
    parser.add_argument("--version", action="version", version=f"zhangban {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("serve", help="migrate, seed the demo catalogue into an empty database, and serve")
    sub.add_parser("migrate", help="apply pending database migrations")
    sub.add_parser("seed", help="load (or refresh) the demo catalogue")
    sub.add_parser("audit-verify", help="check the audit log's hash chain; exit 1 naming the first bad entry")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    commands: dict[str, Callable[[], int]] = {
        "serve": lambda: serve(settings),
        "migrate": lambda: _with_database(settings, _migrate),
        "seed": lambda: _with_database(settings, _seed),
        "audit-verify": lambda: _with_database(settings, _audit_verify),
    }
    return commands[args.command]()


if __name__ == "__main__":
    sys.exit(main())
