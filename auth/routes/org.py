"""Acting for a business entity (经营主体) or, as their 代办人, for a person: whom the caller may act for, and the switch.

A verified person (L2 or above) acts for an entity as its 法定代表人 when the registry — the 营业执照 that
市场监管 issued or pushed — names their identity as its legal representative (``auth.orgs``), or as its
经办人 while an authorisation the 法定代表人 gave them (``auth.delegation``, principal the entity) is active:
the token then carries ``org_role: agent`` and ``dlg``, ends when the authorisation does (and is refused from
the next request on when it is revoked: ``auth.revocation``), and each act it
is used for (an application) is checked against the authorisation's scope and logged there. The switch
``POST /v1/auth/act-as`` answers an access token of the same login with the claims ``org`` and
``org_role``; with it, every route that means "the caller's person" means the entity (its wallet, its
applications, its consents, its change log), and another entity's data answers 404 as another
person's does. The refresh token is unchanged and refreshes into the person's own token, so acting for
an entity lasts one access token (15 minutes) at most and is asked for again, checked again each time.

A person's 代办人 (a trusted family member the person authorised, ``auth.delegation`` with a person as
principal) switches the same way with ``person_id``: the token carries ``psn`` and ``dlg`` instead of
``org``, and each switch is logged as a use in the person's access log.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.deps import Config, Db, Keys, Now
from api.kernel import audit
from api.kernel.crypto import mask_name
from api.kernel.identifiers import normalize_credit_code
from api.kernel.problems import FieldError, Forbidden, NotFound, Unauthorized, ValidationFailed
from auth import delegation, orgs, persons
from auth import flows as service
from auth.delegation.errors import DelegationInactive, DelegationNotFound
from auth.errors import AssuranceRequired, problem_responses
from auth.guards import BEARER, CurrentPrincipal, Principal
from auth.models import ActAsIn, ActingForPerson, ActingToken, Organisation, OrganisationList, OrgRole
from auth.store import accounts as store
from auth.tokens import encode_access

LEGAL_REPRESENTATIVE: OrgRole = "legal_representative"
AGENT: OrgRole = "agent"


def _person(principal: Principal) -> UUID:
    """The person behind the caller (never an entity): L2 at least, a person's login."""
    principal.require_account()
    if principal.actor_person_id is None:
        raise AssuranceRequired("requires assurance L2", required_level="L2")
    return principal.actor_person_id


def _view(org: orgs.Org, grant: Any = None) -> Organisation:
    if grant is None:
        return Organisation(
            id=org.id, credit_code=org.credit_code, name=org.name, status=org.status, role=LEGAL_REPRESENTATIVE
        )
    return Organisation(
        id=org.id,
        credit_code=org.credit_code,
        name=org.name,
        status=org.status,
        role=AGENT,
        delegation_id=grant["id"],
        expires_at=grant["expires_at"],
    )


AGENT_OF = """
SELECT DISTINCT ON (d.principal_id) d.principal_id, d.id, d.expires_at
FROM delegation d
WHERE d.principal_kind = 'organisation' AND d.agent_person_id = $1 AND d.revoked_at IS NULL AND d.expires_at > $2
ORDER BY d.principal_id, d.expires_at DESC
"""


