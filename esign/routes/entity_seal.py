"""企业电子印章 over HTTP: an entity's seals for those acting for it (``/v1/org/seals``: listed by its 法定代表人
and 经办人, made and revoked by its 法定代表人) and for departments verifying (``/v1/dept/entity-seals``)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from api.deps import Db, Now
from api.kernel.identifiers import normalize_credit_code
from api.kernel.problems import Forbidden, NotFound, Unauthorized, ValidationFailed
from auth import BEARER, AssuranceRequired, CurrentPrincipal, Principal, get_org_by_credit_code, problem_responses
from esign import entity_seals
from esign.entity_seals import EntitySeal, EntitySealIn, EntitySealList
from esign.errors import EntitySealExists, EntitySealNotFiled, EntitySealNotFound
from esign.http import Esign
from esign.models import OptionalReasonIn
from wallet import WalletClosed

# Making or revoking the entity's seal binds it as its 公章 does: L3 within the last 30 minutes.
SEAL_LEVEL, SEAL_MAX_AGE = "L3", 1800


def _entity(principal: Principal) -> UUID:
    """The entity the caller acts for (403 when acting for none)."""
    principal.require_account()
    if principal.org_id is None:
        raise Forbidden("act for a business entity first (POST /v1/auth/act-as)")
    return principal.org_id


class OrgSealController(Controller):
    path = "/v1/org/seals"
    tags = ["seals"]
    security = BEARER

    @get(
        operation_id="ListOrgSeals",
        summary="The e-seals (企业电子印章) of the entity the caller acts for",
        description="Acting for a business entity (`POST /v1/auth/act-as`), as its 法定代表人 or 经办人: its seals, "
        "newest first, revoked ones too, each with its certificate (from the platform root). The one made "
        "at 公章刻制备案 is ES256; what the entity submits is signed with its newest active seal.",
        responses=problem_responses(Unauthorized, Forbidden),
    )
    async def list_seals(self, principal: CurrentPrincipal, db: Db) -> EntitySealList:
        org_id = _entity(principal)
        async with db.acquire() as conn:
            return EntitySealList(items=await entity_seals.list_seals(conn, org_id))

    @post(
        operation_id="CreateOrgSeal",
        status_code=201,
        summary="Another e-seal for the entity (its 法定代表人): SM2 or ES256",
        description="The entity's 法定代表人 (acting for it; a 经办人 → 403), at L3 within 30 minutes, asks the platform "
        "for a seal whose key it holds as it holds departments' platform-held keys. The entity must be "
        "active (409 `wallet_closed` after 注销) and its 公章刻制备案 done (409 `entity_seal_not_filed`); at "
        "most one active seal per algorithm (409 `entity_seal_exists`: revoke the other first). Audited.",
        responses=problem_responses(
            Unauthorized,
            Forbidden,
            AssuranceRequired,
            ValidationFailed,
            EntitySealExists,
            EntitySealNotFiled,
            WalletClosed,
        ),
    )
    async def create(
        self, data: JSONBody[EntitySealIn], principal: CurrentPrincipal, db: Db, esign: Esign, now: Now
    ) -> EntitySeal:
        org_id = _entity(principal)
        principal.require_not_agent()
        principal.require_assurance(SEAL_LEVEL, now=now, max_age_seconds=SEAL_MAX_AGE)
        async with db.acquire() as conn, conn.transaction():
            return await entity_seals.request_seal(conn, esign, org_id, data, actor=principal.subject, now=now)

    @post(
        "/{seal_id:uuid}/revoke",
        operation_id="RevokeOrgSeal",
        status_code=200,
        summary="Revoke one of the entity's e-seals (its 法定代表人)",
        description="At once: what it signed shows as no longer valid to the departments checking it, and the entity "
        "signs with another active seal, if any. Another entity's seal → 404. Revoking again changes "
        "nothing. L3 within 30 minutes; a 经办人 → 403. Audited.",
        responses=problem_responses(Unauthorized, Forbidden, AssuranceRequired, EntitySealNotFound),
    )
    async def revoke(
        self,
        seal_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        data: JSONBody[OptionalReasonIn | None] = None,
    ) -> EntitySeal:
        org_id = _entity(principal)
        principal.require_not_agent()
        principal.require_assurance(SEAL_LEVEL, now=now, max_age_seconds=SEAL_MAX_AGE)
        async with db.acquire() as conn, conn.transaction():
            return await entity_seals.revoke_one(
                conn, org_id, seal_id, reason=data.reason if data else None, actor=principal.subject, now=now
            )


class DeptEntitySealController(Controller):
    path = "/v1/dept/entity-seals"
    tags = ["seals"]
    security = BEARER

    @get(
        operation_id="ListEntitySeals",
        summary="A business entity's e-seals, for a department verifying its signature",
        description="Staff of any department, or a department system: the seals of the entity with this unified "
        "social credit code, revoked ones too, with their certificates and standing (404 for an unknown "
        "code).",
        responses=problem_responses(Unauthorized, Forbidden, NotFound),
    )
    async def list_seals(self, principal: CurrentPrincipal, db: Db, credit_code: FromQuery[str]) -> EntitySealList:
        if principal.department_id is None:
            raise Forbidden("a department's staff or system may look an entity's seals up")
        async with db.acquire() as conn:
            org = await get_org_by_credit_code(conn, normalize_credit_code(credit_code))
            if org is None:
                raise NotFound()
            return EntitySealList(items=await entity_seals.list_seals(conn, org.id))


ROUTES = [OrgSealController, DeptEntitySealController]
