"""The identity commands, run as an operator would: ``python -m api.cli ...`` in a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import asyncpg
import httpx
import jwt
from litestar.testing import AsyncTestClient

from api.config import Settings
from tests.auth.helpers import assert_problem, auth, claims

ROOT = Path(__file__).resolve().parents[2]


async def _run(settings: Settings, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")} | {
        "ZB_DATABASE_URL": settings.database_url or "",
        "ZB_REDIS_URL": settings.redis_url or "",
        "ZB_MASTER_KEY": settings.master_key or "",
        "ZB_LOG_LEVEL": "WARNING",
        "ZB_ENV": "development",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_operator_token_works_against_the_server(
    client: AsyncTestClient, settings: Settings, conn: asyncpg.Connection
) -> None:
    code, out, err = await _run(settings, "operator-token", "--ttl", "600")
    assert code == 0, err
    token = out.strip()
    token_claims = claims(token)
    assert token_claims["roles"] == ["operator"] and token_claims["exp"] - token_claims["iat"] == 600
    assert (await client.get("/v1/admin/departments", headers=auth(token))).status_code == 200
    # A second call reuses the operator account.
    _, again, _ = await _run(settings, "operator-token")
    assert claims(again.strip())["sub"] == token_claims["sub"]
    assert await conn.fetchval("SELECT count(*) FROM auth_account WHERE 'operator' = ANY (roles)") == 1
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.operator_token'") == 2

    code, _, err = await _run(settings, "operator-token", "--ttl", "5")
    assert code == 2 and "--ttl" in err


async def test_rotate_signing_key(client: AsyncTestClient, settings: Settings) -> None:
    _, out, _ = await _run(settings, "operator-token")
    old = out.strip()
    code, out, err = await _run(settings, "rotate-signing-key")
    assert code == 0, err
    assert "new signing key" in out
    _, out, _ = await _run(settings, "operator-token")
    new = out.strip()
    assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(old)["kid"]
    # The running server learns the new key on first sight and still honours the old one.
    assert (await client.get("/v1/admin/departments", headers=auth(new))).status_code == 200
    assert (await client.get("/v1/admin/departments", headers=auth(old))).status_code == 200
    assert len((await client.get("/.well-known/jwks.json")).json()["keys"]) == 2
    assert_problem(await client.get("/v1/admin/departments", headers=auth(new + "x")), 401, "unauthorized")


async def test_wechat_sim_command_serves_the_simulator(settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")} | {"ZB_WECHAT_APPID": "wx1234567890abcdef"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "wechat-sim", "--port", str(port), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as sim:
            for _ in range(100):
                try:
                    stats = await sim.get("/_sim/stats")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert stats.status_code == 200
            body = {"grant_type": "client_credential", "appid": "wx1234567890abcdef", "secret": settings.wechat_secret}
            assert "access_token" in (await sim.post("/cgi-bin/stable_token", json=body)).json()
    finally:
        proc.terminate()
        await proc.wait()
