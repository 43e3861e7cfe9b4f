"""Load benchmark: `zhangban serve` (2 workers) against a bare Litestar + asyncpg primary-key read.

    .venv/bin/python bench/load.py [--seconds 4] [--connections 64] [--people 64]

Uses the servers named by ``ZB_BENCH_DATABASE_URL`` (an admin DSN: a scratch database is created
and dropped) and ``ZB_BENCH_REDIS_URL``, or else an embedded PostgreSQL and Redis in a temporary
folder. It starts ``zhangban serve`` with ``ZB_WORKERS=2`` (jobs off, as when ``zhangban worker``
runs them elsewhere), seeds through the HTTP API what the scenarios need (an operator token from
``zhangban operator-token``, a window clerk who proves their own identity first (an L3 assertion of an
identity provider registered for it), ``--people`` citizens made L3 by the clerk, a seal and a
household register for each citizen issued through ``/v1/dept/certificates:batch`` by a ``zhangban
worker`` run for the seeding, department systems for the login scenario), starts a tiny Litestar app (granian,
2 workers) that reads one row
of a 10,000-row table by primary key, and drives each scenario for ``--seconds`` over
``--connections`` keep-alive connections on loopback.

The client is a small asyncio HTTP/1.1 client: each connection binds its own 127.x.y.z source
address, so per-IP limits (120 verifications and 120 token requests a minute) meet the spread of
addresses real traffic has, and each connection acts for its own citizen (the per-person key
distribution the scaling plan assumes). It prints requests/s, p50 and p99 latency, the ratio to
the bare read, and the resident memory of each server worker.

A wallet read twice with nothing changed in between is served as its process built it
(``wallet/pages.py``); "wallet list, every page built" asks each time for a page size not
asked for before, so it shows what building a page costs. ``--only TEXT`` runs the scenarios whose
name contains TEXT.

``--cluster`` runs the scenarios twice: on one PostgreSQL, then on a Citus cluster (a coordinator and
two workers on this host, built from ``../shared/vendor`` by ``tests/cluster/citus.py``), and prints
the PostgreSQL CPU per request of each node, worker 1's share of the workers' CPU, the two-phase commits
per request (the coordinator's ``pg_dist_transaction`` records, one per worker prepared), the rows of
each distributed table on each worker after the run, and what a one-row transaction costs when it
writes a coordinator table, a distributed table, or one of each.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import create_database, with_database  # noqa: E402

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
HOST = "127.0.0.1"
BLOB = "ab" * 32


def id_number(i: int) -> str:
    born = date(1970, 1, 1) + timedelta(days=i)
    body = f"430202{born:%Y%m%d}{(i % 500) * 2 + 1:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


# --- the bare app: what one primary-key read costs through the same server and driver -------------


def bare_app():
    import asyncpg
    from litestar import Litestar, get

    state: dict[str, asyncpg.Pool] = {}

    async def open_pool(app: Litestar) -> None:
        state["pool"] = await asyncpg.create_pool(os.environ["BENCH_BARE_DSN"], min_size=4, max_size=10)

    async def close_pool(app: Litestar) -> None:
        await state["pool"].close()

    @get("/item/{item_id:int}")
    async def item(item_id: int) -> dict[str, object]:
        async with state["pool"].acquire() as conn:
            row = await conn.fetchrow("SELECT id, name, payload FROM bench_item WHERE id = $1", item_id)
        return dict(row)

    return Litestar([item], on_startup=[open_pool], on_shutdown=[close_pool])


# --- a small HTTP/1.1 client ------------------------------------------------------------------------

Request = Callable[[int], bytes]


def request(
    method: str,
    path: str,
    port: int,
    *,
    token: str | None = None,
    body: object = None,
    forwarded_for: str | None = None,
) -> bytes:
    payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: keep-alive"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if forwarded_for:
        head.append(f"X-Forwarded-For: {forwarded_for}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def drive(port: int, make: list[Request], seconds: float, net: int) -> dict[str, float]:
    """One connection per entry of ``make`` (each from 127.<net>.x.y) for ``seconds``; the figures."""
    latencies: list[float] = []
    failed = 0
    deadline = time.perf_counter() + seconds

    async def one(k: int, build: Request) -> None:
        nonlocal failed
        source = f"127.{net}.{k // 250}.{k % 250 + 2}"
        reader, writer = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
        i = 0
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(build(i))
                status = await read_response(reader)
                latencies.append(time.perf_counter() - started)
                failed += not 200 <= status < 300
                i += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(k, build) for k, build in enumerate(make)))
    elapsed = time.perf_counter() - started
    qs = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "n": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": qs[49] * 1e3,
        "p99": qs[98] * 1e3,
        "failed": failed,
    }


# --- servers ------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{proc.stdout.read().decode(errors='replace') if proc.stdout else ''}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


async def make_databases(admin: str, names: list[str], workers: list[str]) -> None:
    """The scratch databases; with ``workers`` (a Citus cluster: ``admin`` is its coordinator) the
    first one is a cluster database, on every node."""
    import asyncpg

    if workers:
        await cluster_module().create_database([admin, *workers], names[0])
    conn = await asyncpg.connect(admin)
    try:
        if not workers:
            await create_database(conn, names[0])
        await conn.execute(f'DROP DATABASE IF EXISTS "{names[1]}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{names[1]}"')
    finally:
        await conn.close()
    bare = await asyncpg.connect(with_database(admin, names[1]))
    try:
        await bare.execute(
            "CREATE TABLE bench_item (id integer PRIMARY KEY, name text NOT NULL, payload jsonb NOT NULL)"
        )
        await bare.execute("""INSERT INTO bench_item SELECT i, '证照 ' || i, jsonb_build_object('n', i, 'tags', ARRAY['a', 'b'])
                              FROM generate_series(1, 10000) i""")
    finally:
        await bare.close()


async def drop_databases(admin: str, names: list[str], workers: list[str]) -> None:
    import asyncpg

    for node in [admin, *workers]:
        conn = await asyncpg.connect(node)
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def cluster_module():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.cluster import citus

    return citus


def rss_of_workers(proc: subprocess.Popen[bytes]) -> list[float]:
    import psutil

    kids = psutil.Process(proc.pid).children(recursive=True)
    return [k.memory_info().rss / 2**20 for k in kids]


# --- seeding through the HTTP API ---------------------------------------------------------------------


class Seeder:
    """Makes the people and things of the benchmark through the API, each login from its own address."""

    def __init__(self, base: str, op: str, net: int) -> None:
        self.base, self.op, self.net, self.n = base, op, net, 0

    def client(self):
        import httpx

        self.n += 1
        source = f"127.{self.net}.{self.n // 250}.{self.n % 250 + 2}"
        return httpx.Client(base_url=self.base, timeout=60, transport=httpx.HTTPTransport(local_address=source))

    @staticmethod
    def ok(r, *status: int) -> dict:
        if r.status_code not in (status or (200, 201)):
            raise SystemExit(f"seeding failed: {r.request.method} {r.request.url} -> {r.status_code} {r.text[:300]}")
        return r.json() if r.content else {}

    def login(self, http, phone: str) -> dict:
        import re

        self.ok(http.post("/v1/auth/sms/send", json={"phone": phone}), 202)
        text = self.ok(http.get("/v1/dev/sms", params={"phone": phone}))["items"][0]["text"]
        return self.ok(
            http.post("/v1/auth/sms/login", json={"phone": phone, "code": re.search(r"(\d{6})", text).group(1)})
        )

    def staff(self, department_id: str, phone: str, roles: list[str], *, proven: bool = False) -> str:
        """A member of staff's access token; ``proven``: they proved their own identity at L3 just now, as a
        window clerk must have (within 15 minutes) to attest anyone."""
        with self.client() as http:
            pair = self.login(http, phone)
            self.ok(
                http.post(
                    f"/v1/admin/departments/{department_id}/staff",
                    headers=auth(self.op),
                    json={"account_id": pair["account"]["id"], "roles": roles},
                )
            )
            if proven:
                self.prove(http, pair["access_token"])
            pair = self.ok(http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}))
            # Staff roles come with the second factor: bind an authenticator and give its first code.
            import pyotp

            secret = self.ok(http.post("/v1/auth/totp/enrol", headers=auth(pair["access_token"])), 201)["secret"]
            return self.ok(
                http.post(
                    "/v1/auth/totp/verify", headers=auth(pair["access_token"]), json={"code": pyotp.TOTP(secret).now()}
                )
            )["access_token"]

    def prove(self, http, token: str) -> None:
        """The account proves an identity at L3 with an assertion of an identity provider registered for it."""
        import hashlib

        import jwt
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        issuer, audience = f"https://idp-{secrets.token_hex(6)}.example.gov.cn", "zhangban-bench"
        self.ok(
            http.post(
                "/v1/admin/identity-providers",
                headers=auth(self.op),
                json={
                    "name": "人脸核验服务",
                    "issuer": issuer,
                    "public_key_pem": pem.decode(),
                    "max_level": "L3",
                    "audience": audience,
                },
            ),
            201,
        )
        id_no = id_number(15000 + random.randrange(3000))  # born 2011-2019: none of the citizens
        session = self.ok(
            http.post(
                "/v1/auth/realname/sessions",
                headers=auth(token),
                json={"name": "窗口核验员", "id_number": id_no, "method": "assertion"},
            ),
            201,
        )
        now = int(time.time())
        assertion = jwt.encode(
            {
                "iss": issuer,
                "aud": audience,
                "sub": hashlib.sha256(id_no.encode()).hexdigest(),
                "nonce": session["nonce"],
                "acr": "L3",
                "iat": now,
                "exp": now + 300,
            },
            key,
            algorithm="ES256",
        )
        self.ok(
            http.post(
                f"/v1/auth/realname/sessions/{session['session_id']}/complete",
                headers=auth(token),
                json={"assertion": assertion},
            )
        )

    def citizen(self, clerk: str, phone: str, name: str, id_no: str) -> str:
        with self.client() as http:
            pair = self.login(http, phone)
            session = self.ok(
                http.post(
                    "/v1/auth/realname/sessions",
                    headers=auth(pair["access_token"]),
                    json={"name": name, "id_number": id_no, "method": "counter"},
                ),
                201,
            )
            self.ok(
                http.post(
                    "/v1/dept/realname/attest",
                    json={"session_id": session["session_id"], "id_number": id_no},
                    headers=auth(clerk),
                )
            )
            return self.ok(http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}))["access_token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seed(base: str, op: str, people: int, clients: int) -> dict:
    seeder = Seeder(base, op, net=random.randint(100, 199))
    with seeder.client() as http:
        departments = seeder.ok(http.get("/v1/admin/departments", params={"limit": 500}, headers=auth(op)))["items"]
    by_name = {d["name"]: d["id"] for d in departments}
    police, approval = by_name["株洲市公安局"], by_name["株洲市行政审批服务局"]
    phone = iter(range(13600000000, 13700000000))
    clerk = seeder.staff(approval, str(next(phone)), ["clerk"], proven=True)
    issuer = seeder.staff(police, str(next(phone)), ["issuer", "dept_admin"])
    tokens = [seeder.citizen(clerk, str(next(phone)), "张三丰", id_number(i)) for i in range(people)]
    with seeder.client() as http:
        seeder.ok(http.post("/v1/dept/seals", json={"name": "电子证照专用章"}, headers=auth(issuer)), 201)
        items = [
            {
                "type_code": "household_register",
                "holder": {"id_number": id_number(i), "name": "张三丰"},
                "fields": {
                    "household_head": "张三丰",
                    "relation": "户主",
                    "address": f"株洲市天元区泰山路{i}号",
                    "registered_on": "2020-01-02",
                },
                "external_ref": f"load-{i}",
            }
            for i in range(people)
        ]
        queued = http.post("/v1/dept/certificates:batch", json={"items": items}, headers=auth(issuer))
        seeder.ok(queued, 202)
        while (batch := seeder.ok(http.get(queued.headers["location"], headers=auth(issuer))))["state"] != "done":
            if batch["state"] == "failed":
                raise SystemExit(f"seeding failed: the certificate batch failed: {batch}")
            time.sleep(0.2)
        if batch["issued"] + batch["existing"] != people:
            raise SystemExit(f"seeding failed: {batch['failed']} certificates of the batch failed")
        certificates = [
            c["certificate"]["token"]
            for c in (
                seeder.ok(http.get("/v1/wallet/items", params={"kind": "certificate"}, headers=auth(t)))["items"][0]
                for t in tokens
            )
        ]
        systems = [
            seeder.ok(
                http.post(
                    f"/v1/admin/departments/{police}/clients",
                    headers=auth(op),
                    json={"name": f"压测系统{i}", "scopes": ["records:write"]},
                ),
                201,
            )
            for i in range(clients)
        ]
    return {"citizens": tokens, "certificates": certificates, "systems": systems}


def scenarios(port: int, seeded: dict, connections: int) -> dict[str, list[Request]]:
    citizens, certificates, systems = seeded["citizens"], seeded["certificates"], seeded["systems"]

    def each(build: Callable[[int, int], bytes]) -> list[Request]:
        return [(lambda i, k=k: build(k, i)) for k in range(connections)]

    def login(k: int, i: int) -> bytes:
        # Every connection takes the department systems in turn, each from an address of its own behind
        # the proxy: a system stays under its 60 tokens a minute and an address under its 120, however
        # fast the machine (there are 32 systems more than two a connection for the short runs).
        system = systems[(k + connections * i) % len(systems)]
        return request(
            "POST",
            "/v1/auth/token",
            port,
            forwarded_for=f"198.19.{k % 256}.{i % 250 + 1}",
            body={
                "grant_type": "client_credentials",
                "client_id": system["client_id"],
                "client_secret": system["client_secret"],
            },
        )

    def submit(k: int, i: int) -> bytes:
        token = citizens[k % len(citizens)]
        return request(
            "POST",
            "/v1/applications",
            port,
            token=token,
            body={
                "id": str(uuid.uuid4()),
                "matter_code": "430200-YB-003",
                "form": {"mother_id_number": id_number(k % len(citizens)), "bank_account_no": "6222020202020202"},
                "materials": [
                    {"code": c, "blob_sha256": BLOB}
                    for c in ("mother_id_card", "birth_medical_certificate", "bank_account", "hospital_invoice")
                ],
                "deferred_materials": ["marriage_certificate"],
            },
        )

    return {
        "login (client credentials)": each(login),
        "wallet list": each(lambda k, i: request("GET", "/v1/wallet/items", port, token=citizens[k % len(citizens)])),
        # The same list with a page size no one asked for yet: every page is built, none served as built.
        "wallet list, every page built": each(
            lambda k, i: request(
                "GET",
                f"/v1/wallet/items?limit={500 - (i * 7 + k * 131) % 450}",
                port,
                token=citizens[k % len(citizens)],
            )
        ),
        # Verifiers are many phones behind the load balancer (a trusted proxy): the public route's
        # per-address limit (120 a minute) must not turn the scenario into a 429 benchmark.
        "certificate verify": each(
            lambda k, i: request(
                "POST",
                "/v1/verify",
                port,
                body={"token": certificates[k % len(certificates)]},
                forwarded_for=f"198.18.{k % 256}.{i % 250 + 1}",
            )
        ),
        "bundle read": each(lambda k, i: request("GET", "/v1/bundles/birth", port)),
        "sync pull": each(lambda k, i: request("GET", "/v1/sync/pull", port, token=citizens[k % len(citizens)])),
        "application submit": each(submit),
    }


# --- the run ------------------------------------------------------------------------------------------

TARGET_RATIO, TARGET_P99_MS, TARGET_RSS_MB = 0.70, 50.0, 200.0


def run(
    admin: str,
    redis_url: str,
    seconds: float,
    connections: int,
    people: int,
    only: str = "",
    workers: list[str] | None = None,
    in_process: int = 0,
) -> int:
    workers = workers or []
    suffix = os.getpid()
    names = [f"zb_load_{suffix}", f"zb_load_bare_{suffix}"]
    asyncio.run(make_databases(admin, names, workers))
    port, bare_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")} | {
        "ZB_DATABASE_URL": with_database(admin, names[0]),
        "ZB_REDIS_URL": redis_url,
        "ZB_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ZB_PORT": str(port),
        "ZB_WORKERS": "2",
        "ZB_RUN_JOBS": "false",
        "ZB_LOG_LEVEL": "WARNING",
        "ZB_WECHAT_API_BASE": "http://127.0.0.1:9",
        "ZB_ENV": "development",
        "ZB_TRUSTED_PROXIES": "127.0.0.0/8",
    }
    zb = str(Path(sys.executable).with_name("zhangban"))
    server = subprocess.Popen(
        [zb, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    bare = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("granian")),
            "--interface",
            "asgi",
            "--workers",
            "2",
            "--factory",
            "--host",
            HOST,
            "--port",
            str(bare_port),
            "--no-log",
            "load:bare_app",
        ],
        env=env | {"BENCH_BARE_DSN": with_database(admin, names[1]), "PYTHONPATH": str(Path(__file__).parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if workers:
        # Keep the records of two-phase commits for the run, so that they can be counted (recovery prunes them).
        import asyncpg

        async def keep_records() -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute("ALTER SYSTEM SET citus.recover_2pc_interval = -1")
                await conn.execute("SELECT pg_reload_conf()")
            finally:
                await conn.close()

        asyncio.run(keep_records())
    try:
        wait_healthy(f"http://{HOST}:{port}/health", server)
        wait_healthy(f"http://{HOST}:{bare_port}/item/1", bare)
        op = subprocess.run([zb, "operator-token"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        started = time.monotonic()
        # A worker beside the server issues the seeding's certificate batch, then goes before the measuring.
        worker = subprocess.Popen(
            [zb, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            seeded = seed(f"http://{HOST}:{port}", op, people, clients=2 * connections + 32)
        finally:
            os.killpg(worker.pid, 15)
            worker.wait(timeout=30)
        print(
            f"seeded {people} L3 citizens with a certificate each, {2 * connections + 32} department systems "
            f"in {time.monotonic() - started:.0f} s; {connections} connections, {seconds:g} s per scenario, "
            f"{os.cpu_count()} cores shared by client and servers"
        )
        status = asyncio.run(
            measure(
                port,
                bare_port,
                seeded,
                seconds,
                connections,
                server,
                bare,
                [admin, *workers],
                only,
                with_database(admin, names[0]) if workers else "",
            )
        )
        if in_process:
            in_process_cost(env, with_database(admin, names[1]), seeded["citizens"], in_process)
        return status
    finally:
        for proc in (server, bare):
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
        asyncio.run(drop_databases(admin, names, workers))


def in_process_cost(env: dict[str, str], bare_dsn: str, citizens: list[str], requests: int) -> None:
    """``bench/request_cost.py``'s measure on what was seeded here: wallet lists and bare reads by ASGI calls
    in one process, their CPU per request and its ratio, with no HTTP server or client beside them."""
    with tempfile.TemporaryDirectory(prefix="zb-load-") as tmp:
        seeded = Path(tmp) / "seeded.json"
        seeded.write_text(json.dumps({"env": env, "bare": bare_dsn, "tokens": citizens[:2]}))
        print(f"in one process, by ASGI calls ({requests} of each, bench/request_cost.py):", flush=True)
        script = str(Path(__file__).with_name("request_cost.py"))
        subprocess.run(
            [sys.executable, script, "--requests", str(requests), "--rounds", "1", "--measure", str(seeded)],
            check=True,
            stderr=subprocess.DEVNULL,
        )


def cpu_of(pids: list[int]) -> dict[int, float]:
    """User + system CPU of each of these processes that is still there."""
    import psutil

    times = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            times[pid] = t.user + t.system
        except psutil.Error:
            pass
    return times


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes on this host (those that are gone count nothing)."""
    return sum(cpu_of(pids).values())


