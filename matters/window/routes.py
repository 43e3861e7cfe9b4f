"""``/v1/dept/window``: the service-centre window (前台综合受理).

Callers are staff with the role ``window_clerk`` of a department whose listed powers include
``window_intake`` (403 ``authority_required`` naming it otherwise). A visit opened at one centre
is handled there only: another centre's clerk gets 403 ``window_other_centre``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.deps import Db, Keys, Now
from api.kernel import authority, idempotency, responses
from api.kernel.authority import AuthorityRequired
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import Forbidden, Problem, Unauthorized, problem_responses, success
from api.openapi import IDEMPOTENT
from auth import (
    BEARER,
    CurrentPrincipal,
    DelegationAgentMismatch,
    DelegationInactive,
    DelegationNotFound,
    DelegationOutOfScope,
    HolderMismatch,
    Principal,
)
from matters import store as catalogue_store
from matters.applications.errors import FormInvalid, IdNumberInvalid, MaterialInvalid, MaterialsMissing
from matters.applications.models import Application, Prefill
from matters.errors import BundleNotFound
from matters.window import flows, pickup
from matters.window.errors import (
    AlreadyHandedOver,
    IntakeNotFound,
    IntakeSubmitted,
    NotReadyForPickup,
    RecipientMismatch,
    WindowConsentRequired,
    WindowOtherCentre,
)
from matters.window.models import (
    Handover,
    HandoverIn,
    Intake,
    OpenIntake,
    PickupPage,
    WindowConsentIn,
    WindowSubmit,
)
from wallet import esign_of

WINDOW_ROLE = "window_clerk"
COMMON = (Unauthorized, Forbidden, AuthorityRequired)
ON_INTAKE = (*COMMON, IntakeNotFound, WindowOtherCentre)


async def window_clerk(db: Any, principal: Principal) -> tuple[UUID, UUID]:
    """(department, clerk account) of a window clerk of a service centre; 403 otherwise."""
    if principal.client_id is not None or principal.account_id is None:
        raise Forbidden("the window is worked by a clerk, not a department system")
    department_id = principal.require_staff(WINDOW_ROLE)
    await authority.require(db, department_id, authority.WINDOW_INTAKE, actor=principal.subject)
    return department_id, principal.account_id


def _raise(problem: Problem | None) -> None:
    if problem is not None:
        raise problem


class WindowIntakeController(Controller):
    path = "/v1/dept/window/intakes"
    tags = ["window"]
    security = BEARER

    @post(
        operation_id="OpenWindowIntake",
        status_code=201,
        opt=IDEMPOTENT,
        summary="A citizen is at the window: identify them by the ID card and open the visit (综合受理)",
        description="The clerk keys in the number and name read from the physical card. A person the platform "
        "knows is found (a name that is not theirs → 422 `holder_mismatch`); someone it does not know — "
        "an elderly citizen with no phone — is recorded now, as the real-name flow records persons. "
        "With `agent`, the person at the window is a 代办人: the authorisation must be the citizen's, "
        "active, and the keyed number the agent's (403 `delegation_inactive`, "
        "`delegation_agent_mismatch`); the attempt is logged either way. `ticket_issued_at` (the queue "
        "ticket's time) starts the window's waiting time.",
        responses=problem_responses(
            *COMMON, IdNumberInvalid, HolderMismatch, DelegationNotFound, DelegationInactive, DelegationAgentMismatch
        ),
    )
    async def open(
        self, request: Request, data: JSONBody[OpenIntake], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Response[Intake]:
        department_id, clerk = await window_clerk(db, principal)
        async with db.acquire() as conn:
            async with conn.transaction():
                person, agent, refusal = await flows.identify(
                    conn, keyring, data, department_id=department_id, clerk=clerk, now=now
                )
            _raise(refusal)
            async with conn.transaction():

                async def create() -> tuple[int, Intake]:
                    return 201, await flows.open_intake(
                        conn,
                        keyring,
                        data,
                        person=person,
                        agent=agent,
                        department_id=department_id,
                        clerk=clerk,
                        now=now,
                    )

                made = await idempotency.run(request, conn, scope=principal.subject, create=create)
                return responses.answer(made, Intake)

    @get(
        "/{intake_id:uuid}",
        operation_id="GetWindowIntake",
        summary="One visit at this centre's windows",
        responses=problem_responses(*ON_INTAKE),
    )
    async def get_intake(self, intake_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys) -> Intake:
        department_id, _ = await window_clerk(db, principal)
        async with db.acquire() as conn:
            return await flows.view(conn, keyring, await flows.load(conn, intake_id, department_id))

    @post(
        "/{intake_id:uuid}/consent",
        operation_id="RecordWindowConsent",
        status_code=200,
        summary="The citizen consents, at the window, to the centre reading what their wallet supplies (免提交)",
        description="Recorded as a consent of the citizen's wallet, granted to this centre for two hours, naming the "
        "clerk; it shows in the citizen's consents and every read in their access log. Without it the "
        "centre sees nothing of the wallet (403 `window_consent_required`).",
        responses=problem_responses(*ON_INTAKE),
    )
    async def consent(
        self,
        intake_id: FromPath[UUID],
        data: JSONBody[WindowConsentIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Intake:
        department_id, clerk = await window_clerk(db, principal)
        async with db.acquire() as conn, conn.transaction():
            row = await flows.load(conn, intake_id, department_id, for_update=True)
            return await flows.give_consent(conn, keyring, row, data.purpose, clerk=clerk, now=now)

    @get(
        "/{intake_id:uuid}/prefill",
        operation_id="PrefillAtWindow",
        summary="What the platform fills in and hands in for the citizen present (免提交), under their consent",
        description="As `GET /v1/bundles/{code}/prefill`, for the visit's citizen. Each call is a read of the window "
        "consent, logged in the citizen's access log; none → 403 `window_consent_required`.",
        responses=problem_responses(*ON_INTAKE, WindowConsentRequired, BundleNotFound),
    )
    async def prefill(
        self,
        request: Request,
        intake_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
        bundle_code: Annotated[str, QueryParameter(max_length=64)],
    ) -> Prefill:
        department_id, clerk = await window_clerk(db, principal)
        async with db.acquire() as conn, conn.transaction():
            row = await flows.load(conn, intake_id, department_id)
            result = await flows.read_prefill(conn, keyring, esign_of(request), row, bundle_code, clerk=clerk, now=now)
        if isinstance(result, Problem):
            raise result
        return result

    @post(
        "/{intake_id:uuid}/application",
        operation_id="SubmitAtWindow",
        status_code=201,
        summary="Submit the bundle on the citizen's behalf: the application is theirs, taken at this window",
        description="The body is `SubmitApplication`'s without `for_person_id`. Scanned materials are uploaded first "
        "(`PUT /v1/blobs/{sha256}`) and named by `blob_sha256`; wallet items need the window consent. "
        "The application belongs to the citizen (their wallet and app show it once they log in); its "
        "timeline says `taken_at_window` with the centre and window, and the visit keeps the clerk. For a "
        "代办人 the authorisation must cover the bundle (or its matters) and `apply` (403 "
        "`delegation_out_of_scope`, `delegation_inactive`); the use is logged. The same `id` again → 200.",
        responses={
            **success(200, Application, "Submitted before with this `id`."),
            **problem_responses(
                *ON_INTAKE,
                WindowConsentRequired,
                IntakeSubmitted,
                FormInvalid,
                MaterialsMissing,
                MaterialInvalid,
                DelegationInactive,
                DelegationOutOfScope,
            ),
        },
    )
    async def submit(
        self,
        intake_id: FromPath[UUID],
        data: JSONBody[WindowSubmit],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Response[Application]:
        department_id, clerk = await window_clerk(db, principal)
        async with db.acquire() as conn, conn.transaction():
            row = await flows.load(conn, intake_id, department_id, for_update=True)
            cal = await catalogue_store.load_calendar(conn)
            app, created, refusal = await flows.submit(conn, keyring, row, data, clerk=clerk, now=now, cal=cal)
        _raise(refusal)
        assert app is not None
        return Response(content=app, status_code=201 if created else 200)


class PickupController(Controller):
    path = "/v1/dept/window/pickups"
    tags = ["window"]
    security = BEARER

    @get(
        operation_id="ListPickups",
        summary="The centre's pick-up queue: applications it took whose tasks are all done",
        description="Oldest first. The citizen was told (inbox, text message) to come for the paper results; the "
        "electronic ones are in their wallet either way.",
        responses=problem_responses(*COMMON),
    )
    async def list_pickups(
        self, principal: CurrentPrincipal, db: Db, keyring: Keys, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> PickupPage:
        department_id, _ = await window_clerk(db, principal)
        after = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            items = await pickup.queue(conn, keyring, department_id, after=after, limit=limit)
        return PickupPage(
            items=items, next_cursor=encode_cursor(str(items[-1].application_id)) if len(items) == limit else None
        )

    @get(
        "/{application_id:uuid}/print",
        operation_id="PrintResults",
        media_type="application/pdf",
        summary="The printable A4 pages of the application's result certificates (PDF)",
        description="One page per certificate: its fields with their labels, the issuing seal, the QR code (the URL a "
        "phone camera opens to verify it) and that URL written out. 409 `not_ready_for_pickup` before "
        "every task is done or when there is no certificate.",
        responses=problem_responses(*ON_INTAKE, NotReadyForPickup),
    )
    async def print_results(
        self,
        request: Request,
        application_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Response[bytes]:
        department_id, _ = await window_clerk(db, principal)
        async with db.acquire() as conn:
            row = await pickup.load(conn, application_id, department_id)
            body = await pickup.print_results(conn, keyring, esign_of(request), row, now=now)
        return Response(
            body,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="results-{application_id}.pdf"',
                "Cache-Control": "no-store",
            },
        )

    @post(
        "/{application_id:uuid}/handover",
        operation_id="RecordHandover",
        status_code=201,
        summary="Record the hand-over: who received the results, from which clerk, when, with the ID card checked",
        description="The recipient is the citizen or, with `delegation_id`, their 代办人 whose authorisation allows "
        "`collect` (403 `delegation_*` otherwise, logged); anyone else → 403 `recipient_mismatch`. "
        "`id_checked` must be true. Once per application (409 `already_handed_over`).",
        responses=problem_responses(
            *ON_INTAKE,
            NotReadyForPickup,
            AlreadyHandedOver,
            RecipientMismatch,
            IdNumberInvalid,
            HolderMismatch,
            DelegationNotFound,
            DelegationInactive,
            DelegationOutOfScope,
            DelegationAgentMismatch,
        ),
    )
    async def hand_over(
        self,
        application_id: FromPath[UUID],
        data: JSONBody[HandoverIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Handover:
        department_id, clerk = await window_clerk(db, principal)
        async with db.acquire() as conn, conn.transaction():
            row = await pickup.load(conn, application_id, department_id)
            done, refusal = await pickup.hand_over(conn, keyring, row, data, clerk=clerk, now=now)
        _raise(refusal)
        assert done is not None
        return done


ROUTES = [WindowIntakeController, PickupController]
