"""Catalogue routes: matters (事项), bundles (一件事) and certificate types. Public reads (the operators' PUTs: admin_routes)."""

from __future__ import annotations

import time
from typing import Annotated, Any, cast
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get
from litestar.enums import MediaType
from litestar.params import PathParameter, QueryParameter

from api.deps import Db
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import problem_responses
from matters import store
from matters.admin_routes import ROUTES as ADMIN_ROUTES
from matters.authority_routes import ROUTES as AUTHORITY_ROUTES
from matters.errors import BundleNotFound, MatterNotFound
from matters.models import Bundle, BundlePage, CertificateTypePage, Matter, MatterPage

# `zhangban seed` and the operators' PUTs (admin_routes) change the catalogue; each server process keeps
# a bundle it built (three queries and the merging of every matter's form and materials) this long
# before building it again. A PUT drops what the process that handled it had built.
BUNDLE_TTL = 60.0


def _next(items: list, limit: int, key: str) -> str | None:
    return encode_cursor(getattr(items[-1], key)) if len(items) == limit else None


class MatterController(Controller):
    path = "/v1/matters"
    tags = ["catalogue"]

    @get(operation_id="ListMatters", summary="Search the catalogue of matters (事项)")
    async def list_matters(
        self,
        db: Db,
        q: Annotated[
            str | None, QueryParameter(max_length=100, description="Text in the matter's name, or its code.")
        ] = None,
        department_id: Annotated[UUID | None, QueryParameter(description="Only this department's matters.")] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> MatterPage:
        after = decode_cursor(cursor, str) if cursor else None
        async with db.acquire() as conn:
            items = await store.list_matters(conn, q=q or None, department_id=department_id, after=after, limit=limit)
        return MatterPage(items=items, next_cursor=_next(items, limit, "code"))

    @get(
        "/{code:str}",
        operation_id="GetMatter",
        summary="One matter with its service guide (办事指南)",
        responses=problem_responses(MatterNotFound),
    )
    async def get_matter(self, db: Db, code: Annotated[str, PathParameter(max_length=64)]) -> Matter:
        async with db.acquire() as conn:
            return await store.get_matter(conn, code)


class BundleController(Controller):
    path = "/v1/bundles"
    tags = ["catalogue"]

    @get(operation_id="ListBundles", summary="Bundled life events (一件事) with merged forms and materials")
    async def list_bundles(self, db: Db, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> BundlePage:
        after = decode_cursor(cursor, str) if cursor else None
        async with db.acquire() as conn:
            items = await store.list_bundles(conn, after=after, limit=limit)
        return BundlePage(items=items, next_cursor=_next(items, limit, "code"))

    @get(
        "/{code:str}",
        operation_id="GetBundle",
        summary="One bundle: its matters, the merged de-duplicated form and materials, and burden stats",
        description=(
            "`stats.materials_before` counts materials as if each matter were applied for alone; "
            "`materials_after` the merged set; `uploads_typical` the required materials left to upload when the "
            "wallet holds the usual identity documents (ID card, household register, marriage certificate), "
            "departments share what they hold, and earlier matters of the bundle produce the rest. Each server "
            "process serves a bundle it built for up to a minute, so a catalogue refresh shows within a minute."
        ),
        responses=problem_responses(BundleNotFound),
    )
    async def get_bundle(
        self, request: Request[Any, Any, Any], db: Db, code: Annotated[str, PathParameter(max_length=64)]
    ) -> Response[Bundle]:
        built: dict[str, tuple[float, bytes]] = request.app.state.setdefault("built_bundles", {})
        hit = built.get(code)
        if hit is None or hit[0] <= time.monotonic():
            async with db.acquire() as conn:
                bundle = await store.get_bundle(conn, code)
            hit = built[code] = (time.monotonic() + BUNDLE_TTL, msgspec.json.encode(bundle))
        # The Bundle's JSON, encoded once and sent as it is; the annotation gives the OpenAPI document its schema.
        return Response(cast(Bundle, hit[1]), media_type=MediaType.JSON)


class CertificateTypeController(Controller):
    path = "/v1/certificate-types"
    tags = ["catalogue"]

    @get(operation_id="ListCertificateTypes", summary="Certificate types (证照类型) and their field schemas")
    async def list_types(self, db: Db, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> CertificateTypePage:
        after = decode_cursor(cursor, str) if cursor else None
        async with db.acquire() as conn:
            items = await store.list_certificate_types(conn, after=after, limit=limit)
        return CertificateTypePage(items=items, next_cursor=_next(items, limit, "code"))


ROUTES = [MatterController, BundleController, CertificateTypeController, *ADMIN_ROUTES, *AUTHORITY_ROUTES]