async def postgres_pids(dsn: str) -> list[int]:
    """Backends serving the benchmark's databases, when PostgreSQL runs on this host."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return [
            r["pid"]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname LIKE 'zb_load_%' AND pid <> pg_backend_pid()"
            )
        ]
    finally:
        await conn.close()


async def rows_per_worker(database: str, workers: list[str]) -> dict[str, list[int]]:
    """The rows of each distributed table on each worker (``workers``: their admin DSNs, in order), counted
    shard by shard where the shard is placed."""
    import asyncpg

    ports = [int(w.rsplit(":", 1)[1].split("/")[0]) for w in workers]
    conn = await asyncpg.connect(database)
    try:
        tables = [
            r["name"]
            for r in await conn.fetch(
                "SELECT logicalrelid::regclass::text AS name FROM pg_dist_partition WHERE partmethod = 'h' ORDER BY 1"
            )
        ]
        rows = {}
        for table in tables:
            counted = await conn.fetch(
                """SELECT s.nodeport, sum(r.result::bigint) AS n
                   FROM run_command_on_shards($1::regclass, 'SELECT count(*) FROM %s') r
                   JOIN citus_shards s USING (shardid)
                   WHERE r.success GROUP BY s.nodeport""",
                table,
            )
            by_port = {r["nodeport"]: r["n"] for r in counted}
            rows[table] = [int(by_port.get(port, 0)) for port in ports]
        return rows
    finally:
        await conn.close()


async def commit_costs(database: str, nodes: list[str], seconds: float) -> dict[str, dict[str, float]]:
    """What a commit costs by where the transaction wrote: a row of a coordinator table, a row of a distributed
    table (on one worker), one of each (committed in one phase, the worker first), or one of each with the
    coordinator table in Citus's metadata (committed in two phases). One connection, one row per
    transaction, for ``seconds`` each after a warm-up; the latency and each node's PostgreSQL CPU per transaction."""
    import asyncpg

    conn = await asyncpg.connect(database)
    try:
        await conn.execute("CREATE TABLE bench_commit_local (id uuid PRIMARY KEY, n integer NOT NULL)")
        await conn.execute("CREATE TABLE bench_commit_shard (id uuid PRIMARY KEY, n integer NOT NULL)")
        await conn.execute("SELECT create_distributed_table('bench_commit_shard', 'id', colocate_with => 'none')")
        # A coordinator table in Citus's metadata: a transaction writing it and a worker is committed in two phases.
        await conn.execute("CREATE TABLE bench_commit_managed (id uuid PRIMARY KEY, n integer NOT NULL)")
        await conn.execute("SELECT citus_add_local_table_to_metadata('bench_commit_managed')")
        local = "INSERT INTO bench_commit_local VALUES ($1, 1)"
        managed = "INSERT INTO bench_commit_managed VALUES ($1, 1)"
        shard = "INSERT INTO bench_commit_shard VALUES ($1, 1)"
        kinds = {
            "coordinator table": [local],
            "distributed table": [shard],
            "both": [local, shard],
            "both, Citus-managed coordinator table": [managed, shard],
        }
        costs = {}
        for kind, statements in kinds.items():
            for length in (min(0.5, seconds / 4), seconds):  # a warm-up, then the measuring
                prepared = await two_phase_commits(database)
                before = [cpu_of(await postgres_pids(node)) for node in nodes]
                latencies = []
                deadline = time.perf_counter() + length
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    async with conn.transaction():
                        for statement in statements:
                            await conn.execute(statement, uuid.uuid4())
                    latencies.append(time.perf_counter() - started)
            parts = []
            for node, b in zip(nodes, before, strict=True):
                now = cpu_of(list(set(await postgres_pids(node)) | set(b)))
                parts.append(sum(now.get(pid, b.get(pid, 0.0)) - b.get(pid, 0.0) for pid in now.keys() | b.keys()))
            costs[kind] = {
                "n": len(latencies),
                "prepared": (await two_phase_commits(database) - prepared) / len(latencies),
                "p50": statistics.median(latencies) * 1e3,
                "parts": [part / len(latencies) * 1e3 for part in parts],
            }
        return costs
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_commit_local, bench_commit_managed, bench_commit_shard")
        await conn.close()