class OrganisationController(Controller):
    path = "/v1/auth"
    tags = ["auth"]
    security = BEARER

    @get(
        "/organisations",
        operation_id="ListMyOrganisations",
        summary="Business entities the caller may act for (as 法定代表人 or 经办人)",
        description=(
            "The entities whose registry (the 营业执照 issued or pushed by 市场监管) names the caller's verified "
            "identity as legal representative; the ID numbers are compared by blind index, never shown. Closed "
            "entities (注销) stay listed: their wallet is kept, read only. Entities whose 法定代表人 authorised the caller "
            "as 经办人 are listed with `role: agent`, the authorisation and its end, while it is active."
        ),
        responses=problem_responses(Unauthorized, Forbidden, AssuranceRequired),
    )
    async def list_organisations(self, principal: CurrentPrincipal, db: Db, now: Now) -> OrganisationList:
        principal.require_assurance("L2", now=now)
        person_id = _person(principal)
        async with db.acquire() as conn:
            found = [_view(o) for o in await orgs.list_represented(conn, person_id)]
            for grant in await conn.fetch(AGENT_OF, person_id, now):
                org = await orgs.get_org(conn, grant["principal_id"])
                if org is not None and org.id not in {o.id for o in found}:
                    found.append(_view(org, {"id": grant["id"], "expires_at": grant["expires_at"]}))
        return OrganisationList(items=found)

    @post(
        "/act-as",
        operation_id="ActAs",
        status_code=200,
        summary="Switch to acting for a business entity or a person who named the caller 代办人 (or back to oneself)",
        description=(
            "Answers an access token of the same login carrying `org` (the entity's id) and `org_role` "
            "(`legal_representative`, or `agent` for a 经办人 whose authorisation from the entity is active — the token "
            "then also carries `dlg`, the authorisation, and ends when it does; revoked, the token is refused from its "
            'next request on, 403 `delegation_inactive`). With it, every route that serves "the caller\'s person" serves the '
            "entity: `/v1/wallet/*`, `/v1/applications`, `/v1/sync/*`, consents and the access log; another "
            "entity's data answers 404. `pid` still names the person, and audit entries name both. "
            "`credit_code: null` answers the person's own token. An entity the caller may not act for answers "
            "404 `not_found`, whether or not it exists; a 经办人 whose authorisation expired or was revoked, 403 "
            "`delegation_inactive`. Needs L2 (a verified identity). A 经办人's applications are checked against the "
            "authorisation's matters and actions and logged in its uses. "
            "`person_id` instead: a 代办人 acts for the person who authorised them (a trusted family member, the same "
            "model): the token carries `psn` (that person) and `dlg`, ends when the authorisation does, and serves "
            "that person's wallet, applications and sync; applying and 补正 are checked against the scope. The "
            "switch and every use — refused ones too — appear in the person's access log "
            "(`GET /v1/wallet/access-log`, with `delegation_id`) and the authorisation's uses. No authorisation → "
            "404; expired or revoked → 403 `delegation_inactive`."
        ),
        responses=problem_responses(
            Unauthorized, Forbidden, AssuranceRequired, NotFound, DelegationInactive, ValidationFailed
        ),
    )
    async def act_as(
        self,
        data: JSONBody[ActAsIn],
        principal: CurrentPrincipal,
        state: State,
        db: Db,
        keyring: Keys,
        settings: Config,
        now: Now,
    ) -> ActingToken:
        principal.require_assurance("L2", now=now)
        person_id = _person(principal)
        account_id = principal.require_account()
        if data.person_id is not None:
            if data.credit_code is not None:
                raise ValidationFailed(errors=[FieldError("person_id", "act for an entity or a person, not both")])
            return await _for_person(data.person_id, principal, state, db, keyring, settings, now)
        async with db.acquire() as conn, conn.transaction():
            account = await store.get_account(conn, account_id)
            if account is None or account.person_id != person_id:
                raise Unauthorized("the account no longer exists")
            org, grant = None, None
            if data.credit_code is not None:
                org = await orgs.get_org_by_credit_code(conn, normalize_credit_code(data.credit_code))
                if org is None:
                    raise NotFound()
                if not await orgs.is_legal_rep(conn, org.id, person_id):
                    try:
                        grant = await delegation.active_grant(
                            conn, principal_kind="organisation", principal_id=org.id, agent_person_id=person_id, now=now
                        )
                    except DelegationNotFound:
                        raise NotFound() from None  # the same answer as for an entity that does not exist
                await audit.append(
                    conn,
                    actor=f"account:{account_id}",
                    action="auth.act_as",
                    subject=str(org.id),
                    data={
                        "role": AGENT if grant else LEGAL_REPRESENTATIVE,
                        "credit_code": org.credit_code,
                        "delegation": str(grant["id"]) if grant else None,
                    },
                    at=now,
                )
            # Staff roles stay with the person's own token: one acts for an entity as a citizen.
            claims = service.account_claims(
                account,
                None,
                session_id=principal.session_id,
                login_time=principal.auth_time,
                issuer=settings.base_url,
                now=now,
            )
        if org is not None and grant is None:
            claims = msgspec.structs.replace(claims, org=str(org.id), org_role=LEGAL_REPRESENTATIVE)
        elif org is not None and grant is not None:
            # A 经办人's token ends when the authorisation does, whichever comes first.
            exp = min(claims.exp, int(grant["expires_at"].timestamp()))
            claims = msgspec.structs.replace(claims, org=str(org.id), org_role=AGENT, dlg=str(grant["id"]), exp=exp)
        keys = await state.signing_keys.for_signing(now=now)
        return ActingToken(
            access_token=encode_access(claims, keys.active),
            expires_in=claims.exp - claims.iat,
            organisation=_view(org, grant) if org else None,
        )


async def _for_person(
    principal_id: UUID, principal: Principal, state: State, db: Db, keyring: Keys, settings: Config, now: Now
) -> ActingToken:
    """A 代办人 switches to the person who authorised them: a token of the same login with ``psn`` and ``dlg``,
    ending when the authorisation does. The switch is a use, logged for the person (a refused one too)."""
    person_id = _person(principal)
    account_id = principal.require_account()
    async with db.acquire() as conn:
        async with conn.transaction():
            account = await store.get_account(conn, account_id)
            if account is None or account.person_id != person_id:
                raise Unauthorized("the account no longer exists")
            try:
                grant, refusal = await delegation.switch(
                    conn,
                    principal_kind="person",
                    principal_id=principal_id,
                    agent_person_id=person_id,
                    actor=principal.subject,
                    now=now,
                )
            except DelegationNotFound:
                raise NotFound() from None  # the same answer as for a person who never authorised the caller
            await audit.append(
                conn,
                actor=f"account:{account_id}",
                action="auth.act_as",
                subject=str(principal_id),
                data={
                    "role": AGENT,
                    "kind": "person",
                    "delegation": str(grant["id"]) if grant else None,
                    "refused": refusal.slug if refusal else None,
                },
                at=now,
            )
        if refusal is not None:
            raise refusal  # after the commit: the refused attempt stays in both sides' logs
        assert grant is not None
        name = await persons.get_name(conn, keyring, principal_id) or ""
    claims = service.account_claims(
        account,
        None,
        session_id=principal.session_id,
        login_time=principal.auth_time,
        issuer=settings.base_url,
        now=now,
    )
    claims = msgspec.structs.replace(
        claims, psn=str(principal_id), dlg=str(grant["id"]), exp=min(claims.exp, int(grant["expires_at"].timestamp()))
    )
    keys = await state.signing_keys.for_signing(now=now)
    return ActingToken(
        access_token=encode_access(claims, keys.active),
        expires_in=claims.exp - claims.iat,
        organisation=None,
        person=ActingForPerson(
            id=principal_id,
            name_masked=mask_name(name),
            delegation_id=grant["id"],
            matters=list(grant["matters"]),
            actions=list(grant["actions"]),
            expires_at=grant["expires_at"],
        ),
    )


ROUTES = [OrganisationController]
