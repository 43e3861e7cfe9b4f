"""Who is calling: the ``principal`` dependency and the checks every domain's routes use.

Declare a parameter ``principal: CurrentPrincipal`` and the request must carry a valid
``Authorization: Bearer <access JWT>`` (401 ``unauthorized`` otherwise). Then ask for what the
route needs::

    @post("/v1/dept/certificates", operation_id="IssueCertificate", security=BEARER,
          responses=problem_responses(Unauthorized, Forbidden, AssuranceRequired))
    async def issue(self, data: IssueIn, principal: CurrentPrincipal, db: Db, now: Now) -> Certificate:
        department_id = principal.require_staff("issuer", scope="certificates:issue")
        ...

- ``require_roles("operator")`` — any of the named roles, else 403 ``forbidden``;
- ``require_staff(role, scope=...)`` — staff holding ``role``, or a department system holding the
  ``scope`` that stands in for it; returns the caller's department id;
- ``require_department(department_id)`` — data of another department is answered 404 (the caller may
  not know it exists); operators pass when ``operator_ok``;
- ``require_account()`` — a person's login, not a department system;
- ``require_assurance("L3", max_age_seconds=300, now=now)`` — 403 ``assurance_required`` naming the
  level (and age) needed, so the client knows which step-up to run.

``MaybePrincipal`` is the same for routes that also serve anonymous callers (``None`` then).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.openapi.spec import SecurityRequirement

from api.deps import FromConnection
from api.kernel.clock import current_time
from api.kernel.problems import Forbidden, NotFound, Unauthorized
from auth.errors import AssuranceRequired, LegalRepChanged, ReservedToPrincipal
from auth.keys import SigningKeys, signed_after_retirement
from auth.tokens import LEEWAY, LEVELS, InvalidToken, decode_access, level_name, unverified_kid

BEARER: list[SecurityRequirement] = [{"bearer": []}]
STAFF_ROLES = frozenset({"clerk", "approver", "issuer", "dept_admin", "window_clerk"})
CLIENT_SCOPES = frozenset(
    {
        "seals:manage",
        "certificates:issue",
        "certificates:revoke",
        "records:write",
        "tasks:handle",
        "consents:use",
        "webhooks:manage",
    }
)


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The verified caller of one request."""

    account_id: UUID | None
    client_id: UUID | None
    person_id: UUID | None
    roles: frozenset[str]
    department_id: UUID | None
    scopes: frozenset[str]
    assurance_level: int  # 1..3 for accounts, 0 for department systems
    auth_time: datetime
    session_id: UUID | None
    token_id: str
    # Acting for a business entity (``org`` claim): ``person_id`` is then the entity's holder id, so
    # every route keyed by "the caller's person" serves the entity; ``actor_person_id`` stays the person.
    org_id: UUID | None = None
    org_role: str | None = None
    actor_person_id: UUID | None = None
    delegation_id: UUID | None = None  # a 经办人's or 代办人's authorisation (``is_agent``)
    # Acting for a person as their 代办人 (``psn`` claim): ``person_id`` is then that person's id.
    for_person_id: UUID | None = None

    @property
    def is_agent(self) -> bool:
        """Acting for an entity as its 经办人, or for a person as their 代办人, under an authorisation."""
        return self.org_role == "agent" or self.for_person_id is not None

    @property
    def subject(self) -> str:
        """How audit entries name this caller (and the entity it acts for)."""
        if self.account_id is None:
            return f"client:{self.client_id}"
        if self.for_person_id:
            return f"account:{self.account_id}@person:{self.for_person_id}"
        return f"account:{self.account_id}" + (f"@org:{self.org_id}" if self.org_id else "")

    def require_not_agent(self) -> None:
        """403 for a 经办人 or 代办人: what only the entity's 法定代表人, or the person themselves, may do."""
        if self.is_agent:
            raise Forbidden("an agent may not do this; the one they act for may")

    def require_own_person(self) -> None:
        """403 ``reserved_to_principal`` for a 代办人 or a 经办人: showing the holder's certificates (亮证), consenting
        for them and exporting their data stay the person's own acts, or the entity's 法定代表人's; an authorisation
        covers applying, 补正 and collecting only (its listed actions)."""
        if self.for_person_id is not None:
            raise ReservedToPrincipal("a 代办人 may not do this for the person", acting="agent_for_person")
        if self.org_role == "agent":
            raise ReservedToPrincipal(
                "a 经办人 may not do this for the entity; its 法定代表人 may", acting="agent_for_org"
            )

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def require_roles(self, *roles: str) -> None:
        if not self.roles.intersection(roles):
            raise Forbidden(f"requires one of the roles: {', '.join(roles)}", required_roles=list(roles))

    def require_account(self) -> UUID:
        if self.account_id is None:
            raise Forbidden("a person's login is required, not a department system")
        return self.account_id

    def require_staff(self, role: str, *, scope: str | None = None) -> UUID:
        """Staff with ``role`` (or a client holding ``scope``); return the caller's department."""
        if self.department_id is not None:
            if self.client_id is not None and scope is not None and scope in self.scopes:
                return self.department_id
            if self.account_id is not None and "staff" in self.roles and role in self.roles:
                return self.department_id
        if scope:
            raise Forbidden(
                f"requires the staff role {role} or the scope {scope}", required_roles=[role], required_scope=scope
            )
        raise Forbidden(f"requires the staff role {role}", required_roles=[role])

    def require_department(self, department_id: UUID, *, operator_ok: bool = False) -> None:
        if operator_ok and "operator" in self.roles:
            return
        if self.department_id != department_id:
            raise NotFound()

    def require_assurance(self, level: str, *, now: datetime, max_age_seconds: int | None = None) -> None:
        """At least ``level`` ("L2"/"L3"), proven within ``max_age_seconds`` when given."""
        needed = LEVELS[level]
        fresh = max_age_seconds is None or (now - self.auth_time).total_seconds() <= max_age_seconds
        if self.assurance_level < needed or not fresh:
            why = f"requires assurance {level}" + (f" proven within {max_age_seconds}s" if max_age_seconds else "")
            if max_age_seconds is not None:
                raise AssuranceRequired(why, required_level=level, max_age_seconds=max_age_seconds)
            raise AssuranceRequired(why, required_level=level)

    @property
    def assurance(self) -> str | None:
        return level_name(self.assurance_level) if self.assurance_level else None


