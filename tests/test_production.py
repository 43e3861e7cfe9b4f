"""ZB_ENV: the embedded laptop default is development; a server given its own database and Redis is
production, which refuses to start while a development setting is on and serves nothing for development."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.config import ConfigError, Settings

ROOT = Path(__file__).resolve().parents[1]
METRICS_TOKEN = "metrics-token-0123456789abcdef"
DEVELOPMENT_KEYS = ("ZB_SMS_PROVIDER", "ZB_WECHAT_APPID", "ZB_WECHAT_SECRET", "ZB_METRICS_TOKEN", "ZB_PUBLIC_BASE_URL")


def deployable(settings: Settings) -> Settings:
    """``settings`` as production would be given them: real providers, a metrics token, a public URL."""
    return msgspec.structs.replace(
        settings,
        env="production",
        webhook_allow_private=False,
        sms_provider="http",
        sms_http_url="https://sms.example.gov.cn/send",
        wechat_appid="wx5f2d7c4e9a1b3c6d",
        wechat_secret="0f9e8d7c6b5a49382716051423324150",
        wechat_api_base="https://api.weixin.qq.com",
        metrics_token=METRICS_TOKEN,
        public_base_url="https://zb.example.gov.cn",
    )


def test_the_environment_follows_where_the_data_lives() -> None:
    assert Settings().environment == "development"
    assert Settings.from_env({"ZB_DATABASE_URL": "postgresql://db/zb"}).environment == "production"
    assert Settings.from_env({"ZB_REDIS_URL": "redis://cache/0"}).environment == "production"
    both = {"ZB_DATABASE_URL": "postgresql://db/zb", "ZB_REDIS_URL": "redis://cache/0"}
    assert Settings.from_env(both | {"ZB_ENV": "development"}).environment == "development"
    assert Settings.from_env({"ZB_ENV": "production"}).environment == "production"
    with pytest.raises(ConfigError, match="ZB_ENV"):
        Settings.from_env({"ZB_ENV": "staging"})


def test_create_app_in_production_names_every_development_setting_still_on(settings: Settings) -> None:
    dev = msgspec.structs.replace(
        settings, env=None, webhook_allow_private=True, wechat_api_base="http://127.0.0.1:8900"
    )
    with pytest.raises(ConfigError) as caught:
        create_app(dev)
    message = str(caught.value)
    for key in (*DEVELOPMENT_KEYS, "ZB_WECHAT_API_BASE", "ZB_WEBHOOK_ALLOW_PRIVATE"):
        assert key in message, key
    assert "ZB_MASTER_KEY" not in message  # set: not a development setting
    # Each one alone is enough to refuse.
    ready = deployable(settings)
    create_app(ready)
    for change in (
        {"sms_provider": "sink"},
        {"wechat_appid": "wx0000000000000000"},
        {"wechat_secret": "zb-dev-secret"},
        {"wechat_api_base": "http://127.0.0.1:8900"},
        {"wechat_api_base": "https://10.0.0.8"},
        {"metrics_token": None},
        {"webhook_allow_private": True},
        {"public_base_url": None},
    ):
        with pytest.raises(ConfigError):
            create_app(msgspec.structs.replace(ready, **change))


def _cli(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", command], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_production_with_development_settings(command: str, tmp_path: Path) -> None:
    done = _cli(command, ZB_ENV="production", ZB_DATA_DIR=str(tmp_path), ZB_MASTER_KEY="A" * 43 + "=")
    assert done.returncode == 2, done.stdout + done.stderr
    for key in DEVELOPMENT_KEYS:
        assert key in done.stderr, (key, done.stderr)
    assert not (tmp_path / "pg").exists()  # refused before anything started
    # Named one by one: fixing some leaves only the others.
    done = _cli(
        command,
        ZB_ENV="production",
        ZB_DATA_DIR=str(tmp_path),
        ZB_MASTER_KEY="A" * 43 + "=",
        ZB_SMS_PROVIDER="http",
        ZB_SMS_HTTP_URL="https://sms.example.gov.cn/send",
        ZB_METRICS_TOKEN=METRICS_TOKEN,
    )
    assert done.returncode == 2
    assert "ZB_WECHAT_APPID" in done.stderr and "ZB_SMS_PROVIDER" not in done.stderr
    assert "ZB_METRICS_TOKEN" not in done.stderr


def test_the_wechat_simulator_does_not_run_in_production() -> None:
    done = _cli("wechat-sim", ZB_ENV="production")
    assert done.returncode == 2 and "development" in done.stderr


@pytest.fixture
async def production(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(deployable(settings)), base_url="http://testserver.local") as c:
        yield c


async def test_nothing_for_development_is_served_in_production(production: AsyncTestClient) -> None:
    r = await production.get("/v1/dev/sms", params={"phone": "13800000001"})
    assert r.status_code == 404
    paths = (await production.get("/schema/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/v1/dev/")]


async def test_metrics_need_the_token(production: AsyncTestClient) -> None:
    r = await production.get("/metrics")
    assert r.status_code == 401 and r.json()["type"] == "unauthorized"
    assert (
        await production.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"})
    ).status_code == 401
    r = await production.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200 and "zhangban_requests_total" in r.text


async def test_development_keeps_the_sms_inbox(client: AsyncTestClient) -> None:
    assert (await client.get("/v1/dev/sms", params={"phone": "13800000001"})).status_code == 200
    assert (await client.get("/metrics")).status_code == 200
