"""好差评 (ratings), rectification cases and 找茬 feedback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

import auth
from api.deps import Config, Db, Keys, Now
from api.kernel import idempotency, responses
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import Forbidden, Unauthorized, problem_responses
from api.openapi import IDEMPOTENT
from auth import BEARER, AssuranceRequired, CurrentPrincipal, Principal
from matters import store as catalogue_store
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

            made = await idempotency.run(request, conn, scope=f"evaluation:{who.account_id}", create=create)
            return responses.answer(made, Evaluation)

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
            app = await store.get_application_parties(conn, await auth.family(conn, who.person_id), application_id)
            if app is None or not await workflow.is_party(conn, who.person_id, app, now=now):
                raise ApplicationNotFound()
            evaluation = await store.get_evaluation(conn, keyring, app["for_person_id"], application_id, now=now)
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

            made = await idempotency.run(request, conn, scope=f"feedback:{account_id}", create=create)
            return responses.answer(made, Feedback)

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


def _operators(principal: Principal) -> None:
    principal.require_roles("operator")


def _answering(
    path: str, desk: Callable[[Principal], UUID | None], *, name: str, list_summary: str, answer_summary: str
) -> type[Controller]:
    """The controller of a desk that lists and answers the feedback routed to it: a department's
    (``desk`` gives the caller's department) or the operators' (``desk`` checks the role, gives ``None``)."""

    class Answering(Controller):
        tags = ["feedback"]
        security = BEARER

        @get(operation_id=f"List{name}Feedback", summary=list_summary)
        async def list_feedback(
            self,
            principal: CurrentPrincipal,
            db: Db,
            keyring: Keys,
            status: Status = None,
            cursor: Cursor = None,
            limit: Limit = DEFAULT_LIMIT,
        ) -> FeedbackPage:
            department_id = desk(principal)
            after = decode_cursor(cursor, UUID) if cursor else None
            async with db.acquire() as conn:
                items = await store.list_feedback(conn, keyring, department_id, status=status, after=after, limit=limit)
            return FeedbackPage(
                items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None
            )

        @post(
            "/{feedback_id:uuid}/answer",
            operation_id=f"Answer{name}Feedback",
            status_code=200,
            summary=answer_summary,
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
            department_id = desk(principal)
            async with db.acquire() as conn, conn.transaction():
                return await flows.answer_feedback(
                    conn,
                    keyring,
                    feedback_id,
                    department_id=department_id,
                    text=data.text,
                    actor=principal.subject,
                    now=now,
                )

    Answering.path = path
    Answering.__name__ = Answering.__qualname__ = f"{name}FeedbackController"
    return Answering


DeptFeedbackController = _answering(
    "/v1/dept/feedback",
    _staff_department,
    name="Department",
    list_summary="Feedback routed to the caller's department",
    answer_summary="Answer feedback routed to the caller's department",
)
AdminFeedbackController = _answering(
    "/v1/admin/feedback",
    _operators,
    name="Operator",
    list_summary="Feedback routed to the operators (no department named)",
    answer_summary="Answer feedback routed to the operators",
)


ROUTES = [
    EvaluationController,
    RectificationController,
    FeedbackController,
    DeptFeedbackController,
    AdminFeedbackController,
]
