"""``/v1/delegations``: a citizen names a trusted person as 代办人, reads and revokes the authorisation."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from api.deps import Db, Keys, Now
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import Forbidden, Unauthorized, problem_responses
from auth.delegation import flows
from auth.delegation.errors import DelegationInvalid, DelegationNotFound
from auth.delegation.models import CreateDelegation, Delegation, DelegationPage, DelegationUsePage
from auth.errors import AssuranceRequired
from auth.guards import BEARER, CurrentPrincipal, Principal
from auth.persons import HolderMismatch

# Letting someone act for oneself is as sensitive as acting for a dependent: L3 within the last 30 minutes.
GRANT_LEVEL, GRANT_MAX_AGE = "L3", 1800


def _person(principal: Principal) -> UUID:
    """Whose authorisations: the caller's person, or the entity its 法定代表人 acts for (a 经办人 acting for an
    entity sees only their own, as the agent)."""
    principal.require_account()
    me = principal.actor_person_id if principal.is_agent else principal.person_id
    if me is None:
        raise Forbidden("a verified identity is required")
    return me


class DelegationController(Controller):
    path = "/v1/delegations"
    tags = ["delegations"]
    security = BEARER

    @post(
        operation_id="CreateDelegation",
        status_code=201,
        summary="Name a trusted person as 代办人: scoped to matters and actions, expiring, revocable",
        description="L3 within 30 minutes. The agent is named by ID number and name (recorded as a person if new; a "
        "name that is not the known one → 422 `holder_mismatch`). `matters` lists matter or bundle codes "
        "(a bundle covers its matters; `*` every matter); `actions` what the agent may do. The agent "
        "uses it at a service-centre window (showing their own ID card); every use and every refused "
        "attempt is logged (`GET …/uses`), for both sides. Acting for a business entity as its 法定代表人 "
        "(`POST /v1/auth/act-as`), the authorisation is the entity's: its 经办人, who then acts for it "
        "with `act-as` (role `agent`) within the scope; a 经办人 may not give or revoke one (403).",
        responses=problem_responses(DelegationInvalid, HolderMismatch, AssuranceRequired, Forbidden, Unauthorized),
    )
    async def create(
        self, data: JSONBody[CreateDelegation], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Delegation:
        me = _person(principal)
        principal.require_not_agent()
        principal.require_assurance(GRANT_LEVEL, now=now, max_age_seconds=GRANT_MAX_AGE)
        # Acting for an entity as its 法定代表人, the authorisation is the entity's: its 经办人.
        kind = "organisation" if principal.org_id is not None else "person"
        async with db.acquire() as conn, conn.transaction():
            return await flows.create(
                conn, keyring, principal_kind=kind, principal_id=me, actor=principal.subject, data=data, now=now
            )

    @get(operation_id="ListDelegations", summary="Authorisations I gave and those I received, newest first")
    async def list_delegations(
        self,
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> DelegationPage:
        principal.require_account()
        if principal.person_id is None:
            return DelegationPage(items=[])
        me = _person(principal)
        before = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            items = await flows.list_for_person(conn, keyring, me, before=before, limit=limit, now=now)
        return DelegationPage(
            items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None
        )

    @post(
        "/{delegation_id:uuid}/revoke",
        operation_id="RevokeDelegation",
        status_code=200,
        summary="End an authorisation at once (its principal)",
        description="Revoked, the authorisation serves no further use. A 经办人's token acting for an entity "
        "with it (`POST /v1/auth/act-as`) is refused from its next request on, 403 "
        "`delegation_inactive` (within seconds on every server process), not when the token ends.",
        responses=problem_responses(DelegationNotFound, Forbidden, Unauthorized),
    )
    async def revoke(
        self, delegation_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys, state: State, now: Now
    ) -> Delegation:
        me = _person(principal)
        principal.require_not_agent()
        async with db.acquire() as conn, conn.transaction():
            done = await flows.revoke(conn, keyring, delegation_id, person_id=me, actor=principal.subject, now=now)
        # A 经办人's acting token resting on it is refused from the next request on (auth/revocation.py).
        state.revoked_logins.stale()
        return done

    @get(
        "/{delegation_id:uuid}/uses",
        operation_id="ListDelegationUses",
        summary="Every use of an authorisation, and every refused attempt (its principal and its agent)",
        responses=problem_responses(DelegationNotFound, Forbidden, Unauthorized),
    )
    async def list_uses(
        self,
        delegation_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> DelegationUsePage:
        me = _person(principal)
        before = decode_cursor(cursor, int) if cursor else None
        async with db.acquire() as conn:
            found = await flows.uses(conn, delegation_id, person_id=me, before=before, limit=limit)
        return DelegationUsePage(
            items=[u for _, u in found], next_cursor=encode_cursor(found[-1][0]) if len(found) == limit else None
        )


ROUTES = [DelegationController]
