"""好差评 (ratings), rectification cases and 找茬 feedback."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.deps import Config, Db, Keys, Now
from api.kernel import idempotency
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import Forbidden, Unauthorized, problem_responses
from api.openapi import IDEMPOTENT
from auth import BEARER, AssuranceRequired, CurrentPrincipal, Principal
from matters import store as catalogue_store
from matters.applications import store as applications
from matters.applications import workflow
from matters.applications.errors import ApplicationNotFound
from matters.applications.routes import require_applicant
from matters.feedback import flows, store
from matters.feedback.errors import (
    AlreadyAnswered,
    ApplicationNotFinished,
    EvaluationExists,
    FeedbackNotFound,
    RectificationNotFound,
)
from matters.feedback.models import (
    AnswerIn,
    Evaluation,
    EvaluationIn,
    Feedback,
    FeedbackIn,
    FeedbackPage,
    RectificationPage,
)

Status = Annotated[Literal["open", "answered"] | None, QueryParameter()]


class EvaluationController(Controller):
    path = "/v1/applications/{application_id:uuid}/evaluation"
    tags = ["applications"]
    security = BEARER

    @post(
        operation_id="EvaluateApplication",
        opt=IDEMPOTENT,
        status_code=201,
        summary="Rate a finished application (好差评, 1 非常不满意 … 5 非常满意), once",
        description="The applicant, or a guardian of the person applied for (either parent of a newborn). "
        "Only when the application is completed or rejected (else 409 `application_not_finished`); a second "
        "rating → 409 `evaluation_exists`. Level ≤ 2 opens a rectification case for the responsible "
        "department, due in `ZB_RECTIFICATION_DAYS` working days; its answer appears in `rectification`. "
        "Accepts `Idempotency-Key`: a retry with the same key gets the stored 201, not `evaluation_exists`.",
        responses=problem_responses(
            ApplicationNotFound, ApplicationNotFinished, EvaluationExists, AssuranceRequired, Unauthorized
        ),
    )
    async def evaluate(
        self,
        request: Request,
        application_id: FromPath[UUID],
        data: JSONBody[EvaluationIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        settings: Config,
        now: Now,
    ) -> Response[Evaluation]:
        who = require_applicant(principal, now)
        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, Any]:
                cal = await catalogue_store.load_calendar(conn)
                return 201, await flows.evaluate(
                    conn,
                    keyring,
                    account_id=principal.require_account(),
                    person_id=who.person_id,
                    application_id=application_id,
                    data=data,
                    now=now,
                    cal=cal,
                    rectification_days=settings.rectification_days,
                )

            return await idempotency.run(request, conn, scope=f"evaluation:{who.account_id}", create=create)  # type: ignore[return-value]

    @get(
        operation_id="GetEvaluation",
        summary="The rating of an application and the department's answer, if any",
        description="The applicant, or a guardian of the person applied for (either parent of a newborn).",
        responses=problem_responses(ApplicationNotFound, AssuranceRequired, Unauthorized),
    )
    async def get_evaluation(
        self, application_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Evaluation:
        who = require_applicant(principal, now)
        async with db.acquire() as conn:
            person = await workflow.locate(conn, who.person_id, application_id)
            app = await applications.get_application(conn, person, application_id)
            if not await workflow.is_party(conn, who.person_id, app, now=now):
                raise ApplicationNotFound()
            evaluation = await store.get_evaluation(conn, keyring, person, application_id, now=now)
        if evaluation is None:
            raise ApplicationNotFound()
        return evaluation


def _staff_department(principal: Principal) -> UUID:
    return principal.require_staff("approver", scope="tasks:handle")


class RectificationController(Controller):
    path = "/v1/dept/rectifications"
    tags = ["department tasks"]
    security = BEARER

    @get(operation_id="ListRectifications", summary="Bad-rating cases (差评整改) of the caller's department")
    async def list_cases(
        self,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        status: Status = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> RectificationPage:
        dept = _staff_department(principal)
        after = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            items = await store.list_rectifications(conn, dept, status=status, after=after, limit=limit, now=now)
        return RectificationPage(
            items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None
        )

    @post(
        "/{rect_id:uuid}/respond",
        operation_id="RespondRectification",
        status_code=200,
        summary="Answer a bad rating; the citizen sees the answer with their rating",
        responses=problem_responses(RectificationNotFound, AlreadyAnswered, Forbidden, Unauthorized),
    )
    async def respond(
        self, rect_id: FromPath[UUID], data: JSONBody[AnswerIn], principal: CurrentPrincipal, db: Db, now: Now
    ) -> dict[str, str]:
        dept = _staff_department(principal)
        async with db.acquire() as conn, conn.transaction():
            await flows.answer_rectification(
                conn, rect_id, department_id=dept, text=data.text, actor=principal.subject, now=now
            )
        return {"status": "answered"}


class FeedbackController(Controller):
    path = "/v1/feedback"
    tags = ["feedback"]
    security = BEARER

    @post(
        operation_id="RaiseFeedback",
        opt=IDEMPOTENT,
        status_code=201,
        summary="Complain, suggest or report an error (请你来找茬)",
        description="Routed to the department of the matter (named, or of the application); otherwise to the operators. "
        "Accepts `Idempotency-Key`: a retry with the same key gets the first answer, not a second case.",
        responses=problem_responses(ApplicationNotFound, Unauthorized),
    )
    async def raise_feedback(
        self, request: Request, data: JSONBody[FeedbackIn], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Response[Feedback]:
        account_id = principal.require_account()
        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, Any]:
                return 201, await flows.raise_feedback(
                    conn, keyring, account_id=account_id, person_id=principal.person_id, data=data, now=now
                )

            return await idempotency.run(request, conn, scope=f"feedback:{account_id}", create=create)  # type: ignore[return-value]

    @get(
        "/{feedback_id:uuid}",
        operation_id="GetFeedback",
        summary="Status of my feedback and the answer",
        responses=problem_responses(FeedbackNotFound, Unauthorized),
    )
    async def get_feedback(
        self, feedback_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys
    ) -> Feedback:
        account_id = principal.require_account()
        async with db.acquire() as conn:
            row = await store.get_feedback(conn, feedback_id)
        if row["account_id"] != account_id:
            raise FeedbackNotFound()
        return store.feedback_view(row, keyring)


class DeptFeedbackController(Controller):
    path = "/v1/dept/feedback"
    tags = ["feedback"]
    security = BEARER

    @get(operation_id="ListDepartmentFeedback", summary="Feedback routed to the caller's department")
    async def list_feedback(
        self,
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        status: Status = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> FeedbackPage:
        dept = _staff_department(principal)
        after = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            items = await store.list_feedback(conn, keyring, dept, status=status, after=after, limit=limit)
        return FeedbackPage(items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None)

    @post(
        "/{feedback_id:uuid}/answer",
        operation_id="AnswerDepartmentFeedback",
        status_code=200,
        summary="Answer feedback routed to the caller's department",
        responses=problem_responses(FeedbackNotFound, AlreadyAnswered, Forbidden, Unauthorized),
    )
    async def answer(
        self,
        feedback_id: FromPath[UUID],
        data: JSONBody[AnswerIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Feedback:
        dept = _staff_department(principal)
        async with db.acquire() as conn, conn.transaction():
            return await flows.answer_feedback(
                conn, keyring, feedback_id, department_id=dept, text=data.text, actor=principal.subject, now=now
            )


class AdminFeedbackController(Controller):
    path = "/v1/admin/feedback"
    tags = ["feedback"]
    security = BEARER

    @get(operation_id="ListOperatorFeedback", summary="Feedback routed to the operators (no department named)")
    async def list_feedback(
        self,
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        status: Status = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> FeedbackPage:
        principal.require_roles("operator")
        after = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            items = await store.list_feedback(conn, keyring, None, status=status, after=after, limit=limit)
        return FeedbackPage(items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None)

    @post(
        "/{feedback_id:uuid}/answer",
        operation_id="AnswerOperatorFeedback",
        status_code=200,
        summary="Answer feedback routed to the operators",
        responses=problem_responses(FeedbackNotFound, AlreadyAnswered, Forbidden, Unauthorized),
    )
    async def answer(
        self,
        feedback_id: FromPath[UUID],
        data: JSONBody[AnswerIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Feedback:
        principal.require_roles("operator")
        async with db.acquire() as conn, conn.transaction():
            return await flows.answer_feedback(
                conn, keyring, feedback_id, department_id=None, text=data.text, actor=principal.subject, now=now
            )


ROUTES = [
    EvaluationController,
    RectificationController,
    FeedbackController,
    DeptFeedbackController,
    AdminFeedbackController,
]
