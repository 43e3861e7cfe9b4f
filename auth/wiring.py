"""How ``api/app.py`` plugs identity in: route handlers, the ``principal`` dependencies, the lifespan."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Tag

from api.config import Settings
from api.kernel.domain import Domain
from auth.delegation import ROUTES as DELEGATION_ROUTES
from auth.guards import DEPENDENCIES
from auth.jobs import JOBS
from auth.routes import (
    access as access_routes,
)
from auth.routes import (
    admin as admin_routes,
)
from auth.routes import (
    case as case_routes,
)
from auth.routes import (
    login as routes,
)
from auth.routes import (
    not_me as not_me_routes,
)
from auth.routes import (
    org as org_routes,
)
from auth.routes import (
    realname as realname_routes,
)
from auth.routes import (
    token as token_routes,
)
from auth.routes import (
    totp as totp_routes,
)
from auth.routes.me import dev_sms, me
from auth.state import start, stop

TAGS = [
    Tag(
        name="auth",
        description=(
            "Logins (WeChat mini-program, SMS, department systems), tokens and `/v1/me`. Access tokens are ES256 "
            "JWTs valid 15 minutes, with `kid` in the header (keys at `/.well-known/jwks.json`) and the claims "
            "`iss`, `sub` (account id; a department system's client id), `iat`, `exp`, `jti`, `roles` (`citizen`, "
            "`operator`; staff add `staff` and `clerk`/`approver`/`issuer`/`dept_admin`; systems have "
            "`dept_client`), `acr` (`L1`/`L2`/`L3`), `auth_time` (when that level was last proven), `pid` (person "
            "id), `dept` (department of staff and systems), `scope` and `client_id` (systems), `sid` (the login "
            "that logout revokes), `org` and `org_role` (the business entity the caller acts for) or `psn` (the person a 代办人 acts for), from "
            "`POST /v1/auth/act-as`), `amr` (how the login was proven: `sms`/`wechat`, and `otp` `mfa` once staff passed "
            "their second factor). Staff log in with two factors: their tokens carry staff roles only after a TOTP code "
            "(`POST /v1/auth/totp/verify`; see `second_factor` in the token pair). Refresh tokens are opaque, live 30 days and rotate on every use. "
            "401 `unauthorized` for a missing, expired or invalid token; 403 `forbidden` for a missing role or "
            "scope; 403 `assurance_required` (with `required_level`, `max_age_seconds`) for a needed step-up."
        ),
    ),
    Tag(
        name="realname",
        description=(
            "Real-person authentication (实人认证). Assurance levels: `L1` phone or WeChat login; `L2` name and "
            "ID number confirmed by an authority (identity-provider assertion with `acr` L2); `L3` face matched "
            "(WeChat face verification, or an L3 assertion) or seen in person by a window clerk. One ID number is "
            "one person, whichever accounts prove it. Each login bound to an identity (a login of an account "
            "that has one, or the proof that gives it one) is told to the person (`auth.identity_login`: inbox, "
            'SMS, WeChat) with a one-tap "not me" that ends it and opens an identity case for the operators.'
        ),
    ),
    Tag(name="admin", description="Operators: departments, clients, staff, identity providers, identity cases, audit"),
]


def route_handlers(settings: Settings) -> list[Any]:
    """Every identity route; the SMS inbox exists only with the ``sink`` provider, in development."""
    handlers: list[Any] = [
        *routes.ROUTES,
        *token_routes.ROUTES,
        *admin_routes.ROUTES,
        *access_routes.ROUTES,
        *realname_routes.ROUTES,
        *not_me_routes.ROUTES,
        *case_routes.ROUTES,
        *org_routes.ROUTES,
        *totp_routes.ROUTES,
        me,
        *DELEGATION_ROUTES,
    ]
    if settings.sms_provider == "sink" and not settings.production:
        handlers.append(dev_sms)
    return handlers


DOMAIN = Domain(
    name="auth", routes=route_handlers, jobs=JOBS, dependencies=DEPENDENCIES, tags=TAGS, start=start, stop=stop
)

__all__ = ["DEPENDENCIES", "DOMAIN", "TAGS", "route_handlers", "start", "stop"]
