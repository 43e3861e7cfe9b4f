"""Applying and handling, as operations on one connection inside the caller's transaction.

HTTP routes and offline-sync mutations both call these, so every rule lives once. Each operation
writes the application, its timeline, the change log, the outbox and (for staff decisions) the
audit log together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

import auth
from api.kernel import audit, changelog, outbox
from api.kernel.crypto import Keyring
from api.kernel.db import Conn, one
from api.kernel.identifiers import id_number_birth_date, id_number_sex
from api.kernel.problems import FieldError
from matters import service as catalogue_service
from matters import store as catalogue_store
from matters.applications import births, service, store, views
from matters.applications.errors import (
    ApplicantKindNotAllowed,
    ApplicationClosed,
    ApplicationIdReused,
    FormInvalid,
    NotGuardian,
)
from matters.applications.models import Application, Prefill, PrefillMaterial, PrefillStatus, SubmitApplication
from matters.models import Bundle
from matters.workdays import Calendar, due_at


@dataclass(frozen=True)
class Applicant:
    """Who applies: a person, through their own login, or at a service-centre window (``taken_by``, the clerk's
    subject — then the person may have no login at all)."""

    account_id: UUID | None
    person_id: UUID
    taken_by: str | None = None

    @property
    def actor(self) -> str:
        """How the timeline and the audit name whoever did it."""
        return self.taken_by or f"account:{self.account_id}"


def fingerprint(data: SubmitApplication) -> bytes:
    return hashlib.sha256(msgspec.json.encode(data)).digest()


async def _target(conn: Conn, data: SubmitApplication) -> tuple[Bundle, list[tuple[str, list[str], str | None]], str]:
    """The bundle (or a single matter seen as a one-entry bundle), its entries and its subject."""
    if data.bundle_code is not None and data.matter_code is None:
        bundle = await catalogue_store.get_bundle(conn, data.bundle_code)
        entries = [(m.code, m.after, m.condition) for m in bundle.matters]
        return bundle, entries, await catalogue_store.get_bundle_subject(conn, data.bundle_code)
    if data.matter_code is None or data.bundle_code is not None:
        raise FormInvalid(errors=[FieldError("bundle_code", "give exactly one of bundle_code and matter_code")])
    matter = await catalogue_store.get_matter(conn, data.matter_code)
    entries = [(matter.code, [], None)]
    bundle = catalogue_service.build_bundle(
        code=matter.code,
        name=matter.name,
        life_stage="",
        lead_department=matter.department,
        entries=entries,
        matters={matter.code: matter},
        promised_limit_days=matter.guide.promised_limit_days,
        kinds=matter.applicant_kinds,
    )
    return bundle, entries, "self"


async def submit(
    conn: Conn, keyring: Keyring, who: Applicant, data: SubmitApplication, *, now: datetime, cal: Calendar
) -> tuple[Application, bool]:
    """Accept an application once (综合受理); the same id again returns the stored one."""
    fp = fingerprint(data)
    # The id is unique across everyone: a retry finds its application by the id's key (the same request again
    # gets the stored one); anything else under a known id, another person's above all, is refused.
    await store.lock_id(conn, data.id)
    owner = await store.whose(conn, data.id)
    if owner is not None:
        existing = await store.get_application(conn, owner, data.id)
        if existing["applicant_person_id"] != who.person_id or existing["fingerprint"] != fp:
            raise ApplicationIdReused()
        return await views.application(conn, keyring, owner, data.id, row=existing), False

    bundle, entries, subject = await _target(conn, data)
    kind = "organisation" if await auth.is_org(conn, who.person_id) else "person"
    if kind not in bundle.applicant_kinds:
        raise ApplicantKindNotAllowed(
            f"this is applied for by {' or '.join(bundle.applicant_kinds)}, not by {kind}",
            applicant_kind=kind,
            applicant_kinds=bundle.applicant_kinds,
        )
    # Conditions read the form as sent; then only the matters that apply decide what is required.
    planned = service.plan_tasks(entries, data.form)
    applicable = {t.matter_code for t in planned}
    matters = await catalogue_store.get_matters(conn, sorted(applicable))
    scoped = catalogue_service.build_bundle(
        code=bundle.code,
        name=bundle.name,
        life_stage=bundle.life_stage,
        lead_department=bundle.lead_department,
        entries=[e for e in entries if e[0] in applicable],
        matters=matters,
        promised_limit_days=bundle.promised_limit_days,
    )
    form = service.check_form(scoped.form, data.form, known=[f.key for f in bundle.form], today=now.date())
    applicant_number = await auth.get_id_number(conn, keyring, who.person_id)
    birth = None
    if subject == "newborn":
        births.check_parents(form, applicant_number, today=now.date())
        birth = await births.find_case(conn, keyring, form)
        if births.may_join(birth):
            # The other parent applied for this baby already: one birth, one case, one child.
            person, joined = await births.join(
                conn,
                keyring,
                birth,
                form,
                applicant_person=who.person_id,
                applicant_number=applicant_number,
                actor=who.actor,
                now=now,
            )
            app = await views.application(conn, keyring, person, joined)
            await publish(conn, app, event="application.joined", now=now)
            return app, False
        for_person = await births.newborn(conn, keyring, birth, form, now=now)
    else:
        for_person = await _for_person(conn, who, data, now=now)

    rules = await catalogue_store.material_rules(conn, [m.code for m in scoped.materials])
    wallet = await views.wallet_certificates(conn, [who.person_id, for_person], now=now)
    materials = service.resolve_materials(
        scoped.materials,
        provided={m.code: (m.blob_sha256, m.wallet_item_id) for m in data.materials},
        deferred=data.deferred_materials,
        wallet=wallet,
        deferrable=rules.deferrable,
        holder_fields=rules.holder_fields,
        applicant_id_number=applicant_number,
        form=form,
        known=[m.code for m in bundle.materials],
    )
    deferred = [m.code for m in materials if m.source == "deferred"]
    await store.insert_application(
        conn,
        id=data.id,
        bundle_code=data.bundle_code,
        matter_code=data.matter_code,
        applicant_account_id=who.account_id,
        applicant_person_id=who.person_id,
        for_person_id=for_person,
        form=store.seal_form(keyring, form),
        materials=msgspec.to_builtins(materials),
        deferred_materials=deferred,
        fingerprint=fp,
        submitted_at=now,
        due_at=due_at(cal, now, bundle.promised_limit_days),
        supplement_due_at=due_at(cal, now, DEFERRED_SUPPLEMENT_DAYS) if deferred else None,
    )
    if birth is not None:
        await births.remember(conn, birth, for_person, data.id, now=now)
    for t in planned:
        start = not t.after
        await store.insert_task(
            conn,
            for_person_id=for_person,
            application_id=data.id,
            matter_code=t.matter_code,
            department_id=matters[t.matter_code].department.id,
            required=t.required,
            after=t.after,
            status="pending" if start else "waiting",
            started_at=now if start else None,
            due_at=due_at(cal, now, matters[t.matter_code].guide.promised_limit_days) if start else None,
            now=now,
        )
    actor = who.actor
    await store.add_event(
        conn, for_person, data.id, at=now, event="submitted", actor=actor, detail={"matters": len(planned)}
    )
    if deferred:
        await store.add_event(
            conn,
            for_person,
            data.id,
            at=now,
            event="accepted_with_deferral",
            actor=actor,
            detail={"materials": deferred},
        )
    app = await views.application(conn, keyring, for_person, data.id)
    await publish(conn, app, event="application.received", now=now)
    for task in app.tasks:
        if task.status == "pending":
            await task_event(conn, app, task.id, "task.assigned", now=now)
    return app, True


# 容缺受理: a deferred material is due within this many working days of acceptance.
DEFERRED_SUPPLEMENT_DAYS = 5


async def _for_person(conn: Conn, who: Applicant, data: SubmitApplication, *, now: datetime) -> UUID:
    """Whom the application is for: oneself, or a dependent (guardians only)."""
    if data.for_person_id is None or data.for_person_id == who.person_id:
        return who.person_id
    if not await auth.is_guardian(conn, who.person_id, data.for_person_id, now=now):
        raise NotGuardian()
    return data.for_person_id


async def is_party(conn: Conn, person_id: UUID, app: asyncpg.Record, *, now: datetime) -> bool:
    """May this person act on the application (补正, rating)? The applicant, and the guardians of the person it is
    for — both parents of a newborn, whichever of them applied."""
    if person_id == app["applicant_person_id"]:
        return True
    return app["for_person_id"] != app["applicant_person_id"] and await auth.is_guardian(
        conn, person_id, app["for_person_id"], now=now
    )


def notice_person(app: Application | asyncpg.Record) -> UUID:
    """Whom progress notices name: the person applied for when that is someone else (their guardians hear of it —
    both parents of a newborn), else the applicant."""
    applicant, subject = (
        (app.applicant_person_id, app.for_person_id)
        if isinstance(app, Application)
        else (app["applicant_person_id"], app["for_person_id"])
    )
    return subject if subject != applicant else applicant


async def locate(conn: Conn, person_id: UUID, application_id: UUID) -> UUID:
    """The person an application a citizen names is for, looked for among those they may have applied for or may
    read (themselves and everyone they are or were guardian of); not found otherwise."""
    row = await store.find_application(conn, await auth.family(conn, person_id), application_id)
    if row is None:
        raise views.hidden()
    return row["for_person_id"]


async def withdraw(conn: Conn, keyring: Keyring, who: Applicant, application_id: UUID, *, now: datetime) -> Application:
    person = await locate(conn, who.person_id, application_id)
    row = await store.get_application(conn, person, application_id, for_update=True)
    if row["applicant_person_id"] != who.person_id:
        raise views.hidden()
    if row["status"] in ("completed", "rejected", "withdrawn"):
        raise ApplicationClosed(status=row["status"])
    for task in await store.list_tasks(conn, person, application_id, for_update=True):
        if task["status"] not in ("approved", "rejected", "cancelled"):
            await store.set_task(conn, person, task["id"], status="cancelled", updated_at=now)
    await store.set_application(conn, person, application_id, status="withdrawn", updated_at=now, completed_at=now)
    await store.add_event(conn, person, application_id, at=now, event="withdrawn", actor=who.actor, detail={})
    app = await views.application(conn, keyring, person, application_id)
    await publish(conn, app, event="application.withdrawn", now=now)
    return app


async def refresh_status(conn: Conn, person: UUID, application_id: UUID, *, now: datetime, cal: Calendar) -> list[UUID]:
    """Start tasks whose turn has come, cancel those that never can, re-aggregate the status.

    Returns the tasks started now.
    """
    started: list[UUID] = []
    while True:
        tasks = await store.list_tasks(conn, person, application_id, for_update=True)
        by_matter = {t["matter_code"]: t["status"] for t in tasks}
        changed = False
        for t in tasks:
            if t["status"] != "waiting":
                continue
            if service.blocked(t["after_matters"], by_matter):
                await store.set_task(conn, person, t["id"], status="cancelled", updated_at=now)
                changed = True
            elif service.ready(t["after_matters"], by_matter):
                limit = await conn.fetchval(
                    "SELECT (guide->>'promised_limit_days')::int FROM catalog_matter WHERE code = $1", t["matter_code"]
                )
                await store.set_task(
                    conn,
                    person,
                    t["id"],
                    status="pending",
                    started_at=now,
                    due_at=due_at(cal, now, limit),
                    updated_at=now,
                )
                started.append(t["id"])
                changed = True
        if not changed:
            break
    row = await store.get_application(conn, person, application_id)
    status = service.application_status(
        [(t["status"], t["required"]) for t in tasks], withdrawn=row["status"] == "withdrawn"
    )
    if status != row["status"]:
        done = status in ("completed", "rejected")
        await store.set_application(
            conn, person, application_id, status=status, updated_at=now, completed_at=now if done else None
        )
        if done:
            await store.add_event(conn, person, application_id, at=now, event=status, actor="system", detail={})
            await _tell_window(conn, application_id, status, now=now)
    else:
        await store.set_application(conn, person, application_id, updated_at=now)
    return started


TELL_WINDOW = """
UPDATE window_intake SET ready_at = $2 WHERE application_id = $1 AND ready_at IS NULL
RETURNING department_id, person_id
"""


async def _tell_window(conn: Conn, application_id: UUID, status: str, *, now: datetime) -> None:
    """统一窗口出件: an application taken at a window joins that centre's pick-up queue when its last task is done, and
    the citizen is told to come for the paper results (inbox, and a text message to a phone they gave)."""
    row = await conn.fetchrow(TELL_WINDOW, application_id, now)
    if row is None:
        return
    await outbox.enqueue(
        conn,
        "notify",
        {
            "event": "application.ready_for_pickup",
            "application_id": str(application_id),
            "person_id": str(row["person_id"]),
            "department_id": str(row["department_id"]),
            "status": status,
        },
        dedup_key=f"application.ready_for_pickup:{application_id}",
    )


async def publish(conn: Conn, app: Application, *, event: str, now: datetime) -> None:
    """Mirror the application to its people's devices and tell whoever should know."""
    await changelog.record_change_each(
        conn, {app.applicant_person_id, app.for_person_id}, "application", app.id, "put", msgspec.to_builtins(app)
    )
    await outbox.enqueue(
        conn,
        "notify",
        {"event": event, "application_id": str(app.id), "person_id": str(notice_person(app)), "status": app.status},
        dedup_key=f"{event}:{app.id}:{now.isoformat()}",
    )