async def settle(pids: list[int], *, quiet: float = 0.05, longest: float = 15.0) -> None:
    """Wait until the servers and their PostgreSQL backends are idle (under 5 % of a core over 0.2 s), so
    what one scenario left running (answers still in flight, a vacuum of what it wrote) is not charged to
    the next."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        before = cpu_seconds(pids)
        await asyncio.sleep(0.2)
        if cpu_seconds(pids) - before < quiet * 0.2:
            return


async def two_phase_commits(database: str) -> int:
    """The coordinator's records of transactions it committed in two phases, one per worker taking part (kept:
    ``run`` turns the recovery that prunes them off for the cluster's run)."""
    import asyncpg

    conn = await asyncpg.connect(database)
    try:
        return await conn.fetchval("SELECT count(*) FROM pg_dist_transaction")
    finally:
        await conn.close()


async def measured(
    port: int,
    make: list[Request],
    seconds: float,
    net: int,
    server_pids: list[int],
    nodes: list[str],
    database: str = "",
) -> dict[str, float]:
    """One scenario; the PostgreSQL CPU per request in total and per node (``nodes``: the coordinator first).

    A backend that starts during the scenario (a pool growing, a coordinator opening a second connection to a
    worker) counts from zero; one that ends counts until its last reading."""
    prepared = await two_phase_commits(database) if database else 0
    before_app = cpu_seconds(server_pids)
    before = [cpu_of(await postgres_pids(node)) for node in nodes]
    result = await drive(port, make, seconds, net)
    after_app = cpu_seconds(server_pids)
    if database:
        prepared = await two_phase_commits(database) - prepared
    parts = []
    for node, b in zip(nodes, before, strict=True):
        now = cpu_of(list(set(await postgres_pids(node)) | set(b)))
        parts.append(sum(now.get(pid, b.get(pid, 0.0)) - b.get(pid, 0.0) for pid in now.keys() | b.keys()))
    n = max(result["n"], 1)
    parts = [part / n * 1e3 for part in parts]
    app_ms = (after_app - before_app) / n * 1e3
    return result | {"app_ms": app_ms, "pg_ms": sum(parts), "parts": parts, "prepared": prepared / n}


