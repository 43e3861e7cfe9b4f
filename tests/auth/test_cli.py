"""The identity commands, run as an operator would: ``python -m api.cli ...`` in a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import jwt
from litestar.testing import AsyncTestClient

from api.config import Settings
from api.kernel.crypto import Keyring
from auth import keys
from tests.auth.helpers import assert_problem, auth, claims, sms_login

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
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
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


async def test_a_retired_key_signs_nothing_after_its_retirement(
    client: AsyncTestClient, settings: Settings, conn: asyncpg.Connection
) -> None:
    before = await sms_login(client, "13800000021")
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]
    code, out, err = await _run(settings, "rotate-signing-key")
    assert code == 0, err
    new_kid = await conn.fetchval("SELECT kid FROM auth_signing_key WHERE retired_at IS NULL")
    assert new_kid != old_kid and new_kid in out
    # The running server learned it from the database before signing again: no token of the old key.
    after = await sms_login(client, "13800000022")
    assert jwt.get_unverified_header(after["access_token"])["kid"] == new_kid
    refreshed = (await client.post("/v1/auth/refresh", json={"refresh_token": before["refresh_token"]})).json()
    assert jwt.get_unverified_header(refreshed["access_token"])["kid"] == new_kid
    # What the old key signed before its retirement still works until it expires.
    assert (await client.get("/v1/me", headers=auth(before["access_token"]))).status_code == 200


async def test_a_token_naming_a_retired_key_issued_after_its_retirement_is_refused(
    client: AsyncTestClient, settings: Settings, conn: asyncpg.Connection
) -> None:
    _, out, _ = await _run(settings, "operator-token")
    op = out.strip()
    stolen = (await keys.load_keys(conn, Keyring.from_settings(settings), now=datetime.now(UTC))).active
    code, _, err = await _run(settings, "rotate-signing-key")
    assert code == 0, err
    retired_at = await conn.fetchval("SELECT retired_at FROM auth_signing_key WHERE kid = $1", stolen.kid)
    assert retired_at is not None

    def forged(iat: int, jti: str) -> str:
        c = claims(op) | {"iat": iat, "exp": iat + 900, "jti": jti}
        return jwt.encode(c, stolen.private_key, algorithm="ES256", headers={"kid": stolen.kid, "typ": "at+jwt"})

    after = forged(int(retired_at.timestamp()) + 1, "after")
    # The server reads the keys again within RELOAD_EVERY seconds of the rotation (here: the clock moved on).
    client.app.state.clock = lambda: datetime.now(UTC) + timedelta(seconds=keys.RELOAD_EVERY + 1)
    assert_problem(await client.get("/v1/admin/departments", headers=auth(after)), 401, "unauthorized")
    before = forged(int(retired_at.timestamp()) - 60, "before")
    assert (await client.get("/v1/admin/departments", headers=auth(before))).status_code == 200
    assert (await client.get("/v1/admin/departments", headers=auth(op))).status_code == 200


async def test_revoke_signing_key_ends_a_compromised_key_at_once(
    client: AsyncTestClient, settings: Settings, conn: asyncpg.Connection
) -> None:
    _, out, _ = await _run(settings, "operator-token")
    op = out.strip()
    citizen = await sms_login(client, "13800000023")
    kid = jwt.get_unverified_header(op)["kid"]
    assert (await client.get("/v1/admin/departments", headers=auth(op))).status_code == 200
    code, out, err = await _run(settings, "revoke-signing-key", kid)
    assert code == 0, err
    replacement = await conn.fetchval("SELECT kid FROM auth_signing_key WHERE retired_at IS NULL")
    assert f"revoked signing key {kid}" in out and replacement in out
    # Every process reads the keys again within seconds (here: the clock moved on by that much).
    client.app.state.clock = lambda: datetime.now(UTC) + timedelta(seconds=keys.RELOAD_EVERY + 1)
    assert_problem(await client.get("/v1/admin/departments", headers=auth(op)), 401, "unauthorized")
    assert_problem(await client.get("/v1/me", headers=auth(citizen["access_token"])), 401, "unauthorized")
    assert [k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]] == [replacement]
    # Signing goes on with the replacement; a login's refresh token is not tied to a key.
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": citizen["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert jwt.get_unverified_header(refreshed.json()["access_token"])["kid"] == replacement
    assert (await client.get("/v1/me", headers=auth(refreshed.json()["access_token"]))).status_code == 200
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.signing_key_revoked'") == 1

    code, out, _ = await _run(settings, "revoke-signing-key", kid)
    assert code == 0 and "already revoked" in out
    code, _, err = await _run(settings, "revoke-signing-key", "no-such-kid")
    assert code == 1 and "no-such-kid" in err


async def test_wechat_sim_command_serves_the_simulator(settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")} | {"ZB_WECHAT_APPID": "wx1234567890abcdef"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "wechat-sim",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
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