async def task_event(conn: Conn, app: Application, task_id: UUID, event: str, *, now: datetime) -> None:
    task = next(t for t in app.tasks if t.id == task_id)
    await outbox.enqueue(
        conn,
        "notify",
        {
            "event": event,
            "application_id": str(app.id),
            "task_id": str(task_id),
            "matter_code": task.matter_code,
            "department_id": str(task.department.id),
            "status": task.status,
        },
        dedup_key=f"{event}:{task_id}:{now.isoformat()}",
        partition_key=str(task.department.id),
    )


async def audit_decision(
    conn: Conn, *, actor: str, action: str, task_id: UUID, data: dict[str, Any], now: datetime
) -> None:
    await audit.append(conn, actor=actor, action=action, subject=f"task:{task_id}", data=data, at=now)


async def prefill(
    conn: Conn, keyring: Keyring, who: Applicant, bundle_code: str, for_person_id: UUID | None, *, now: datetime
) -> Prefill:
    """What the platform can fill in and hand in for a bundle before the citizen types anything (免提交)."""
    bundle = await catalogue_store.get_bundle(conn, bundle_code)
    subject_kind = await catalogue_store.get_bundle_subject(conn, bundle_code)
    subject_id = None
    if for_person_id is not None and for_person_id != who.person_id:
        if not await auth.is_guardian(conn, who.person_id, for_person_id, now=now):
            raise NotGuardian()
        subject_id = for_person_id
    applicant = await _someone(conn, keyring, who.person_id)
    subject = await _someone(conn, keyring, subject_id) if subject_id else None
    people = [who.person_id, *([subject_id] if subject_id else [])]
    form = service.prefill_form(
        bundle.form,
        applicant=applicant,
        subject=subject,
        newborn=subject_kind == "newborn",
        certificate_fields=await views.certificate_fields(conn, people, now=now),
    )
    rules = await catalogue_store.material_rules(conn, [m.code for m in bundle.materials])
    wallet = await views.wallet_certificates(conn, people, now=now)
    materials = []
    for m in bundle.materials:
        found = service.source_without_upload(
            m, wallet=wallet, holder_fields=rules.holder_fields, form=form, applicant_id_number=applicant.id_number
        )
        status = _PREFILL_STATUS[found.source] if found else "needed"
        materials.append(
            PrefillMaterial(
                code=m.code,
                status=status,
                wallet_item_id=found.wallet_item_id if found else None,
                produced_by_matter=found.produced_by_matter if found else None,
            )
        )
    return Prefill(form=form, materials=materials)


# Where source_without_upload finds a material (never an upload or a deferral), as the prefill names it.
_PREFILL_STATUS: dict[str, PrefillStatus] = {
    "wallet": "from_wallet",
    "bundle": "from_bundle",
    "department": "from_department",
}


async def _someone(conn: Conn, keyring: Keyring, person_id: UUID) -> service.Someone:
    person = one(await auth.get_person(conn, keyring, person_id), "person")
    number = person.id_number
    return service.Someone(
        id_number=number,
        name=person.name,
        sex=person.sex or (id_number_sex(number) if number else None),
        born_on=person.born_on or (id_number_birth_date(number) if number else None),
    )