async def measure(
    port: int,
    bare_port: int,
    seeded: dict,
    seconds: float,
    connections: int,
    server: subprocess.Popen[bytes],
    bare: subprocess.Popen[bytes],
    nodes: list[str],
    only: str = "",
    database: str = "",
) -> int:
    """``database``: the benchmark's database on the coordinator, when ``nodes`` are a cluster's."""
    import psutil

    def workers(proc: subprocess.Popen[bytes]) -> list[int]:
        return [proc.pid] + [k.pid for k in psutil.Process(proc.pid).children(recursive=True)]

    net = random.randint(10, 90)
    bare_make = [
        (lambda i, k=k: request("GET", f"/item/{(k * 7919 + i * 104729) % 10000 + 1}", bare_port))
        for k in range(connections)
    ]
    await drive(bare_port, bare_make, 1.0, net)  # warm-up: connections, prepared statements, JIT of caches
    results = {
        "bare PK read (Litestar + asyncpg)": await measured(
            bare_port, bare_make, seconds, net + 1, workers(bare), nodes
        )
    }
    chosen = {name: make for name, make in scenarios(port, seeded, connections).items() if only in name}
    for i, (name, make) in enumerate(chosen.items()):
        await settle(workers(server) + await postgres_pids(nodes[0]))
        await drive(port, make, min(1.0, seconds / 4), net + 2 + 2 * i)
        results[name] = await measured(port, make, seconds, net + 3 + 2 * i, workers(server), nodes, database)
    base = results["bare PK read (Litestar + asyncpg)"]["rps"]
    print(
        f"{'scenario':<34}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}{'vs bare':>8}"
        f"{'app CPU':>9}{'PG CPU':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:<34}{r['n']:>9,}{r['rps']:>8,.0f}{r['p50']:>8.1f}{r['p99']:>8.1f}{r['failed']:>8,}"
            f"{r['rps'] / base:>8.2f}{r['app_ms']:>7.2f}ms{r['pg_ms']:>6.2f}ms"
        )
    print("app CPU / PG CPU: CPU time per request of the server workers / of the PostgreSQL backends (0 when remote)")
    if len(nodes) > 1:
        print(
            f"{'PG CPU per request on each node':<34}{'coordinator':>12}"
            + "".join(f"{f'worker {i}':>10}" for i in range(1, len(nodes)))
            + f"{'worker 1 of workers':>21}{'2PC per request':>17}"
        )
        for name, r in results.items():
            on_workers = sum(r["parts"][1:])
            share = f"{r['parts'][1] / on_workers:>20.0%}" if on_workers >= 0.005 else f"{'-':>20}"
            print(
                f"{name:<34}{r['parts'][0]:>10.2f}ms"
                + "".join(f"{part:>8.2f}ms" for part in r["parts"][1:])
                + f" {share}{r.get('prepared', 0):>17.2f}"
            )
        # Where the per-person rows are: each worker's rows of every distributed table that has any.
        placed = await rows_per_worker(database, nodes[1:])
        print(
            f"{'rows of the distributed tables':<34}"
            + "".join(f"{f'worker {i}':>10}" for i in range(1, len(nodes)))
            + f"{'worker 1 of all':>17}"
        )
        for table, counts in placed.items():
            if sum(counts):
                print(f"{table:<34}" + "".join(f"{c:>10,}" for c in counts) + f"{counts[0] / sum(counts):>17.0%}")
        totals = [sum(c[i] for c in placed.values()) for i in range(len(nodes) - 1)]
        print(
            f"{'all of them':<34}" + "".join(f"{c:>10,}" for c in totals) + f"{totals[0] / max(sum(totals), 1):>17.0%}"
        )
        await settle(workers(server) + await postgres_pids(nodes[0]))
        commits = await commit_costs(database, nodes, seconds)
        print(
            f"{'one-row transactions, one client':<38}{'p50 ms':>7}{'coordinator':>12}"
            + "".join(f"{f'worker {i}':>10}" for i in range(1, len(nodes)))
            + f"{'PG CPU':>9}{'2PC':>6}"
        )
        for kind, c in commits.items():
            print(
                f"{kind:<38}{c['p50']:>7.2f}{c['parts'][0]:>10.2f}ms"
                + "".join(f"{part:>8.2f}ms" for part in c["parts"][1:])
                + f"{sum(c['parts']):>7.2f}ms{c['prepared']:>6.2f}"
            )
    rss = rss_of_workers(server)
    print(f"RSS per server worker: {', '.join(f'{m:.0f} MB' for m in rss)}")
    checks = [(f"RSS per worker < {TARGET_RSS_MB:.0f} MB", all(m < TARGET_RSS_MB for m in rss))]
    if (wallet := results.get("wallet list")) is not None:
        checks[:0] = [
            (f"wallet list >= {TARGET_RATIO:.0%} of the bare read", wallet["rps"] / base >= TARGET_RATIO),
            (f"wallet list p99 < {TARGET_P99_MS:.0f} ms", wallet["p99"] < TARGET_P99_MS),
        ]
    checks += [
        ("no failed requests", all(r["failed"] == 0 for r in results.values())),
    ]
    for what, ok in checks:
        print(f"{'met   ' if ok else 'MISSED'} {what}")
    return 0 if all(ok for _, ok in checks) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per scenario (default 4)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--people", type=int, default=64, help="citizens, one per connection up to this many")
    parser.add_argument("--only", default="", help="run only the scenarios whose name contains this text")
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="then N wallet lists and N bare reads by ASGI calls in one process (bench/request_cost.py)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="run again on a Citus coordinator and two workers built from ../shared/vendor",
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    admin, redis_url = os.environ.get("ZB_BENCH_DATABASE_URL"), os.environ.get("ZB_BENCH_REDIS_URL")
    stops = []
    if admin is None or redis_url is None:
        from api import embedded

        tmp = Path(tempfile.mkdtemp(prefix="zb-load-"))
        if admin is None:
            pg, _ = embedded.start_postgres(tmp)
            stops.append(pg.cleanup)
            admin = pg.get_uri("postgres")
        if redis_url is None:
            rs, redis_url = embedded.start_redis(tmp)
            stops.append(rs.stop)
    try:
        if not args.cluster:
            sys.exit(
                run(
                    admin, redis_url, args.seconds, args.connections, args.people, args.only, in_process=args.in_process
                )
            )
        print("== one PostgreSQL node")
        status = run(admin, redis_url, args.seconds, args.connections, args.people, args.only)
        citus = cluster_module()
        cluster = citus.Cluster(citus.build()).start()
        try:
            citus.wait_ready(cluster)
            coordinator, *workers = cluster.admin_dsns()
            print(f"\n== Citus: a coordinator and {len(workers)} workers on this host")
            status |= run(coordinator, redis_url, args.seconds, args.connections, args.people, args.only, workers)
        finally:
            cluster.stop()
        sys.exit(status)
    finally:
        for stop in reversed(stops):
            stop()


if __name__ == "__main__":
    main()
