"""The ``zhangban`` command: serve, migrate, seed, audit-verify, the operator helpers, and issuing from a spreadsheet."""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import shutil
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from api import __version__, embedded
from api.config import ConfigError, Settings
from api.observability import configure_logging


def _resolve(settings: Settings, *, redis: bool = True) -> tuple[Settings, embedded.Embedded | None]:
    if not settings.embedded:
        return settings, None
    return embedded.start(settings, redis=redis)


async def _keyed_connection(settings: Settings) -> Any:
    """A connection that may append to and verify the audit log (its key comes from the master key)."""
    from api.kernel import db
    from api.kernel.crypto import Keyring

    return await db.connect(settings.require_database_url(), audit_key=Keyring.from_settings(settings).audit_key)


def _with_database(settings: Settings, job: Callable[[Settings], Coroutine[Any, Any, int]]) -> int:
    """Run a command that needs PostgreSQL only: on the embedded default it joins the running server
    (or starts one for itself) and leaves it as it found it; Redis is not touched."""
    resolved, started = _resolve(settings, redis=False)
    try:
        return asyncio.run(job(resolved))
    finally:
        if started is not None:
            started.stop()


async def _migrate(settings: Settings) -> int:
    from api.kernel import db

    conn = await db.connect(settings.require_database_url())
    try:
        applied = await db.migrate(conn)
    finally:
        await conn.close()
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


