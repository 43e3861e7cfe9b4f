"""Acting for a business entity (经营主体): which ones the caller may act for, and the switch.

A verified person (L2 or above) acts for an entity as its 法定代表人 when the registry — the 营业执照 that
市场监管 issued or pushed — names their identity as its legal representative (``api.orgs``). The switch
``POST /v1/auth/act-as`` answers an access token of the same login with the claims ``org`` and
``org_role``; with it, every route that means "the caller's person" means the entity (its wallet, its
applications, its consents, its change log), and another entity's data answers 404 as another
person's does. The refresh token is unchanged and refreshes into the person's own token, so acting for
an entity lasts one access token (15 minutes) at most and is asked for again, checked again each time.
"""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

import msgspec

from api import audit, orgs
from api.deps import Config, Db, Now
from api.identifiers import normalize_credit_code
from api.problems import Forbidden, NotFound, Unauthorized
from auth import service, store
from auth.errors import AssuranceRequired, problem_responses
from auth.guards import BEARER, CurrentPrincipal, Principal
from auth.keys import ACCESS_TTL
from auth.models import ActAsIn, ActingToken, Organisation, OrganisationList
from auth.tokens import encode_access

LEGAL_REPRESENTATIVE = "legal_representative"


def _person(principal: Principal) -> UUID:
    """The person behind the caller (never an entity): L2 at least, a person's login."""
    principal.require_account()
    if principal.actor_person_id is None:
        raise AssuranceRequired("requires assurance L2", required_level="L2")
    return principal.actor_person_id


def _view(org: orgs.Org) -> Organisation:
    return Organisation(id=org.id, credit_code=org.credit_code, name=org.name, status=org.status,
                        role=LEGAL_REPRESENTATIVE)


class OrganisationController(Controller):
    path = "/v1/auth"
    tags = ["auth"]
    security = BEARER

    @get("/organisations", operation_id="ListMyOrganisations",
         summary="Business entities the caller may act for (as 法定代表人)",
         description=(
             "The entities whose registry (the 营业执照 issued or pushed by 市场监管) names the caller's verified "
             "identity as legal representative; the ID numbers are compared by blind index, never shown. Closed "
             "entities (注销) stay listed: their wallet is kept, read only."
         ),
         responses=problem_responses(Unauthorized, Forbidden, AssuranceRequired))
    async def list_organisations(self, principal: CurrentPrincipal, db: Db, now: Now) -> OrganisationList:
        principal.require_assurance("L2", now=now)
        person_id = _person(principal)
        async with db.acquire() as conn:
            found = await orgs.list_represented(conn, person_id)
        return OrganisationList(items=[_view(o) for o in found])

    @post("/act-as", operation_id="ActAs", status_code=200,
          summary="Switch to acting for a business entity (or back to oneself)",
          description=(
              "Answers an access token of the same login carrying `org` (the entity's id) and `org_role` "
              "(`legal_representative`). With it, every route that serves \"the caller's person\" serves the "
              "entity: `/v1/wallet/*`, `/v1/applications`, `/v1/sync/*`, consents and the access log; another "
              "entity's data answers 404. `pid` still names the person, and audit entries name both. "
              "`credit_code: null` answers the person's own token. An entity the caller may not act for answers "
              "404 `not_found`, whether or not it exists. Needs L2 (a verified identity)."
          ),
          responses=problem_responses(Unauthorized, Forbidden, AssuranceRequired, NotFound))
    async def act_as(self, data: JSONBody[ActAsIn], principal: CurrentPrincipal, state: State, db: Db,
                     settings: Config, now: Now) -> ActingToken:
        principal.require_assurance("L2", now=now)
        person_id = _person(principal)
        account_id = principal.require_account()
        async with db.acquire() as conn, conn.transaction():
            account = await store.get_account(conn, account_id)
            if account is None or account.person_id != person_id:
                raise Unauthorized("the account no longer exists")
            org = None
            if data.credit_code is not None:
                org = await orgs.get_org_by_credit_code(conn, normalize_credit_code(data.credit_code))
                if org is None or not await orgs.is_legal_rep(conn, org.id, person_id):
                    raise NotFound()
                await audit.append(conn, actor=f"account:{account_id}", action="auth.act_as", subject=str(org.id),
                                   data={"role": LEGAL_REPRESENTATIVE, "credit_code": org.credit_code}, at=now)
            # Staff roles stay with the person's own token: one acts for an entity as a citizen.
            claims = service.account_claims(account, None, session_id=principal.session_id,
                                            login_time=principal.auth_time, issuer=settings.base_url, now=now)
        if org is not None:
            claims = msgspec.structs.replace(claims, org=str(org.id), org_role=LEGAL_REPRESENTATIVE)
        keys = await state.signing_keys.for_signing(now=now)
        return ActingToken(access_token=encode_access(claims, keys.active), expires_in=ACCESS_TTL,
                           organisation=_view(org) if org else None)


ROUTES = [OrganisationController]
