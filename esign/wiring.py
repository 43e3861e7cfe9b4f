"""How ``api/app.py`` plugs the e-certificate domain in: routes, the ``esign`` dependency, the lifespan, jobs."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Tag

from api.kernel.domain import Domain
from api.kernel.jobs import Job, now_of
from esign import devices
from esign.batch import jobs as batches
from esign.http import DEPENDENCIES
from esign.routes import (
    certificate as certificate_routes,
)
from esign.routes import (
    device as device_routes,
)
from esign.routes import (
    entity_seal as entity_seal_routes,
)
from esign.routes import (
    holder as holder_routes,
)
from esign.routes import (
    public as public_routes,
)
from esign.routes import (
    seal as seal_routes,
)
from esign.routes import (
    type as type_routes,
)
from esign.state import start, stop

TAGS = [
    Tag(name="seals", description="Departments' electronic seals (电子印章): keys, certificates, rotation"),
    Tag(name="certificates", description="Issuing, revoking and reading electronic certificates (电子证照)"),
    Tag(name="verification", description="Public: trust list, status lists, token verification, the verification page"),
    Tag(name="devices", description="Holders' device keys for presentations made offline (ZB2:)"),
]

ROUTES: list[Any] = [
    *seal_routes.ROUTES,
    *certificate_routes.ROUTES,
    *holder_routes.ROUTES,
    *public_routes.ROUTES,
    *type_routes.ROUTES,
    *entity_seal_routes.ROUTES,
    *device_routes.ROUTES,
]


async def refresh_credentials(state: Any) -> None:
    """Devices' presentation credentials: issue the missing, re-issue the expiring, withdraw the invalid."""
    async with state.pool.acquire() as conn, conn.transaction():
        await devices.refresh(conn, state.esign, now=now_of(state))


JOBS = [*batches.JOBS, Job("esign.device_credentials", refresh_credentials, every=600)]

DOMAIN = Domain(
    name="esign",
    routes=lambda settings: ROUTES,
    jobs=JOBS,
    dependencies=DEPENDENCIES,
    tags=TAGS,
    start=start,
    stop=stop,
)

__all__ = ["DEPENDENCIES", "DOMAIN", "JOBS", "ROUTES", "TAGS", "start", "stop"]
