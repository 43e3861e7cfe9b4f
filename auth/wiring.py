"""How ``api/app.py`` plugs identity in: route handlers, the ``principal`` dependencies, the lifespan."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Tag

from api.config import Settings
from auth import admin_routes, realname_routes, routes, token_routes
from auth.guards import DEPENDENCIES
from auth.me_routes import dev_sms, me
from auth.state import start, stop

TAGS = [
    Tag(name="auth", description="Logins (WeChat mini-program, SMS, department systems), tokens, `/v1/me`"),
    Tag(name="realname", description="Real-person authentication (实人认证): assurance levels L1–L3"),
    Tag(name="admin", description="Operators: departments, clients, staff, identity providers, audit"),
]


def route_handlers(settings: Settings) -> list[Any]:
    """Every identity route; the SMS inbox exists only with the ``sink`` provider."""
    handlers: list[Any] = [
        *routes.ROUTES, *token_routes.ROUTES, *admin_routes.ROUTES, *realname_routes.ROUTES, me,
    ]
    if settings.sms_provider == "sink":
        handlers.append(dev_sms)
    return handlers


__all__ = ["DEPENDENCIES", "TAGS", "route_handlers", "start", "stop"]
