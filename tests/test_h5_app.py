"""The citizen app at /app: served from the package without Node (content types, caching, the service
worker's scope, nothing in the OpenAPI), and the shipped build is exactly a fresh build of clients/app."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from litestar.testing import AsyncTestClient

from tests.h5_app import SHIPPED, installed_app, run

BUDGET_GZIPPED = 150 * 1024


def _asset(kind: str) -> str:
    """The entry file of that kind (``index-*``): the page names it; lazily loaded chunks (jsQR) it does not."""
    return next(
        p.name for p in sorted((SHIPPED / "assets").iterdir()) if p.suffix == kind and p.name.startswith("index-")
    )


async def test_the_app_page_and_its_files(client: AsyncTestClient) -> None:
    r = await client.get("/app", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/app/"
    page = await client.get("/app/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert (
        page.headers["cache-control"] == "no-cache" and "script-src 'self'" in page.headers["content-security-policy"]
    )
    html = page.text
    assert '<html lang="zh-CN">' in html and "width=device-width" in html and 'rel="manifest"' in html
    script = _asset(".js")
    assert f'src="/app/assets/{script}"' in html
    again = await client.get("/app/", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304

    js = await client.get(f"/app/assets/{script}", headers={"Accept-Encoding": "gzip"})
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert js.headers["content-encoding"] == "gzip"
    css = await client.get(f"/app/assets/{_asset('.css')}")
    assert css.headers["content-type"].startswith("text/css")

    sw = await client.get("/app/sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["cache-control"] == "no-cache" and sw.headers["service-worker-allowed"] == "/app/"
    # The service worker caches every built file, so the app opens with no network.
    cached = json.loads(re.search(r"const FILES = (\[.*?\]);", sw.text).group(1))
    assert f"assets/{script}" in cached and "manifest.webmanifest" in cached and "./" in cached

    manifest = await client.get("/app/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    body = manifest.json()
    assert body["start_url"] == "/app/" and body["display"] == "standalone" and body["lang"] == "zh-CN"
    sizes = {i["sizes"] for i in body["icons"]}
    assert {"192x192", "512x512"} <= sizes
    icon = await client.get("/app/icon-192.png")
    assert icon.headers["content-type"] == "image/png" and icon.content.startswith(b"\x89PNG")

    for missing in ("/app/nope.js", "/app/../pyproject.toml", "/app/assets/", "/app/h5.py"):
        r = await client.get(missing)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", missing


async def test_the_app_is_not_part_of_the_api(client: AsyncTestClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/app")]


def test_the_apps_javascript_fits_its_budget() -> None:
    size = sum(len(gzip.compress(p.read_bytes(), 9)) for p in (SHIPPED / "assets").glob("*.js"))
    print(f"app JavaScript gzipped: {size} B (budget {BUDGET_GZIPPED} B)")
    assert size <= BUDGET_GZIPPED


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_shipped_app_is_a_fresh_build_of_its_sources(tmp_path: Path) -> None:
    """api/h5_app is what `make app` builds from clients/app (and the SDK sources it compiles) with the
    packages of the lockfile; after changing either, run `make app` and commit api/h5_app."""
    app = installed_app()
    run(
        [
            str(app / "node_modules" / ".bin" / "vite"),
            "build",
            "--outDir",
            str(tmp_path / "out"),
            "--emptyOutDir",
            "--logLevel",
            "warn",
        ]
    )
    fresh, shipped = _tree(tmp_path / "out"), _tree(SHIPPED)
    assert sorted(fresh) == sorted(shipped), "the shipped app is stale: run `make app` and commit api/h5_app"
    changed = [name for name in fresh if fresh[name] != shipped[name]]
    assert not changed, f"the shipped app differs from a fresh build in {changed}: run `make app` and commit api/h5_app"
