"""The citizen app (掌办 H5, ``clients/app``) at ``/app``: its built files, shipped inside this package.

``api/h5_app/`` is the output of ``make app`` (Vite), committed so that ``make run`` serves the app on a
machine without Node; a test rebuilds it from the sources and the lockfile and compares. Files under
``assets/`` carry a content hash in their names and are cached for a year; the page, the service worker
and the manifest are revalidated on every load (``no-cache`` with an ETag), so a release reaches phones
on their next visit. None of these routes is part of the API (they are left out of the OpenAPI).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect

from api.kernel.problems import NotFound

ROOT = Path(__file__).resolve().parent / "h5_app"
TYPES = {
    ".html": "text/html",  # text/* go out with "; charset=utf-8"
    ".js": "text/javascript",
    ".css": "text/css",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
IMMUTABLE = "public, max-age=31536000, immutable"
# The page talks only to this origin (the API, its WebSocket, blobs it shows as blob: URLs).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


@cache
def files(root: Path = ROOT) -> dict[str, tuple[bytes, str]]:
    """Every shipped file of a built app by its path under the app's root, read once: content and strong ETag."""
    if not root.is_dir():
        return {}
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in TYPES:
            body = path.read_bytes()
            out[path.relative_to(root).as_posix()] = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return out


def answer(name: str, request: Request, root: Path = ROOT) -> Response[bytes]:
    """One built file of an app under ``root``: hashed assets cached for a year, the rest revalidated."""
    found = files(root).get(name)
    if found is None:
        raise NotFound()
    body, etag = found
    suffix = Path(name).suffix
    headers = {"X-Content-Type-Options": "nosniff"}
    if name.startswith("assets/"):
        headers["Cache-Control"] = IMMUTABLE
    else:
        headers |= {"Cache-Control": "no-cache", "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=304, headers=headers)
    if suffix == ".html":
        headers |= {"Content-Security-Policy": PAGE_CSP, "Referrer-Policy": "no-referrer"}
    if name == "sw.js":
        headers["Service-Worker-Allowed"] = "/app/"
    return Response(body, media_type=TYPES[suffix], headers=headers)


@get("/app", include_in_schema=False, sync_to_thread=False)
def app_page(request: Request) -> Response[bytes] | Redirect:
    """The app's page; ``/app`` without the slash moves to ``/app/``, the service worker's scope."""
    if not request.scope.get("raw_path", b"/").endswith(b"/"):
        return Redirect("/app/", status_code=308)
    return answer("index.html", request)


@get("/app/{name:path}", include_in_schema=False, sync_to_thread=False)
def app_file(name: FromPath[str], request: Request) -> Response[bytes]:
    """One built file of the app; anything else is 404 ``not_found``."""
    return answer(name.lstrip("/") or "index.html", request)


ROUTES = [app_page, app_file]
