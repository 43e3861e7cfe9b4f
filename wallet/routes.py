"""The citizen's wallet: items, timeline, dependents, presentations (亮证), consents, access log, export."""

from __future__ import annotations

from typing import Annotated, Any, cast
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter

import auth
import esign
from api.deps import Db, Keys, Now
from api.kernel import changelog, idempotency, responses
from api.kernel.clock import current_time
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import Unauthorized
from api.openapi import CONDITIONAL, IDEMPOTENT
from auth import BEARER, AssuranceRequired, CurrentPrincipal, ReservedToPrincipal, authenticate, problem_responses
from wallet import (
    access,
    consent_store,
    consents,
    dependents,
    pages,
    people_store,
    presentations,
    service,
    store,
    views,
)
from wallet import export as exporting
from wallet.dept_routes import DeptWalletController
from wallet.errors import (
    ConsentInvalid,
    ConsentNotFound,
    IdentityRequired,
    ItemNotFound,
    NotPresentable,
    PresentationFieldsInvalid,
    WalletClosed,
    WalletNotFound,
)
from wallet.http import esign_of, keyset, next_cursor
from wallet.models import (
    AccessLogPage,
    Consent,
    ConsentIn,
    ConsentPage,
    DependentList,
    Export,
    ItemToken,
    Kind,
    Presentation,
    PresentIn,
    Timeline,
    WalletItem,
    WalletItemPage,
)

PersonParam = Annotated[
    UUID | None,
    Parameter(
        description="A dependent's (or a deceased family member's) person id; the caller's own wallet when absent."
    ),
]
READ_PROBLEMS = (Unauthorized, IdentityRequired, WalletNotFound)