async def _seed(settings: Settings, *, only_if_empty: bool = False) -> int:
    from api.kernel import db
    from matters import seed_catalogue

    conn = await db.connect(settings.require_database_url())
    try:
        await db.migrate(conn)
        counts = await seed_catalogue(conn, only_if_empty=only_if_empty)
    finally:
        await conn.close()
    if counts:
        print("seeded " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    return 0


async def _audit_verify(settings: Settings) -> int:
    from api.kernel import audit

    conn = await _keyed_connection(settings)
    try:
        report = await audit.verify(conn)
    finally:
        await conn.close()
    if report.ok:
        print(f"audit chain ok: {report.entries} entries")
        return 0
    print(f"audit chain BROKEN at entry {report.first_bad_entry} ({report.entries} entries read)")
    return 1


async def _operator_token(settings: Settings, ttl: int) -> int:
    from datetime import UTC, datetime

    from api.kernel import db
    from api.kernel.crypto import Keyring
    from auth import operator

    if not 60 <= ttl <= operator.MAX_TTL:
        print(f"--ttl must be between 60 and {operator.MAX_TTL} seconds", file=sys.stderr)
        return 2
    conn = await _keyed_connection(settings)
    try:
        await db.migrate(conn)
        token = await operator.operator_token(
            conn, Keyring.from_settings(settings), issuer=settings.base_url, ttl=ttl, now=datetime.now(UTC)
        )
    finally:
        await conn.close()
    print(token)
    return 0


async def _rotate_signing_key(settings: Settings) -> int:
    from datetime import UTC, datetime

    from api.kernel import db
    from api.kernel.crypto import Keyring
    from auth import operator

    conn = await _keyed_connection(settings)
    try:
        await db.migrate(conn)
        kid = await operator.rotate(conn, Keyring.from_settings(settings), actor="cli", now=datetime.now(UTC))
    finally:
        await conn.close()
    print(f"new signing key {kid}; the previous key signs nothing more and stays published until its tokens expire")
    return 0


async def _revoke_signing_key(settings: Settings, kid: str) -> int:
    from datetime import UTC, datetime

    from api.kernel import db
    from api.kernel.crypto import Keyring
    from auth import keys, operator

    conn = await _keyed_connection(settings)
    try:
        await db.migrate(conn)
        was_revoked = await conn.fetchval("SELECT revoked_at IS NOT NULL FROM auth_signing_key WHERE kid = $1", kid)
        try:
            replacement = await operator.revoke(
                conn, Keyring.from_settings(settings), kid, actor="cli", now=datetime.now(UTC)
            )
        except keys.UnknownSigningKey:
            print(f"no signing key {kid}", file=sys.stderr)
            return 1
    finally:
        await conn.close()
    if was_revoked:
        print(f"signing key {kid} was already revoked")
    else:
        print(
            f"revoked signing key {kid}: no longer published, its tokens are refused within seconds"
            + (f"; new signing key {replacement}" if replacement else "")
        )
    return 0


def _issue(settings: Settings, args: argparse.Namespace) -> int:
    from api import issue_file

    try:
        return issue_file.run(
            Path(args.file),
            server=args.server or settings.base_url,
            token=os.environ.get("ZB_ACCESS_TOKEN"),
            client_id=args.client_id or os.environ.get("ZB_CLIENT_ID"),
            client_secret=os.environ.get("ZB_CLIENT_SECRET"),
            encoding=args.encoding,
            failures_path=Path(args.failures) if args.failures else None,
        )
    except issue_file.CommandError as exc:
        print(f"zhangban issue: {exc}", file=sys.stderr)
        return 2


def _wechat_sim(settings: Settings, host: str, port: int) -> int:
    from auth import wechat_sim

    wechat_sim.run(host, port, settings.wechat_appid, settings.wechat_secret)
    return 0


async def _burden(settings: Settings) -> int:
    """The citizen burden report: what each bundle asks for, before and after merging."""
    from api.kernel import db
    from matters import list_bundles

    conn = await db.connect(settings.require_database_url())
    try:
        await db.migrate(conn)
        bundles = await list_bundles(conn, after=None, limit=500)
    finally:
        await conn.close()
    print(burden_table(bundles))
    return 0


def burden_table(bundles: list[Any]) -> str:
    """Plain-text table; the Chinese name goes last so the numeric columns stay aligned."""
    head = (
        f"{'bundle':<22}{'for':<8}{'standalone':>11}{'merged':>8}{'upload':>8}{'matters':>9}{'depts':>7}"
        f"{'days':>6}{'visits':>8}  name"
    )
    lines = [head, "-" * len(head)]
    # The individual's life cycle first, then the business entity's, each in code order.
    for b in sorted(bundles, key=lambda b: (b.holder_kind != "person", b.code)):
        s = b.stats
        lines.append(
            f"{b.code:<22}{'citizen' if b.holder_kind == 'person' else 'entity':<8}{s.materials_before:>11}"
            f"{s.materials_after:>8}{s.uploads_typical:>8}{s.matters:>9}{s.departments:>7}{b.promised_limit_days:>6}"
            f"{s.visits:>8}  {b.name}"
        )
    total = [
        sum(getattr(b.stats, k) for b in bundles) for k in ("materials_before", "materials_after", "uploads_typical")
    ]
    lines.append("-" * len(head))
    lines.append(f"{'all bundles':<30}{total[0]:>11}{total[1]:>8}{total[2]:>8}")
    lines.append("standalone: materials if each matter were applied for alone; merged: after de-duplication;")
    lines.append("upload: what is left when the wallet holds ID card, household register and marriage certificate")
    lines.append("(an entity's: its 营业执照 and its representative's ID card); days: promised working days.")
    return "\n".join(lines)


async def _worker(settings: Settings) -> int:
    """Background jobs only, for scale-out next to `serve` (which runs them too unless ZB_RUN_JOBS=false)."""
    import gc
    import signal

    from litestar.datastructures import State

    from api.app import all_jobs, close_resources, open_resources
    from api.kernel.jobs import JobRunner

    state = State()
    state.signing_processes = True  # batch issuing signs in a process pool here, never inside `serve`
    started = await open_resources(state, settings)
    runner = JobRunner(state, all_jobs())
    # What startup made lives as long as the process: out of the collector's way, and young
    # collections rarer, since the dispatcher makes thousands of short-lived objects a batch.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner.start()
    print(f"worker running {len(runner.jobs)} job(s)", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.stop()
        try:
            await asyncio.wait_for(close_resources(state, started), 15)
        except TimeoutError:
            # A connection still out (a job left behind above): drop them rather than hang.
            logging.getLogger("zhangban").error("resources did not close within 15 s; closing connections")
            state.pool.terminate()
    return 0


def _share_metrics(settings: Settings) -> None:
    """Make ``/metrics`` count the requests of every worker, whichever worker answers the scrape.

    prometheus_client's multiprocess mode: each worker keeps its values in files of one folder and
    the scrape adds them up. The folder is emptied at each start, so counters restart with the
    service as they would with one process. Workers are spawned, not forked, so that each imports
    prometheus_client with the folder already named (it picks where values live at import).
    """
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        folder = Path(settings.data_dir).resolve() / "metrics"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    multiprocessing.set_start_method("spawn", force=True)


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
        if resolved.workers > 1:
            _share_metrics(resolved)
        Granian(
            "api.app:app_from_env",
            factory=True,
            address=resolved.host,
            port=resolved.port,
            interface=Interfaces.ASGI,
            workers=resolved.workers,
            workers_kill_timeout=resolved.shutdown_grace_seconds,
            log_enabled=False,
        ).serve()
    finally:
        if started is not None:
            started.stop()
    return 0


def _run_fast(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop where it is installed: the dispatcher's socket work costs about a tenth less CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zhangban", description="掌办 — palm-handling government services backend")
    parser.add_argument("--version", action="version", version=f"zhangban {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("serve", help="migrate, seed the demo catalogue into an empty database, and serve")
    sub.add_parser("migrate", help="apply pending database migrations")
    sub.add_parser("seed", help="load (or refresh) the demo catalogue")
    sub.add_parser("audit-verify", help="check the audit log's hash chain; exit 1 naming the first bad entry")
    sub.add_parser(
        "burden", help="print the citizen burden table: materials per bundle, standalone vs merged vs to upload"
    )
    sub.add_parser("worker", help="run the background jobs (outbox relay, dispatch, sweeps) without serving HTTP")
    token = sub.add_parser("operator-token", help="print an operator access token (makes the operator account if none)")
    token.add_argument("--ttl", type=int, default=3600, metavar="SECONDS", help="lifetime, 60..604800 (default 3600)")
    sub.add_parser(
        "rotate-signing-key", help="start signing access tokens with a new key (the old one stays published)"
    )
    revoke = sub.add_parser(
        "revoke-signing-key", help="end a compromised access-token signing key now: unpublished, its tokens refused"
    )
    revoke.add_argument("kid", help="the key's kid (the JWKS and token headers name it)")
    issue = sub.add_parser(
        "issue",
        help="issue certificates from a spreadsheet (CSV) through a running server, with a progress bar",
        description="One certificate per row: columns type_code, holder_id_number (or holder_credit_code), "
        "holder_name, external_ref, optional valid_from / valid_until / seal_id / application_id, and each field of "
        "the certificate type by its key. UTF-8 (with or without BOM) or GB 18030 (Excel's CSV in China), detected. "
        "Signs in as the department: ZB_CLIENT_ID / --client-id with ZB_CLIENT_SECRET (a department client with the "
        "scope certificates:issue), or ZB_ACCESS_TOKEN (staff with the role issuer). Writes the rows that failed, "
        "and why, to FILE.failures.csv; exit status 1 when some failed.",
    )
    issue.add_argument("file", metavar="FILE.csv")
    issue.add_argument("--server", help="the server's base URL (default: this machine's, ZB_HOST / ZB_PORT)")
    issue.add_argument("--client-id", help="the department client's id (or ZB_CLIENT_ID); its secret: ZB_CLIENT_SECRET")
    issue.add_argument("--encoding", help="the file's encoding, when not UTF-8 or GB 18030")
    issue.add_argument("--failures", metavar="PATH", help="where the failed rows go (default: FILE.failures.csv)")
    sim = sub.add_parser("wechat-sim", help="run the local WeChat API simulator (uses ZB_WECHAT_APPID / _SECRET)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8900)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command in ("serve", "worker"):
        try:
            settings.check_deployable()
        except ConfigError as exc:
            print(f"configuration error: {exc}", file=sys.stderr)
            return 2
    if args.command == "wechat-sim" and settings.production:
        print("configuration error: the WeChat simulator is for development (ZB_ENV=development)", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    commands: dict[str, Callable[[], int]] = {
        "serve": lambda: serve(settings),
        "migrate": lambda: _with_database(settings, _migrate),
        "seed": lambda: _with_database(settings, _seed),
        "audit-verify": lambda: _with_database(settings, _audit_verify),
        "worker": lambda: _run_fast(_worker(settings)),
        "burden": lambda: _with_database(settings, _burden),
        "operator-token": lambda: _with_database(settings, lambda s: _operator_token(s, args.ttl)),
        "rotate-signing-key": lambda: _with_database(settings, _rotate_signing_key),
        "revoke-signing-key": lambda: _with_database(settings, lambda s: _revoke_signing_key(s, args.kid)),
        "wechat-sim": lambda: _wechat_sim(settings, args.host, args.port),
        "issue": lambda: _issue(settings, args),
    }
    return commands[args.command]()


if __name__ == "__main__":
    sys.exit(main())
