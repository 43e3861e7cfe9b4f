"""Ratings, rectifications and feedback: SQL next to its only caller."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from api.kernel.crypto import Keyring, mask_free_text
from api.kernel.db import Conn, one
from matters.feedback.errors import FeedbackNotFound, RectificationNotFound
from matters.feedback.models import LEVEL_NAMES, Evaluation, Feedback, Rectification

TEXT_CONTEXT = "feedback.text"
COMMENT_CONTEXT = "evaluation.comment"


def open_text(keyring: Keyring, sealed: bytes | None, legacy: str | None, *, context: str) -> str | None:
    """What the citizen wrote, as every response shows it: ID numbers and mobile numbers masked.

    Rows from before sealing keep their (already masked) clear column.
    """
    text = keyring.decrypt_str(sealed, context=context) if sealed is not None else legacy
    return None if text is None else mask_free_text(text)


def _rectification(r: asyncpg.Record, now: datetime) -> Rectification:
    return Rectification(
        id=r["id"],
        application_id=r["application_id"],
        department_id=r["department_id"],
        level=r["level"],
        status=r["status"],
        due_at=r["due_at"],
        overdue=r["status"] == "open" and r["due_at"] < now,
        answer=r["answer"],
        answered_at=r["answered_at"],
    )


INSERT_EVALUATION = """
INSERT INTO evaluation (for_person_id, application_id, person_id, level, comment_sealed, tags, at)
VALUES ($7, $1, $2, $3, $4, $5, $6)
ON CONFLICT ON CONSTRAINT evaluation_pkey DO NOTHING
RETURNING application_id
"""


async def insert_evaluation(
    conn: Conn,
    keyring: Keyring,
    for_person: UUID,
    application_id: UUID,
    person_id: UUID,
    level: int,
    comment: str | None,
    tags: list[str],
    at: datetime,
) -> bool:
    """The rating ``person_id`` gives the application for ``for_person``, once."""
    sealed = None if comment is None else keyring.encrypt(comment, context=COMMENT_CONTEXT)
    return (
        await conn.fetchval(INSERT_EVALUATION, application_id, person_id, level, sealed, tags, at, for_person)
        is not None
    )


async def insert_rectification(
    conn: Conn,
    *,
    id: UUID,
    for_person: UUID,
    application_id: UUID,
    department_id: UUID,
    level: int,
    due_at: datetime,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO rectification (id, for_person_id, application_id, department_id, level, due_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        for_person,
        application_id,
        department_id,
        level,
        due_at,
        now,
    )


async def get_evaluation(
    conn: Conn, keyring: Keyring, person: UUID, application_id: UUID, *, now: datetime
) -> Evaluation | None:
    e = await conn.fetchrow(
        "SELECT * FROM evaluation WHERE for_person_id = $1 AND application_id = $2", person, application_id
    )
    if e is None:
        return None
    r = await conn.fetchrow(
        "SELECT * FROM rectification WHERE for_person_id = $1 AND application_id = $2", person, application_id
    )
    return Evaluation(
        application_id=application_id,
        level=e["level"],
        level_name=LEVEL_NAMES[e["level"]],
        comment=open_text(keyring, e["comment_sealed"], e["comment"], context=COMMENT_CONTEXT),
        tags=list(e["tags"]),
        at=e["at"],
        rectification=_rectification(r, now) if r else None,
    )


LIST_RECTIFICATIONS = """
SELECT * FROM rectification
WHERE department_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id > $3)
ORDER BY id LIMIT $4
"""


async def list_rectifications(
    conn: Conn, department_id: UUID, *, status: str | None, after: UUID | None, limit: int, now: datetime
) -> list[Rectification]:
    return [_rectification(r, now) for r in await conn.fetch(LIST_RECTIFICATIONS, department_id, status, after, limit)]


async def get_rectification(conn: Conn, rect_id: UUID, *, department_id: UUID) -> asyncpg.Record:
    """The rectification, locked. A department knows it by its id: found first without its person (on every shard of
    a cluster, by rectification_id_idx), then read and locked with it."""
    person = await conn.fetchval("SELECT for_person_id FROM rectification WHERE id = $1", rect_id)
    row = (
        None
        if person is None
        else await conn.fetchrow(
            "SELECT * FROM rectification WHERE for_person_id = $1 AND id = $2 FOR UPDATE", person, rect_id
        )
    )
    if row is None or row["department_id"] != department_id:
        raise RectificationNotFound()
    return row


async def answer_rectification(conn: Conn, person: UUID, rect_id: UUID, *, text: str, by: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE rectification SET status = 'answered', answer = $3, answered_by = $4, answered_at = $5"
        " WHERE for_person_id = $1 AND id = $2",
        person,
        rect_id,
        text,
        by,
        now,
    )


def feedback_view(r: asyncpg.Record, keyring: Keyring) -> Feedback:
    return Feedback(
        id=r["id"],
        kind=r["kind"],
        text=open_text(keyring, r["text_sealed"], r["text"], context=TEXT_CONTEXT) or "",
        application_id=r["application_id"],
        matter_code=r["matter_code"],
        department_id=r["department_id"],
        status=r["status"],
        answer=r["answer"],
        answered_at=r["answered_at"],
        created_at=r["created_at"],
    )


# A citizen names an application by its id: it is for them or someone they are or were guardian of (``family``,
# ``auth.family``). The id's key says whose it is (matters.applications.store.find_application), then the
# application is read on that person's rows.
APPLICATION_PERSON = "SELECT for_person_id FROM application_key WHERE id = $1"
GET_APPLICATION_PARTIES = """
SELECT bundle_code, matter_code, applicant_account_id, applicant_person_id, for_person_id FROM application
WHERE for_person_id = $1 AND id = $2
"""


async def get_application_parties(conn: Conn, family: list[UUID], application_id: UUID) -> asyncpg.Record | None:
    """Whose an application is (who may rate it, raise feedback on it) and its bundle or matter (who answers)."""
    person = await conn.fetchval(APPLICATION_PERSON, application_id)
    if person is None or person not in family:
        return None
    return await conn.fetchrow(GET_APPLICATION_PARTIES, person, application_id)


GET_BUNDLE_LEAD_DEPARTMENT = "SELECT lead_department_id FROM catalog_bundle WHERE code = $1"
GET_MATTER_DEPARTMENT = "SELECT department_id FROM catalog_matter WHERE code = $1"


async def get_responsible_department(conn: Conn, bundle_code: str | None, matter_code: str | None) -> UUID | None:
    """A bundle answers through its lead department (综合受理); a single matter through its own.

    ``None`` for a code the catalogue does not have.
    """
    if bundle_code:
        return await conn.fetchval(GET_BUNDLE_LEAD_DEPARTMENT, bundle_code)
    return await conn.fetchval(GET_MATTER_DEPARTMENT, matter_code)


INSERT_FEEDBACK = """
INSERT INTO feedback (id, kind, text_sealed, account_id, application_id, matter_code, department_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *
"""


async def insert_feedback(conn: Conn, keyring: Keyring, **f: object) -> Feedback:
    sealed = keyring.encrypt(str(f["text"]), context=TEXT_CONTEXT)
    row = await conn.fetchrow(
        INSERT_FEEDBACK,
        f["id"],
        f["kind"],
        sealed,
        f["account_id"],
        f["application_id"],
        f["matter_code"],
        f["department_id"],
        f["now"],
    )
    return feedback_view(one(row, "inserted feedback"), keyring)


async def get_feedback(conn: Conn, feedback_id: UUID, *, for_update: bool = False) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM feedback WHERE id = $1" + (" FOR UPDATE" if for_update else ""), feedback_id
    )
    if row is None:
        raise FeedbackNotFound()
    return row


LIST_FEEDBACK = """
SELECT * FROM feedback
WHERE department_id IS NOT DISTINCT FROM $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id > $3)
ORDER BY id LIMIT $4
"""


async def list_feedback(
    conn: Conn,
    keyring: Keyring,
    department_id: UUID | None,
    *,
    status: str | None,
    after: UUID | None,
    limit: int,
) -> list[Feedback]:
    """Feedback routed to a department (or, with ``None``, to the operators)."""
    return [feedback_view(r, keyring) for r in await conn.fetch(LIST_FEEDBACK, department_id, status, after, limit)]


async def answer_feedback(
    conn: Conn, keyring: Keyring, feedback_id: UUID, *, text: str, by: str, now: datetime
) -> Feedback:
    row = await conn.fetchrow(
        "UPDATE feedback SET status = 'answered', answer = $2, answered_by = $3, answered_at = $4 WHERE id = $1 RETURNING *",
        feedback_id,
        text,
        by,
        now,
    )
    return feedback_view(one(row, "answered feedback"), keyring)  # the caller has loaded it under lock
