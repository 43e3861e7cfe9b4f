"""How ``api/app.py`` plugs the e-certificate domain in: routes, the ``esign`` dependency, the lifespan, jobs."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Tag

from esign import (
    batches,
    certificate_routes,
    entity_seal_routes,
    holder_routes,
    public_routes,
    seal_routes,
    type_routes,
)
from esign.http import DEPENDENCIES
from esign.state import start, stop

TAGS = [
    Tag(name="seals", description="Departments' electronic seals (电子印章): keys, certificates, rotation"),
    Tag(name="certificates", description="Issuing, revoking and reading electronic certificates (电子证照)"),
    Tag(name="verification", description="Public: trust list, status lists, token verification, the verification page"),
]

ROUTES: list[Any] = [
    *seal_routes.ROUTES, *certificate_routes.ROUTES, *holder_routes.ROUTES, *public_routes.ROUTES,
    *type_routes.ROUTES, *entity_seal_routes.ROUTES,
]

JOBS = batches.JOBS

__all__ = ["DEPENDENCIES", "JOBS", "ROUTES", "TAGS", "start", "stop"]
