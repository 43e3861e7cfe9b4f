"""The staff workbench (``clients/workbench``) at ``/workbench``: its built files, shipped inside this package.

Served as the citizen app is (:mod:`api.h5`: the same file table, caching and page headers);
``api/workbench_app/`` is the output of ``make workbench``, committed so ``make run`` needs no Node.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect

from api import h5

ROOT = Path(__file__).resolve().parent / "workbench_app"


@get("/workbench", include_in_schema=False, sync_to_thread=False)
def workbench_page(request: Request) -> Response[bytes] | Redirect:
    """The workbench's page; ``/workbench`` without the slash moves to ``/workbench/``."""
    if not request.scope.get("raw_path", b"/").endswith(b"/"):
        return Redirect("/workbench/", status_code=308)
    return h5.answer("index.html", request, ROOT)


@get("/workbench/{name:path}", include_in_schema=False, sync_to_thread=False)
def workbench_file(name: FromPath[str], request: Request) -> Response[bytes]:
    """One built file of the workbench; anything else is 404 ``not_found``."""
    return h5.answer(name.lstrip("/") or "index.html", request, ROOT)


ROUTES = [workbench_page, workbench_file]