class WalletController(Controller):
    path = "/v1/wallet"
    tags = ["wallet"]
    security = BEARER

    @get(
        "/items",
        operation_id="ListWalletItems",
        summary="Certificates, records, life events and applications, newest first",
        description=(
            "Pass `person_id` for a dependent's wallet (guardians) or a deceased family member's (the applicant of "
            "身后一件事, read only). Sensitive values — certificate fields the type marks sensitive, record values the "
            "department marked sensitive — are `***` (and the item `masked: true`) unless the caller is the holder or "
            "a guardian at L3 proven within 300 s. Application items are the applications themselves (their id is "
            "the application id)."
        ),
        responses=problem_responses(*READ_PROBLEMS),
    )
    async def list_items(
        self,
        request: Request[Any, Any, Any],
        kind: Annotated[Kind | None, Parameter()] = None,
        person_id: PersonParam = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Response[WalletItemPage]:
        # The most frequent read takes the caller, the pool and the clock from the request itself, as the
        # ``principal``, ``db`` and ``now`` dependencies would: Litestar's resolution of each costs about a
        # tenth of this read's CPU when its page was built already (docs/performance.md).
        state = request.app.state
        principal = await authenticate(request)
        assert principal is not None  # required: no token or a bad one answered 401
        now, db = current_time(state), state.pool
        before = keyset(cursor)
        built = pages.Pages.of(state)
        async with db.acquire() as conn:
            wallet = await access.open_wallet(conn, principal, person_id, now=now)
            key = (wallet.person_id, wallet.full_view, kind, cursor, limit)
            version = await changelog.head_version(conn, wallet.person_id)
            body = built.get(key, version, now)
            if body is None:
                family = await auth.family(conn, wallet.person_id)
                rows = await store.list_items(
                    conn, wallet.person_id, family=family, kind=kind, before=before, limit=limit
                )
                items = await views.render_all(conn, esign_of(request), rows, full=wallet.full_view, now=now)
                page = WalletItemPage(items=items, next_cursor=next_cursor(rows, limit))
                body = msgspec.json.encode(page)
                built.put(key, version, pages.fresh_until(page, now), body)
        return responses.encoded(body, WalletItemPage)

    @get(
        "/items/{item_id:uuid}",
        operation_id="GetWalletItem",
        summary="One stored wallet item",
        responses=problem_responses(Unauthorized, IdentityRequired, ItemNotFound),
    )
    async def get_item(
        self, request: Request[Any, Any, Any], item_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, now: Now
    ) -> WalletItem:
        async with db.acquire() as conn:
            item = await store.get_item(conn, item_id, person_id=principal.person_id)
            if item is None:
                raise ItemNotFound()
            try:
                wallet = await access.open_wallet(conn, principal, item.person_id, now=now)
            except WalletNotFound:
                raise ItemNotFound() from None
            return await views.render(conn, esign_of(request), item, full=wallet.full_view, now=now)

    @get(
        "/items/{item_id:uuid}/token",
        operation_id="GetWalletItemToken",
        opt=CONDITIONAL,
        summary="A certificate item's signed token (ZB1:), fetched once and kept",
        description=(
            "`{item_id, token, token_sha256}`: the certificate's `ZB1:` token, which a device keeps to show and "
            "verify the certificate offline. Sync pulls carry wallet items without it, with `data.token_sha256` "
            "(the SHA-256 of the token's text, lower-case hex) instead, so a device fetches the token once per "
            "item. A signed token never changes (a status change is in the status list, not the token): the "
            "answer is cacheable for a year (`Cache-Control: private, max-age=31536000, immutable`), its `ETag` is "
            '`"<token_sha256>"`, and `If-None-Match` with it answers 304. Who may read the item may read its '
            "token. An item that is not a certificate, or a certificate not yet signed (its synced copy has no "
            "`token_sha256`) → 404 `wallet_item_not_found`."
        ),
        responses=problem_responses(Unauthorized, IdentityRequired, ItemNotFound),
    )
    async def get_item_token(
        self,
        item_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        if_none_match: Annotated[str | None, HeaderParameter(name="if-none-match", required=False)] = None,
    ) -> Response[ItemToken]:
        async with db.acquire() as conn:
            item = await store.get_item(conn, item_id, person_id=principal.person_id)
            if item is None:
                raise ItemNotFound()
            try:
                await access.open_wallet(conn, principal, item.person_id, now=now)
            except WalletNotFound:
                raise ItemNotFound() from None
            token = (
                await esign.certificate_token(conn, item.person_id, item.certificate_id)
                if item.certificate_id
                else None
            )
        if token is None:
            raise ItemNotFound("this item carries no signed token")
        digest = service.token_sha256(token)
        headers = {"ETag": f'"{digest}"', "Cache-Control": "private, max-age=31536000, immutable"}
        if responses.etag_matches(if_none_match, headers["ETag"]):
            # A 304 has no body; the handler's annotation documents the 200.
            return cast("Response[ItemToken]", Response(content=None, status_code=304, headers=headers))
        return Response(content=ItemToken(item_id=item_id, token=token, token_sha256=digest), headers=headers)

    @post(
        "/items/{item_id:uuid}/present",
        operation_id="PresentWalletItem",
        opt=IDEMPOTENT,
        status_code=201,
        summary="亮证: a presentation token (QR) disclosing only the chosen fields, valid at most 300 s",
        description=(
            "Holder or guardian at L3 proven within 300 s. The token (`qr`) is a `ZB1:` presentation signed by the "
            "platform's presentation seal; any verifier checks it offline with the trust list and status lists. "
            "`png: true` adds the QR code as a base64 PNG. A revoked, suspended or expired certificate → 409 "
            "`certificate_not_presentable` with `reason`. Accepts `Idempotency-Key`."
        ),
        responses=problem_responses(
            Unauthorized,
            IdentityRequired,
            AssuranceRequired,
            ItemNotFound,
            NotPresentable,
            WalletClosed,
            PresentationFieldsInvalid,
            ReservedToPrincipal,
        ),
    )
    async def present(
        self,
        request: Request[Any, Any, Any],
        item_id: FromPath[UUID],
        data: JSONBody[PresentIn],
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
    ) -> Response[Presentation]:
        principal.require_own_person()
        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, Any]:
                return 201, await presentations.present(conn, esign_of(request), principal, item_id, data, now=now)

            made = await idempotency.run(request, conn, scope=principal.subject, create=create)
            return responses.answer(made, Presentation)

    @get(
        "/timeline",
        operation_id="GetWalletTimeline",
        summary="Life events and milestones, oldest first",
        description=(
            "Life events (`kind: event`, with `event` one of born, enrolled, started_business, bought_home, married, "
            "retired, died) derived from certificates issued and bundles completed or pushed by departments, and "
            "milestones: department records and certificates. Derived events appear within a minute."
        ),
        responses=problem_responses(*READ_PROBLEMS),
    )
    async def timeline(
        self,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        person_id: PersonParam = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Timeline:
        async with db.acquire() as conn:
            wallet = await access.open_wallet(conn, principal, person_id, now=now)
            rows = await store.list_stored_items(conn, wallet.person_id, after=keyset(cursor), limit=limit)
            closed_at = await people_store.closed_at(conn, wallet.person_id)
        return Timeline(
            person_id=wallet.person_id,
            closed_at=closed_at,
            items=[views.timeline_entry(r) for r in rows],
            next_cursor=next_cursor(rows, limit),
        )

    @get(
        "/dependents",
        operation_id="ListDependents",
        summary="Persons whose wallets the caller keeps (guardian) or may read",
        description=(
            "Dependents under an active guardianship (a child stops being one at 18 unless a department said "
            "otherwise), then deceased family members whose closed wallets the caller may read."
        ),
        responses=problem_responses(Unauthorized, IdentityRequired),
    )
    async def list_dependents(self, principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now) -> DependentList:
        me = access.me(principal)
        async with db.acquire() as conn:
            return DependentList(items=await dependents.list_dependents(conn, keyring, me, now=now))

    @post(
        "/consents",
        operation_id="GrantConsent",
        opt=IDEMPOTENT,
        status_code=201,
        summary="授权用证: let a department read named items for a purpose, until a time or for N uses",
        description=(
            "Holder or guardian at L3 proven within 300 s; the items must all be of one wallet. `fields` names, per "
            "item, the certificate fields or record keys the grantee sees (sensitive ones only when named); items not "
            "named are shown with their sensitive values masked. An item the caller may not open is answered exactly "
            "as an id that does not exist (422 `consent_invalid`, `no such item`). Accepts `Idempotency-Key`."
        ),
        responses=problem_responses(
            Unauthorized, IdentityRequired, AssuranceRequired, ConsentInvalid, WalletClosed, ReservedToPrincipal
        ),
    )
    async def grant(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ConsentIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Response[Consent]:
        access.me(principal)
        principal.require_own_person()
        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, Any]:
                return 201, await consents.grant(conn, keyring, principal, data, now=now)

            made = await idempotency.run(request, conn, scope=principal.subject, create=create)
            return responses.answer(made, Consent)

    @get(
        "/consents",
        operation_id="ListConsents",
        summary="Consents on a wallet, newest first",
        responses=problem_responses(*READ_PROBLEMS),
    )
    async def list_consents(
        self,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        person_id: PersonParam = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ConsentPage:
        async with db.acquire() as conn:
            wallet = await access.open_wallet(conn, principal, person_id, now=now)
            rows = await consent_store.list_consents(conn, wallet.person_id, before=keyset(cursor), limit=limit)
        items = [consents.to_model(r, now=now) for r in rows]
        return ConsentPage(items=items, next_cursor=next_cursor(items, limit, "created_at"))

    @delete(
        "/consents/{consent_id:uuid}",
        operation_id="RevokeConsent",
        status_code=200,
        summary="Withdraw a consent; the grantee's next read is refused",
        description="Answers the revoked consent; revoking it again changes nothing.",
        responses=problem_responses(Unauthorized, IdentityRequired, ConsentNotFound, ReservedToPrincipal),
    )
    async def revoke(
        self, consent_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Consent:
        principal.require_own_person()
        async with db.acquire() as conn, conn.transaction():
            return await consents.revoke(conn, keyring, principal, consent_id, now=now)

    @get(
        "/access-log",
        operation_id="GetAccessLog",
        summary="Who read which items, when and why — served and refused reads",
        responses=problem_responses(*READ_PROBLEMS),
    )
    async def access_log(
        self,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        person_id: PersonParam = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> AccessLogPage:
        before = decode_cursor(cursor, int) if cursor else None
        async with db.acquire() as conn:
            wallet = await access.open_wallet(conn, principal, person_id, now=now)
            rows = await consent_store.list_access(conn, wallet.person_id, before=before, limit=limit)
        items = [consents.access_entry(r) for r in rows]
        return AccessLogPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(items) == limit else None)

    @get(
        "/export",
        operation_id="ExportWallet",
        summary="Everything held about a person, as one document",
        description=(
            "PIPL right of access: the caller's own person, or with `person_id` a dependent's (guardians exercise a "
            "minor's rights) or a deceased family member's (items masked as in the wallet). L3 proven within 300 s; "
            "identity in full. One consistent snapshot."
        ),
        responses=problem_responses(*READ_PROBLEMS, AssuranceRequired, ReservedToPrincipal),
    )
    async def export_wallet(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
        person_id: PersonParam = None,
    ) -> Export:
        principal.require_own_person()
        async with db.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            return await exporting.export(conn, esign_of(request), keyring, principal, person_id, now=now)


ROUTES = [WalletController, DeptWalletController]
