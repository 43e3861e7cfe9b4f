"""The API documentation page at ``/schema``, served whole by the service itself.

Swagger UI's files come from the ``swagger-ui-py`` package and are answered under
``/schema/assets/``; the page names nothing on another origin, so it works on a machine without
internet (a government intranet, a laptop on a train).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Response, get
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import FromPath
from litestar.router import Router

from api.kernel.problems import NotFound

ASSETS = "/schema/assets"
# name → media type: only what the page loads.
_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def _static_dir() -> Path:
    # Found without importing the package: its __init__ pulls in web-framework adapters we do not use.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@cache
def _read(name: str) -> bytes:
    return (_static_dir() / name).read_bytes()


@get("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
def asset(name: FromPath[str]) -> Response[bytes]:
    """One of the page's files; anything else is 404 ``not_found``."""
    media_type = _FILES.get(name)
    if media_type is None:
        raise NotFound()
    # A day: a new package version reaches browsers by the next day at the latest.
    return Response(_read(name), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})


class OfflineSwaggerUI(SwaggerRenderPlugin):
    """Swagger UI whose script, style sheet and icon are this service's own ``/schema/assets/*``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            js_url=f"{ASSETS}/swagger-ui-bundle.js",
            css_url=f"{ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
            **kwargs,
        )

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        router.register(asset)
