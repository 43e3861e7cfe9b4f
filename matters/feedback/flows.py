"""Rating an application (好差评) and raising feedback (找茬), shared by HTTP and offline sync."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import auth
from api.kernel import audit, outbox
from api.kernel.crypto import Keyring
from api.kernel.db import Conn, one
from api.kernel.ids import uuid7
from matters.applications import store as applications
from matters.applications import views, workflow
from matters.feedback import service, store
from matters.feedback.errors import AlreadyAnswered, EvaluationExists, FeedbackNotFound
from matters.feedback.models import Evaluation, EvaluationIn, Feedback, FeedbackIn
from matters.workdays import Calendar


async def evaluate(
    conn: Conn,
    keyring: Keyring,
    *,
    account_id: UUID,
    person_id: UUID,
    application_id: UUID,
    data: EvaluationIn,
    now: datetime,
    cal: Calendar,
    rectification_days: int,
) -> Evaluation:
    person = await workflow.locate(conn, person_id, application_id)
    app = await applications.get_application(conn, person, application_id, for_update=True)
    if not await workflow.is_party(conn, person_id, app, now=now):
        raise views.hidden()
    service.check_rateable(app["status"])
    if not await store.insert_evaluation(
        conn, keyring, person, application_id, person_id, data.level, data.comment, data.tags, now
    ):
        raise EvaluationExists()
    actor = f"account:{account_id}"
    await applications.add_event(
        conn, person, application_id, at=now, event="evaluated", actor=actor, detail={"level": data.level}
    )
    if service.opens_rectification(data.level):
        dept = one(
            await store.get_responsible_department(conn, app["bundle_code"], app["matter_code"]),
            "the application's department",
        )
        rect_id = uuid7()
        await store.insert_rectification(
            conn,
            id=rect_id,
            for_person=person,
            application_id=application_id,
            department_id=dept,
            level=data.level,
            due_at=service.rectification_due(cal, now, rectification_days),
            now=now,
        )
        await outbox.enqueue(
            conn,
            "notify",
            {
                "event": "application.rated_badly",
                "application_id": str(application_id),
                "rectification_id": str(rect_id),
                "department_id": str(dept),
                "level": data.level,
            },
            dedup_key=f"rated_badly:{application_id}",
            partition_key=str(dept),
        )
        await audit.append(
            conn,
            actor=actor,
            action="evaluation.bad",
            subject=f"application:{application_id}",
            data={"level": data.level, "rectification_id": str(rect_id)},
            at=now,
        )
    await workflow.publish(
        conn, await views.application(conn, keyring, person, application_id), event="application.evaluated", now=now
    )
    return one(await store.get_evaluation(conn, keyring, person, application_id, now=now), "evaluation just recorded")


async def answer_rectification(
    conn: Conn, rect_id: UUID, *, department_id: UUID, text: str, actor: str, now: datetime
) -> None:
    row = await store.get_rectification(conn, rect_id, department_id=department_id)
    if row["status"] == "answered":
        raise AlreadyAnswered()
    person = row["for_person_id"]
    await store.answer_rectification(conn, person, rect_id, text=text, by=actor, now=now)
    await applications.add_event(
        conn, person, row["application_id"], at=now, event="rectification_answered", actor=actor, detail={}
    )
    app = await applications.get_application(conn, person, row["application_id"])
    await outbox.enqueue(
        conn,
        "notify",
        {
            "event": "rectification.answered",
            "application_id": str(row["application_id"]),
            "person_id": str(workflow.notice_person(app)),
        },
        dedup_key=f"rectification_answered:{rect_id}",
    )
    await audit.append(
        conn, actor=actor, action="rectification.answer", subject=f"rectification:{rect_id}", data={}, at=now
    )


async def raise_feedback(
    conn: Conn, keyring: Keyring, *, account_id: UUID, person_id: UUID | None, data: FeedbackIn, now: datetime
) -> Feedback:
    """Route to the matter's department (named, or of the application); otherwise to the operators. An application
    is named by the account that applied (``person_id``, the account's person, finds it)."""
    department = None
    matter = data.matter_code
    if data.application_id is not None:
        app = (
            await store.get_application_parties(conn, await auth.family(conn, person_id), data.application_id)
            if person_id is not None
            else None
        )
        if app is None or app["applicant_account_id"] != account_id:
            raise views.hidden()
        department = await store.get_responsible_department(conn, app["bundle_code"], app["matter_code"])
        matter = matter or app["matter_code"]
    if matter is not None and department is None:
        department = await store.get_responsible_department(conn, None, matter)
    feedback = await store.insert_feedback(
        conn,
        keyring,
        id=uuid7(),
        kind=data.kind,
        text=data.text,
        account_id=account_id,
        application_id=data.application_id,
        matter_code=matter,
        department_id=department,
        now=now,
    )
    await outbox.enqueue(
        conn,
        "notify",
        {
            "event": "feedback.received",
            "feedback_id": str(feedback.id),
            "department_id": str(department) if department else None,
            "kind": data.kind,
        },
        dedup_key=f"feedback:{feedback.id}",
        partition_key=str(department or ""),
    )
    return feedback


async def answer_feedback(
    conn: Conn,
    keyring: Keyring,
    feedback_id: UUID,
    *,
    department_id: UUID | None,
    text: str,
    actor: str,
    now: datetime,
) -> Feedback:
    row = await store.get_feedback(conn, feedback_id, for_update=True)
    if row["department_id"] != department_id:
        raise FeedbackNotFound()
    if row["status"] == "answered":
        raise AlreadyAnswered()
    answered = await store.answer_feedback(conn, keyring, feedback_id, text=text, by=actor, now=now)
    await outbox.enqueue(
        conn,
        "notify",
        {"event": "feedback.answered", "feedback_id": str(feedback_id), "account_id": str(row["account_id"])},
        dedup_key=f"feedback_answered:{feedback_id}",
    )
    return answered
