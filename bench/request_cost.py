"""Server-side cost of one wallet list beside one bare Litestar + asyncpg read, in one process, by ASGI calls.

    .venv/bin/python bench/request_cost.py [--requests 2000] [--rounds 5] [--people 2]
    .venv/bin/python bench/request_cost.py --callgrind --requests 200
    .venv/bin/python bench/request_cost.py --profile tottime [--callers NAME]

``bench/load.py`` measures through granian on a loaded machine, where the bare read's own speed moves
with what else runs. This one seeds a citizen as ``bench/load.py`` does (its ``seed``, through a
``zhangban serve`` and a ``zhangban worker`` started for the seeding), then builds the application in
this process (``api.app.create_app``), runs its lifespan and calls it as granian would, with one ASGI
scope per request: ``GET /v1/wallet/items`` as the citizen (served as built, as a repeated read is),
then the bare read of ``bench/load.py`` (``GET /item/{id}``). No HTTP server and no client share the
process, so what is counted is the application's work per request and the driver's.

It prints the CPU time per request of each and their ratio, alternating the two in rounds. With
``--callgrind`` the measuring process (seeding done) runs under ``valgrind --tool=callgrind`` and it
prints instructions per request instead: instrumentation starts after the warm-up and each phase is
dumped on its own (named ``wallet`` and ``bare``); the machine's load does not move these counts.
``--profile`` prints a cProfile (CPU time) of the wallet lists. Uses ``ZB_BENCH_DATABASE_URL`` /
``ZB_BENCH_REDIS_URL`` or embedded servers, as the other benchmarks do.

The script may be run from one tree against another's code (``PYTHONPATH=<tree>`` and that tree's
interpreter): it reads only ``api.app.create_app`` and the tree's own ``bench/load.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ctypes
import json
import logging
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def tree() -> Path:
    """The tree whose code is measured: the first ``PYTHONPATH`` entry holding ``api``, else this one."""
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and (Path(entry) / "api").is_dir():
            return Path(entry).resolve()
    return HERE.parent


ROOT = tree()
sys.path[:0] = [str(ROOT), str(HERE)]


def tree_load() -> Any:
    """The measured tree's ``bench/load.py`` (its seeding and its bare app), as module ``load``."""
    import importlib.util

    if "load" not in sys.modules:
        spec = importlib.util.spec_from_file_location("load", ROOT / "bench" / "load.py")
        assert spec is not None and spec.loader is not None
        sys.modules["load"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["load"]


# --- callgrind's client requests, from a few lines of C (only under --callgrind) -----------------------

CALLGRIND_C = r"""
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
int cg_running(void) { return RUNNING_ON_VALGRIND; }
"""


def callgrind() -> Any:
    folder = Path(tempfile.mkdtemp(prefix="zb-cg-"))
    (folder / "cg.c").write_text(CALLGRIND_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", str(folder / "cg.c"), "-o", str(folder / "cg.so")], check=True)
    lib = ctypes.CDLL(str(folder / "cg.so"))
    lib.cg_dump.argtypes = [ctypes.c_char_p]
    if not lib.cg_running():
        raise SystemExit("--callgrind: run under valgrind --tool=callgrind --instr-atstart=no")
    return lib


# --- seeding: the tree's own bench/load.py, through a server started for it ------------------------------


def seeded_env(admin: str, redis_url: str, database: str) -> dict[str, str]:
    from common import with_database

    return {k: v for k, v in os.environ.items() if not k.startswith("ZB_")} | {
        "ZB_DATABASE_URL": with_database(admin, database),
        "ZB_REDIS_URL": redis_url,
        "ZB_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ZB_PORT": str(tree_load().free_port()),  # tokens name the base URL, so the same one in-process
        "ZB_WORKERS": "1",
        "ZB_RUN_JOBS": "false",
        "ZB_LOG_LEVEL": "WARNING",
        "ZB_WECHAT_API_BASE": "http://127.0.0.1:9",
        "ZB_ENV": "development",
        "ZB_TRUSTED_PROXIES": "127.0.0.0/8",
    }


def seed(env: dict[str, str], people: int) -> list[str]:
    """Citizens' access tokens, each holding a household register (``load.seed``)."""
    load = tree_load()
    port = env["ZB_PORT"]
    zb = str(Path(sys.executable).with_name("zhangban"))
    server = subprocess.Popen(
        [zb, "serve"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    procs = [server]
    try:
        load.wait_healthy(f"http://{load.HOST}:{port}/health", server)
        # Once the server has migrated: a worker issues the seeding's certificate batch (where batches are jobs).
        procs.append(
            subprocess.Popen(
                [zb, "worker"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        op = subprocess.run(
            [zb, "operator-token"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        return load.seed(f"http://{load.HOST}:{port}", op, people, clients=0)["citizens"]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:  # a tree whose batches were issued in the request has no `zhangban worker`
                os.killpg(proc.pid, 15)
            proc.wait(timeout=30)


async def databases(admin: str, names: list[str], *, make: bool) -> None:
    """The application's database (``names[0]``, see ``common.create_database``) and the bare read's, made or dropped."""
    import asyncpg
    from common import create_database

    conn = await asyncpg.connect(admin)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if make:
            await create_database(conn, names[0])
            await conn.execute(f'CREATE DATABASE "{names[1]}"')
    finally:
        await conn.close()


async def bare_table(dsn: str) -> None:
    """The bare read's table, as ``bench/load.py`` makes it."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_item (id integer PRIMARY KEY, name text NOT NULL, payload jsonb NOT NULL)"
        )
        await conn.execute(
            "INSERT INTO bench_item SELECT i, '证照 ' || i, jsonb_build_object('n', i, 'tags', ARRAY['a', 'b'])"
            " FROM generate_series(1, 10000) i"
        )
    finally:
        await conn.close()


# --- ASGI calls ---------------------------------------------------------------------------------------


async def lifespan(app: Any) -> tuple[asyncio.Task[None], asyncio.Queue[dict[str, str]]]:
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, str]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup") and not started.done():
            started.set_result(message)

    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    message = await started
    if message["type"] != "lifespan.startup.complete":
        raise SystemExit(f"startup failed: {message}")
    return task, inbox


def caller(app: Any, path: str, token: str | None = None):
    """An async function making one request of ``app``; it fails on anything but 200."""
    raw, _, query = path.partition("?")
    headers = [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def call() -> None:
        status: list[Any] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif status != [200]:
                status.append(message.get("body", b"")[:300])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": raw,
            "raw_path": raw.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await app(scope, receive, send)
        if status[:1] != [200]:
            raise SystemExit(f"GET {path} answered {status}")

    return call


async def timed(calls: list[Any], n: int) -> float:
    """CPU seconds per request of ``n`` requests, taking ``calls`` in turn."""
    started = time.process_time()
    for i in range(n):
        await calls[i % len(calls)]()
    return (time.process_time() - started) / n


async def measure(env: dict[str, str], bare_dsn: str, tokens: list[str], args: argparse.Namespace) -> None:
    os.environ.update(env)
    os.environ["BENCH_BARE_DSN"] = bare_dsn
    from api.app import create_app

    load = tree_load()
    app, bare = create_app(), load.bare_app()
    apps = [(app, *await lifespan(app)), (bare, *await lifespan(bare))]
    # The bare app's default logging set the root logger to INFO; in load.py it has processes of its own.
    logging.getLogger().setLevel(env["ZB_LOG_LEVEL"])
    wallet = [caller(app, "/v1/wallet/items", token) for token in tokens]
    reads = [caller(bare, f"/item/{(k * 7919) % 10000 + 1}") for k in range(64)]
    for _ in range(2):  # warm-up: pages built, pools full, statements prepared, caches filled
        await timed(wallet, max(args.requests // 4, 50))
        await timed(reads, max(args.requests // 4, 50))
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile(time.process_time)  # CPU, as the rest of this script counts
        profile.enable()
        await timed(wallet, args.requests)
        profile.disable()
        stats = pstats.Stats(profile).sort_stats(args.profile)
        stats.print_stats(40)
        if args.callers:
            stats.print_callers(args.callers)
    elif args.callgrind:
        cg = callgrind()
        cg.cg_start()
        await timed(wallet, args.requests)
        cg.cg_dump(b"wallet")
        await timed(reads, args.requests)
        cg.cg_dump(b"bare")
        print(f"callgrind: {args.requests} wallet lists, then {args.requests} bare reads, dumped apart")
    else:
        rounds = [(await timed(wallet, args.requests), await timed(reads, args.requests)) for _ in range(args.rounds)]
        for w, b in rounds:
            print(f"CPU per wallet list {w * 1e3:.3f} ms, per bare read {b * 1e3:.3f} ms, ratio {w / b:.2f}")
        print(
            f"median CPU per request: wallet list {statistics.median(w for w, _ in rounds) * 1e3:.3f} ms, "
            f"bare read {statistics.median(b for _, b in rounds) * 1e3:.3f} ms; "
            f"ratio wallet list / bare read: {statistics.median(w / b for w, b in rounds):.2f}"
        )
    for _, task, inbox in apps:
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per phase (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the two (default 5)")
    parser.add_argument("--people", type=int, default=2, help="citizens whose wallets are read in turn")
    parser.add_argument(
        "--callgrind", action="store_true", help="count instructions: the measuring process runs under valgrind"
    )
    parser.add_argument(
        "--profile", metavar="SORT", help="profile the wallet lists with cProfile, sorted by SORT (tottime, cumtime)"
    )
    parser.add_argument("--callers", metavar="NAME", help="with --profile: who calls the functions matching NAME")
    parser.add_argument("--measure", metavar="FILE", help=argparse.SUPPRESS)  # the measuring child: what was seeded
    args = parser.parse_args()
    if args.measure:
        seeded = json.loads(Path(args.measure).read_text())
        asyncio.run(measure(seeded["env"], seeded["bare"], seeded["tokens"], args))
        return
    from common import servers, with_database

    suffix = os.getpid()
    names = [f"zb_cost_{suffix}", f"zb_cost_bare_{suffix}"]
    with servers() as (admin, redis_url), tempfile.TemporaryDirectory(prefix="zb-cost-") as tmp:
        asyncio.run(databases(admin, names, make=True))
        try:
            bare = with_database(admin, names[1])
            asyncio.run(bare_table(bare))
            env = seeded_env(admin, redis_url, names[0])
            tokens = seed(env, args.people)
            seeded = Path(tmp) / "seeded.json"
            seeded.write_text(json.dumps({"env": env, "bare": bare, "tokens": tokens}))
            child = [sys.executable, __file__, *sys.argv[1:], "--measure", str(seeded)]
            if args.callgrind:
                out = Path(tmp) / "callgrind.out"
                child[:0] = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
                subprocess.run(child, check=True, stderr=subprocess.DEVNULL)
                counts = {name: instructions(Path(tmp), name) for name in ("wallet", "bare")}
                w, b = counts["wallet"] / args.requests, counts["bare"] / args.requests
                print(f"instructions per wallet list {w:,.0f}, per bare read {b:,.0f}")
                print(f"ratio wallet list / bare read (instructions): {w / b:.2f}")
            else:
                subprocess.run(child, check=True)
        finally:
            asyncio.run(databases(admin, names, make=False))


def instructions(folder: Path, name: str) -> int:
    """The instructions of the dump named ``name`` (its ``Client Request: name`` trigger, its ``totals:``)."""
    for dump in folder.glob("callgrind.out*"):
        text = dump.read_text(errors="replace")
        totals = re.search(r"^totals: (\d+)", text, re.MULTILINE)
        if totals and re.search(rf"Client Request: {name}$", text, re.MULTILINE):
            return int(totals[1])
    raise SystemExit(f"no callgrind dump named {name} in {folder}")


if __name__ == "__main__":
    main()
