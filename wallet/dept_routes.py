"""What departments do with wallets: push records and life events, set guardianships, use consents.

Staff of the department (any role) or its system with the named scope: ``records:write`` for
records, life events and guardianships, ``consents:use`` for consents.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from api.deps import Db, Keys, Now
from api.kernel import authority
from api.kernel.authority import AuthorityRequired
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit
from api.kernel.problems import Forbidden, Unauthorized, success
from auth import BEARER, STAFF_ROLES, CurrentPrincipal, HolderMismatch, IdNumberInvalid, Principal, problem_responses
from wallet import consent_store, consents, pushes, views
from wallet.errors import (
    ConsentNotActive,
    ConsentNotFound,
    ExternalRefConflict,
    GuardianshipInvalid,
    HolderUnknown,
    LifeEventExists,
    RecordInvalid,
    WalletClosed,
)
from wallet.http import esign_of, keyset, next_cursor
from wallet.models import (
    ConsentItems,
    ConsentPage,
    Guardianship,
    GuardianshipIn,
    LifeEventIn,
    RecordIn,
    WalletItem,
)

PUSH_PROBLEMS = (
    Unauthorized,
    Forbidden,
    AuthorityRequired,
    IdNumberInvalid,
    HolderMismatch,
    RecordInvalid,
    ExternalRefConflict,
    WalletClosed,
)


def department_of(principal: Principal, scope: str) -> UUID:
    """The caller's department: its staff (any role) or its system holding ``scope``."""
    if principal.department_id is not None:
        if principal.client_id is not None and scope in principal.scopes:
            return principal.department_id
        if principal.account_id is not None and "staff" in principal.roles and principal.roles & STAFF_ROLES:
            return principal.department_id
    raise Forbidden(f"requires department staff or the scope {scope}", required_scope=scope)


