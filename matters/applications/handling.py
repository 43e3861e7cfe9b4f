"""Department handling (分类审批) and the citizen's supplement (补正).

Every decision is audited and lands in the application's timeline; approval may issue the
matter's result certificate straight into the right person's wallet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

import auth
from api.kernel import authority, changelog
from api.kernel.crypto import Keyring
from api.kernel.db import Conn, one
from api.kernel.identifiers import id_number_error, normalize_id_number
from api.kernel.problems import FieldError
from matters.applications import service, store, views, workflow
from matters.applications.errors import (
    AssignedIdNumberMismatch,
    IdNumberInvalid,
    MaterialInvalid,
    ReasonsRequired,
    TaskStateConflict,
)
from matters.applications.models import Application, ApproveIn, MaterialRef, RejectIn, SupplementRequestIn
from matters.workdays import Calendar, due_at, working_days_between

# (conn, task record, application record, result fields, now) -> certificate id; provided by esign.
IssueResult = Callable[[Conn, asyncpg.Record, asyncpg.Record, dict[str, Any], datetime], Awaitable[UUID]]

OPEN = ("pending", "claimed")


async def _load(
    conn: Conn, task_id: UUID, department_id: UUID, allowed: tuple[str, ...], *, actor: str
) -> asyncpg.Record:
    task = await store.get_task(conn, task_id, department_id=department_id)  # by id alone: the row names the person
    person = task["for_person_id"]
    # A task stays with the department it was routed to; deciding it needs the matter still to be the department's.
    await authority.require(conn, department_id, authority.matter(task["matter_code"]), actor=actor)
    # The family's change-log heads before the application: the order every writer keeps (api.kernel.changelog).
    app = await store.get_application(conn, person, task["application_id"])
    await changelog.lock_heads(conn, {app["applicant_person_id"], app["for_person_id"]})
    await store.get_application(conn, person, task["application_id"], for_update=True)
    task = await store.get_task(conn, task_id, department_id=department_id, person=person)  # re-read under the lock
    if task["status"] not in allowed:
        raise TaskStateConflict(status=task["status"])
    return task


async def claim(
    conn: Conn, keyring: Keyring, task_id: UUID, *, department_id: UUID, actor: str, now: datetime, cal: Calendar
) -> Application:
    task = await _load(conn, task_id, department_id, ("pending",), actor=actor)
    await store.set_task(conn, task["for_person_id"], task_id, status="claimed", claimed_by=actor, updated_at=now)
    return await _after_decision(
        conn, keyring, task, "task_claimed", actor, {"matter_code": task["matter_code"]}, now=now, cal=cal
    )


async def approve(
    conn: Conn,
    keyring: Keyring,
    task_id: UUID,
    data: ApproveIn,
    *,
    department_id: UUID,
    actor: str,
    now: datetime,
    cal: Calendar,
    issue_result: IssueResult,
) -> Application:
    task = await _load(conn, task_id, department_id, OPEN, actor=actor)
    app = await store.get_application(conn, task["for_person_id"], task["application_id"])
    if data.assigned_id_number is not None:
        await _assign_id_number(conn, keyring, app["for_person_id"], data.assigned_id_number, now=now)
    result_matter = await conn.fetchval(
        "SELECT result_certificate_type FROM catalog_matter WHERE code = $1", task["matter_code"]
    )
    certificate_id = None
    if result_matter is not None:
        form = store.open_form(keyring, app["form"])
        values = {**form, **data.result_fields}
        if data.assigned_credit_code is not None:
            values["credit_code"] = data.assigned_credit_code
        certificate_id = await issue_result(conn, task, app, values, now)
    await store.set_task(
        conn,
        task["for_person_id"],
        task_id,
        status="approved",
        decided_at=now,
        claimed_by=task["claimed_by"] or actor,
        result_certificate_id=certificate_id,
        updated_at=now,
    )
    detail = {"matter_code": task["matter_code"], "certificate_id": str(certificate_id) if certificate_id else None}
    await workflow.audit_decision(conn, actor=actor, action="task.approve", task_id=task_id, data=detail, now=now)
    return await _after_decision(conn, keyring, task, "task_approved", actor, detail, now=now, cal=cal)


async def _assign_id_number(conn: Conn, keyring: Keyring, person_id: UUID, number: str, *, now: datetime) -> None:
    problem = id_number_error(number, today=now.date())
    if problem:
        raise IdNumberInvalid(errors=[FieldError("assigned_id_number", problem)])
    born_on, sex = one(await auth.get_birth(conn, person_id), "subject person")
    mismatch = service.assigned_number_problems(normalize_id_number(number), born_on=born_on, sex=sex)
    if mismatch:
        raise AssignedIdNumberMismatch(errors=mismatch)
    try:
        await auth.assign_id_number(conn, keyring, person_id, normalize_id_number(number))
    except auth.IdNumberTaken:
        raise IdNumberInvalid(errors=[FieldError("assigned_id_number", "already assigned to another person")]) from None


async def reject(
    conn: Conn,
    keyring: Keyring,
    task_id: UUID,
    data: RejectIn,
    *,
    department_id: UUID,
    actor: str,
    now: datetime,
    cal: Calendar,
) -> Application:
    # 不打回票打清单: a rejection must say why, and what would be needed.
    reasons = [r.strip() for r in data.reasons if r.strip()]
    if not reasons:
        raise ReasonsRequired(errors=[FieldError("reasons", "at least one reason is required")])
    task = await _load(conn, task_id, department_id, OPEN, actor=actor)
    await store.set_task(
        conn,
        task["for_person_id"],
        task_id,
        status="rejected",
        decided_at=now,
        reasons=reasons,
        required_materials=data.required_materials,
        updated_at=now,
    )
    detail = {"matter_code": task["matter_code"], "reasons": reasons, "required_materials": data.required_materials}
    await workflow.audit_decision(conn, actor=actor, action="task.reject", task_id=task_id, data=detail, now=now)
    return await _after_decision(conn, keyring, task, "task_rejected", actor, detail, now=now, cal=cal)


async def request_supplement(
    conn: Conn,
    keyring: Keyring,
    task_id: UUID,
    data: SupplementRequestIn,
    *,
    department_id: UUID,
    actor: str,
    now: datetime,
    cal: Calendar,
) -> Application:
    if not data.required_materials:
        raise MaterialInvalid(errors=[FieldError("required_materials", "name at least one material")])
    task = await _load(conn, task_id, department_id, OPEN, actor=actor)
    await store.set_task(
        conn,
        task["for_person_id"],
        task_id,
        status="needs_supplement",
        required_materials=data.required_materials,
        note=data.note,
        paused_at=now,
        claimed_by=task["claimed_by"] or actor,
        updated_at=now,
    )
    detail = {"matter_code": task["matter_code"], "required_materials": data.required_materials, "note": data.note}
    await workflow.audit_decision(
        conn, actor=actor, action="task.request_supplement", task_id=task_id, data=detail, now=now
    )
    return await _after_decision(conn, keyring, task, "supplement_requested", actor, detail, now=now, cal=cal)


async def supplement(
    conn: Conn,
    keyring: Keyring,
    who: workflow.Applicant,
    application_id: UUID,
    materials: list[MaterialRef],
    *,
    now: datetime,
    cal: Calendar,
) -> Application:
    """The citizen hands in what was asked for; waiting tasks resume, their clock extended by the pause."""
    person = await workflow.locate(conn, who.person_id, application_id)
    app = await store.get_application(conn, person, application_id, for_update=True)
    if not await workflow.is_party(conn, who.person_id, app, now=now):
        raise views.hidden()
    given = {m.code: m for m in materials}
    bad = [m.code for m in materials if (m.blob_sha256 is None) == (m.wallet_item_id is None)]
    if bad:
        raise MaterialInvalid(
            errors=[FieldError(f"materials.{c}", "give exactly one of blob_sha256, wallet_item_id") for c in bad]
        )
    wallet = await views.wallet_certificates(conn, [who.person_id, app["for_person_id"]], now=now)
    for m in materials:
        if m.wallet_item_id is not None and m.wallet_item_id not in wallet:
            raise MaterialInvalid(errors=[FieldError(f"materials.{m.code}", "no such valid certificate in the wallet")])
    stored = [x for x in app["materials"] if x["code"] not in given]
    for m in materials:
        source = (
            {"source": "wallet", "wallet_item_id": str(m.wallet_item_id)}
            if m.wallet_item_id
            else {"source": "blob", "blob_sha256": m.blob_sha256}
        )
        stored.append({"code": m.code, **source})
    deferred = [c for c in app["deferred_materials"] if c not in given]
    await store.set_application(
        conn,
        person,
        application_id,
        materials=stored,
        deferred_materials=deferred,
        supplement_due_at=app["supplement_due_at"] if deferred else None,
        updated_at=now,
    )
    resumed = []
    for t in await store.list_tasks(conn, person, application_id, for_update=True):
        if t["status"] == "needs_supplement" and set(t["required_materials"]) <= set(given):
            paused = working_days_between(cal, t["paused_at"].date(), now.date())
            new_due = due_at(cal, t["due_at"], paused) if t["due_at"] else None
            await store.set_task(
                conn, person, t["id"], status="claimed", paused_at=None, due_at=new_due, updated_at=now
            )
            resumed.append(t["matter_code"])
    actor = who.actor
    await store.add_event(
        conn,
        person,
        application_id,
        at=now,
        event="supplemented",
        actor=actor,
        detail={"materials": sorted(given), "resumed": resumed},
    )
    started = await workflow.refresh_status(conn, person, application_id, now=now, cal=cal)
    result = await views.application(conn, keyring, person, application_id)
    for task_id in started:
        await workflow.task_event(conn, result, task_id, "task.assigned", now=now)
    await workflow.publish(conn, result, event="application.supplemented", now=now)
    return result


async def _after_decision(
    conn: Conn,
    keyring: Keyring,
    task: asyncpg.Record,
    event: str,
    actor: str,
    detail: dict[str, Any],
    *,
    now: datetime,
    cal: Calendar,
) -> Application:
    person = task["for_person_id"]
    await store.add_event(conn, person, task["application_id"], at=now, event=event, actor=actor, detail=detail)
    started = await workflow.refresh_status(conn, person, task["application_id"], now=now, cal=cal)
    app = await views.application(conn, keyring, person, task["application_id"])
    await workflow.publish(conn, app, event=f"application.{event}", now=now)
    for task_id in started:
        await workflow.task_event(conn, app, task_id, "task.assigned", now=now)
    return app
