"""The citizen app's budgets (clients/app, served at /app), each beside a baseline of the same run:

- first contentful paint on a throttled 4G profile (150 ms RTT, 1.6 Mbit/s down, CPU 4× slower), cold
  cache, in Debian's Chromium; baseline: a bare static page (one heading) from a loopback server under
  the same profile. Target ≤ 2 s.
- the app's JavaScript gzipped (what a phone downloads first); baseline: the budget, 150 KB.
- bytes on the wire of the app's first sync of a 1,000-item wallet (a logged-in phone opening the app);
  baseline: the same items as pulls carried them before items went slim (each with its token). Target
  ≤ 300 KB.

    .venv/bin/python bench/app.py [--runs 5] [--items 1000]

Needs node and npm (clients/app's packages from its lockfile) and Chromium (installed when missing where
the machine allows). Without ZB_BENCH_DATABASE_URL / ZB_BENCH_REDIS_URL it starts embedded servers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from common import create_database, servers, with_database
from litestar.testing import AsyncTestClient
from offline_sync import certificate_item, page_of, wire_size

from api.app import create_app
from api.config import Settings
from api.kernel import changelog, db
from api.kernel.crypto import Keyring
from matters import seed
from tests import browser
from tests.auth.helpers import auth, claims, operator
from tests.people import citizen, id_number, staff

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "clients" / "app"
SHIPPED = ROOT / "api" / "h5_app"
JS_BUDGET = 150 * 1024
PAINT_TARGET_MS = 2000
SYNC_TARGET = 300_000
BARE = "<!doctype html><html lang=zh-CN><meta charset=utf-8><meta name=viewport content='width=device-width'><title>掌办</title><h1>掌办</h1>"


class Bare(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = BARE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def ensure_app_packages() -> None:
    stamp = APP / "node_modules" / ".package-lock.json"
    if not stamp.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=APP, check=True, capture_output=True, timeout=600)


def js_size() -> int:
    return sum(len(gzip.compress(p.read_bytes(), 9)) for p in (SHIPPED / "assets").glob("*.js"))


async def run(admin_dsn: str, redis_url: str, runs: int, count: int) -> None:
    name = f"zb_bench_app_{os.getpid()}"
    admin = await asyncpg.connect(admin_dsn)
    await create_database(admin, name)
    dsn = with_database(admin_dsn, name)
    settings = Settings(
        env="development",
        database_url=dsn,
        redis_url=redis_url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        log_format="text",
        log_level="WARNING",
        run_jobs=False,
        db_pool_min=2,
        db_pool_max=10,
    )
    keyring = Keyring.from_settings(settings)
    conn = await db.connect(dsn, audit_key=keyring.audit_key)
    try:
        await db.migrate(conn)
        await seed.seed_catalogue(conn)
        async with AsyncTestClient(app=create_app(settings), base_url="http://bench.local") as client:
            op = await operator(conn, settings)
            clerk = await staff(client, op, conn, "shenpi", ["clerk"], proven=True)
            pair = await citizen(client, clerk, name="王芳", id_number=id_number("19920304", 7, male=False))
            person = uuid.UUID(claims(pair["access_token"])["pid"])
            assert (await client.get("/v1/me", headers=auth(pair["access_token"]))).status_code == 200
        now = datetime.now(UTC)
        items = [certificate_item(person, n, now) for n in range(count)]
        async with conn.transaction():
            for it in items:
                await changelog.record_change(conn, person, "wallet_item", uuid.UUID(it["id"]), "put", it)
        fat = sum(wire_size(page_of(items[i : i + 500])) for i in range(0, count, 500))

        bare = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bare)
        threading.Thread(target=bare.serve_forever, daemon=True).start()
        chromium = browser.chromium()
        with browser.live_server(create_app(settings)) as base:
            measure = {
                "app": f"{base}/app/",
                "bare": f"http://127.0.0.1:{bare.server_address[1]}/",
                "runs": runs,
                "items": count,
                "tokens": {"access_token": pair["access_token"], "refresh_token": pair["refresh_token"]},
            }
            done = await asyncio.to_thread(
                subprocess.run,
                ["node", "e2e/measure.mjs"],
                cwd=APP,
                capture_output=True,
                text=True,
                timeout=900,
                env={**os.environ, "ZB_MEASURE": json.dumps(measure), "ZB_CHROMIUM": chromium},
            )
        bare.shutdown()
        if done.returncode != 0:
            raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
        m = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    size = js_size()
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    print(f"{'measure':44} {'app':>14}   {'baseline':>34}   {'ratio':>7}   target")
    print(
        f"{'first contentful paint, throttled 4G':44} {m['app_fcp_ms']:>11.0f} ms   {'bare page ' + format(m['bare_fcp_ms'], '.0f') + ' ms':>34}   "
        f"{m['app_fcp_ms'] / m['bare_fcp_ms']:6.2f}×   ≤ 2 s  {ok(m['app_fcp_ms'] <= PAINT_TARGET_MS)}"
    )
    print(
        f"{'login screen ready, throttled 4G':44} {m['app_ready_ms']:>11.0f} ms   {'bare page ' + format(m['bare_ready_ms'], '.0f') + ' ms':>34}   "
        f"{m['app_ready_ms'] / m['bare_ready_ms']:6.2f}×"
    )
    print(
        f"{'app JavaScript, gzipped':44} {size:>11,} B    {'budget ' + format(JS_BUDGET, ',') + ' B':>34}   "
        f"{size / JS_BUDGET:6.2f}×   ≤ 150 KB  {ok(size <= JS_BUDGET)}"
    )
    print(
        f"{f'first sync in the app, {count:,} items, wire':44} {m['first_sync_wire_bytes']:>11,} B    "
        f"{'items with tokens ' + format(fat, ',') + ' B':>34}   {m['first_sync_wire_bytes'] / fat:6.2f}×   "
        f"≤ 300 KB  {ok(m['first_sync_wire_bytes'] <= SYNC_TARGET * count / 1000)}  ({m['first_sync_pages']} pulls)"
    )
    print(f"ratio app / bare first paint: {m['app_fcp_ms'] / m['bare_fcp_ms']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="cold page loads of each page (the median is shown)")
    parser.add_argument("--items", type=int, default=1000, help="wallet items of the first-sync measurement")
    args = parser.parse_args()
    ensure_app_packages()
    with servers() as (dsn, redis_url):
        asyncio.run(run(dsn, redis_url, args.runs, args.items))


if __name__ == "__main__":
    main()
