"""How ``api/app.py`` plugs the e-certificate domain in: routes, the ``esign`` dependency, the lifespan, jobs."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Tag

from api.kernel.domain import Domain
from esign import batches
from esign.routes import (
    certificate as certificate_routes,
    entity_seal as entity_seal_routes,
    holder as holder_routes,
    public as public_routes,
    seal as seal_routes,
    type as type_routes,
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

DOMAIN = Domain(
    name="esign", routes=lambda settings: ROUTES, jobs=JOBS, dependencies=DEPENDENCIES, tags=TAGS,
    start=start, stop=stop,
)

__all__ = ["DEPENDENCIES", "DOMAIN", "JOBS", "ROUTES", "TAGS", "start", "stop"]