def _uuid(value: str | None) -> UUID | None:
    return UUID(value) if value else None


def _unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": 'Bearer realm="zhangban"'})


async def authenticate(request: ASGIConnection[Any, Any, Any, Any], *, required: bool = True) -> Principal | None:
    """Verify the bearer token of ``request`` (an HTTP request or a WebSocket); 401 ``unauthorized`` when it is missing or bad."""
    # Straight from the ASGI scope: building Litestar's Headers for one value costs more than the check.
    header = next((v.decode("latin-1") for k, v in request.scope["headers"] if k == b"authorization"), "")
    scheme, _, token = header.partition(" ")
    if not header:
        if required:
            raise _unauthorized("missing bearer token")
        return None
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    state = request.app.state
    now = current_time(state)
    keys: SigningKeys = state.signing_keys
    token = token.strip()
    verified = state.get("verified_tokens")
    if verified is None:
        verified = state.verified_tokens = VerifiedTokens()
    known = verified.get(token)
    if known is not None:
        # Only expiry, the key's standing and the login's can change for a token already verified.
        principal, kid, iat, exp = known
        if exp + LEEWAY > now.timestamp():
            key = await keys.verification_key(kid, now=now)
            if key is not None and not signed_after_retirement(key, iat):
                return await _still_logged_in(state, principal, now)
        raise _unauthorized("the access token is invalid or expired")
    try:
        kid = unverified_kid(token)
        key = await keys.verification_key(kid, now=now)
        if key is None:
            raise InvalidToken("unknown kid")
        c = decode_access(token, key.public_key, issuer=state.settings.base_url, now=now)
        if signed_after_retirement(key, c.iat):
            raise InvalidToken("signed by a retired key after its retirement")
        client = c.client_id is not None
        org = _uuid(c.org)
        for_person = None if org else _uuid(c.psn)
        principal = Principal(
            account_id=None if client else UUID(c.sub),
            client_id=_uuid(c.client_id),
            person_id=org or for_person or _uuid(c.pid),
            org_id=org,
            org_role=c.org_role if org else None,
            actor_person_id=_uuid(c.pid),
            delegation_id=_uuid(c.dlg) if org or for_person else None,
            for_person_id=for_person,
            roles=frozenset(c.roles),
            department_id=_uuid(c.dept),
            scopes=frozenset((c.scope or "").split()),
            assurance_level=LEVELS.get(c.acr or "", 0),
            auth_time=datetime.fromtimestamp(c.auth_time, UTC),
            session_id=_uuid(c.sid),
            token_id=c.jti,
        )
    except (InvalidToken, ValueError):
        raise _unauthorized("the access token is invalid or expired") from None
    verified.put(token, (principal, kid, c.iat, c.exp))
    return await _still_logged_in(state, principal, now)


async def _still_logged_in(state: Any, principal: Principal, now: datetime) -> Principal:
    revoked = state.get("revoked_logins")
    if (
        principal.session_id is not None
        and revoked is not None
        and await revoked.contains(principal.session_id, now=now)
    ):
        raise _unauthorized("this login has ended (signed out or revoked)")
    if (
        principal.client_id is not None
        and revoked is not None
        and await revoked.contains_client(principal.client_id, now=now)
    ):
        raise _unauthorized("this department client has been revoked")
    if (
        principal.delegation_id is not None
        and revoked is not None
        and await revoked.contains_delegation(principal.delegation_id, now=now)
    ):
        from auth.delegation.errors import DelegationInactive

        raise DelegationInactive("the authorisation is revoked", reason="revoked")
    if (
        principal.org_id is not None
        and principal.org_role == "legal_representative"
        and revoked is not None
        and await revoked.contains_former_legal_rep(principal.org_id, principal.actor_person_id, now=now)
    ):
        raise LegalRepChanged("the registry names another legal representative of this entity")
    return principal


class VerifiedTokens:
    """Access tokens this process already verified, newest last, at most ``size`` of them.

    A client repeats one access token for its whole life (15 minutes), and checking its ES256
    signature and decoding its claims is most of the CPU a small read costs, so each token is
    verified once per process. Nothing else about a token can change: its claims are signed.
    """

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[Principal, str, int, int]] = OrderedDict()

    def get(self, token: str) -> tuple[Principal, str, int, int] | None:
        return self._items.get(token)

    def put(self, token: str, value: tuple[Principal, str, int, int]) -> None:
        self._items[token] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)


async def _provide_principal(request: Request) -> Principal:
    principal = await authenticate(request)
    assert principal is not None
    return principal


async def _provide_maybe_principal(request: Request) -> Principal | None:
    return await authenticate(request, required=False)


CurrentPrincipal = NamedDependency[Principal]
MaybePrincipal = NamedDependency[Principal | None]

DEPENDENCIES = {
    "principal": FromConnection(_provide_principal, refuses=True),
    "maybe_principal": FromConnection(_provide_maybe_principal, refuses=True),
}