class DeptWalletController(Controller):
    path = "/v1/dept"
    tags = ["department wallet"]
    security = BEARER

    @post(
        "/records",
        operation_id="PushRecord",
        status_code=201,
        summary="Put a department record (社保缴费, 公积金, 不动产 ...) into a person's wallet",
        description=(
            "Staff or scope `records:write`, of a department whose listed powers include the record's `kind` (403 "
            "`authority_required` with `power` `record:<kind>` otherwise). Idempotent by `external_ref` per "
            "department: the same body again → 200 with the same item, another body → 409 `external_ref_conflict`. `holder` is the ID number and the name "
            "on the card: a person the platform does not know yet is taken as new (nothing tells whether the number "
            "was known); one known under another name → 422 `holder_mismatch` (the stored name is never shown). Keys listed in `sensitive` are sealed at rest and shown only to "
            "the holder at L3. A deceased person's wallet takes no new records (409 `wallet_closed`)."
        ),
        responses=problem_responses(*PUSH_PROBLEMS) | success(200, WalletItem, "The same body again: the stored item."),
    )
    async def push_record(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RecordIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Response[WalletItem]:
        department = department_of(principal, "records:write")
        await authority.require(db, department, authority.record(data.kind), actor=principal.subject)
        async with db.acquire() as conn, conn.transaction():
            stored, created = await pushes.push_record(
                conn, keyring, department_id=department, body=data, actor=principal.subject, now=now
            )
            item = await views.render(conn, esign_of(request), stored, full=True, now=now)
        return Response(item, status_code=201 if created else 200)

    @post(
        "/life-events",
        operation_id="PushLifeEvent",
        status_code=201,
        summary="Record a life event a department knows of (结婚, 退休, 身故 ...) in a person's timeline",
        description=(
            "Staff or scope `records:write`, of a department whose listed powers include the event (403 "
            "`authority_required` with `power` `life_event:<event>` otherwise); idempotent by `external_ref` like "
            "records. Birth and death happen once: a second one → 409 `life_event_exists`. A death closes the wallet to new writes."
        ),
        responses=problem_responses(*PUSH_PROBLEMS, LifeEventExists)
        | success(200, WalletItem, "The same body again: the stored item."),
    )
    async def push_life_event(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LifeEventIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Response[WalletItem]:
        department = department_of(principal, "records:write")
        await authority.require(db, department, authority.life_event(data.event), actor=principal.subject)
        async with db.acquire() as conn, conn.transaction():
            stored, created = await pushes.push_life_event(
                conn, keyring, department_id=department, body=data, actor=principal.subject, now=now
            )
            item = await views.render(conn, esign_of(request), stored, full=True, now=now)
        return Response(item, status_code=201 if created else 200)

    @post(
        "/guardianships",
        operation_id="SetGuardianship",
        status_code=201,
        summary="Set who is guardian of whom (or end it), as the department decides",
        description=(
            "Staff or scope `records:write`, of a department with the power `guardianship` (民政, 法院; 公安 for "
            "出生登记; 403 `authority_required` otherwise). Persons by `id_number` and `name` (as for records: "
            "another name than the known one → 422 `holder_mismatch`) or `person_id` (a newborn without an ID number). A minor's guardianship ends on the 18th birthday unless "
            "`beyond_majority` (成年监护); for a dependent already 18 it is required. `until` not after now ends the "
            "guardianship now. 201 when new, 200 when it replaced the pair's earlier one."
        ),
        responses=problem_responses(
            Unauthorized,
            Forbidden,
            AuthorityRequired,
            IdNumberInvalid,
            HolderUnknown,
            HolderMismatch,
            GuardianshipInvalid,
        )
        | success(200, Guardianship, "The pair's earlier guardianship, replaced."),
    )
    async def set_guardianship(
        self, data: JSONBody[GuardianshipIn], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Response[Guardianship]:
        department = department_of(principal, "records:write")
        await authority.require(db, department, authority.GUARDIANSHIP, actor=principal.subject)
        async with db.acquire() as conn, conn.transaction():
            out, created = await pushes.set_guardianship(
                conn, keyring, department_id=department, body=data, actor=principal.subject, now=now
            )
        return Response(out, status_code=201 if created else 200)

    @get(
        "/consents",
        operation_id="ListDepartmentConsents",
        summary="Consents granted to the caller's department",
        description="Staff or scope `consents:use`.",
        responses=problem_responses(Unauthorized, Forbidden),
    )
    async def list_consents(
        self, principal: CurrentPrincipal, db: Db, now: Now, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> ConsentPage:
        department = department_of(principal, "consents:use")
        async with db.acquire() as conn:
            rows = await consent_store.list_department_consents(conn, department, before=keyset(cursor), limit=limit)
        items = [consents.to_model(r, now=now) for r in rows]
        return ConsentPage(items=items, next_cursor=next_cursor(items, limit, "created_at"))

    @get(
        "/consents/{consent_id:uuid}/items",
        operation_id="ReadConsentedItems",
        summary="Read the items a holder consented to; each read is logged and spends one use",
        description=(
            "Staff of the grantee department or its system with `consents:use`. Each item shows the fields the consent "
            "names for it, or else its non-sensitive values only (`***` in place of the rest, `masked: true`). "
            "Another department's consent → 404. "
            "After expiry, revocation or the last use → 403 `consent_not_active` with `reason` (expired, revoked, "
            "used_up); the refused read is logged too."
        ),
        responses=problem_responses(Unauthorized, Forbidden, ConsentNotFound, ConsentNotActive),
    )
    async def read_items(
        self, request: Request[Any, Any, Any], consent_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, now: Now
    ) -> ConsentItems:
        department = department_of(principal, "consents:use")
        async with db.acquire() as conn, conn.transaction():
            used = await consents.use(
                conn, esign_of(request), consent_id, department_id=department, actor=principal.subject, now=now
            )
        # Raised after the commit: the refused read stays in the holder's access log.
        if used.refused is not None:
            raise ConsentNotActive(f"the consent is {used.refused}", reason=used.refused)
        return ConsentItems(consent=used.consent, items=used.items)
