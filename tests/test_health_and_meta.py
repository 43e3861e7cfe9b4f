from __future__ import annotations

import msgspec
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.config import Settings


async def test_health_ok(client: AsyncTestClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok", "version": "0.1.0"}


async def test_health_names_the_dependency_that_is_down(settings: Settings) -> None:
    # Port 1 on loopback refuses connections: Redis is "down", PostgreSQL still answers.
    broken = msgspec.structs.replace(settings, redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=create_app(broken)) as c:
        r = await c.get("/health")
    assert r.status_code == 503
    assert r.json()["database"] == "ok"
    assert r.json()["redis"] == "down"


async def test_openapi_and_ui_are_served(client: AsyncTestClient) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    assert spec["info"]["title"].startswith("zhangban")
    for path in (
        "/v1/matters",
        "/v1/matters/{code}",
        "/v1/bundles",
        "/v1/bundles/{code}",
        "/v1/certificate-types",
        "/health",
    ):
        assert path in spec["paths"], path
    ui = await client.get("/schema")
    assert ui.status_code == 200 and "<html" in ui.text.lower()


async def test_metrics_count_requests_by_route(client: AsyncTestClient) -> None:
    await client.get("/v1/bundles/birth")
    text = (await client.get("/metrics")).text
    assert 'path="/v1/bundles/{code}"' in text
    assert "zhangban_request_duration_seconds" in text or "zhangban_request_duration" in text
