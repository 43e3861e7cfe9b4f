"""综合受理 at the window: identify the person present, take their consent, read 免提交, submit for them.

Each operation runs in the caller's transaction and is audited. The application belongs to the
citizen (their person, with no login needed); its timeline says which centre and window took it,
and the intake keeps which clerk did.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import msgspec

import auth
import notify
import sync
import wallet
from api.kernel import audit
from api.kernel.crypto import Keyring, mask_id_number, mask_name
from api.kernel.db import Conn, one
from api.kernel.identifiers import id_number_error, normalize_id_number
from api.kernel.ids import uuid7
from api.kernel.problems import FieldError, Problem
from esign import EsignState
from matters import store as catalogue_store
from matters.applications import store as application_store
from matters.applications import views, workflow
from matters.applications.errors import IdNumberInvalid
from matters.applications.models import Application, Prefill, SubmitApplication
from matters.window import store
from matters.window.errors import IntakeNotFound, IntakeSubmitted, WindowConsentRequired, WindowOtherCentre
from matters.window.models import (
    AgentView,
    ConsentAtWindow,
    Intake,
    OpenIntake,
    PersonAtWindow,
    Ref,
    WindowSubmit,
)
from matters.workdays import Calendar

# A consent given at the window lasts while the visit does.
WINDOW_CONSENT_TTL = timedelta(hours=2)


def _check_number(value: str, field: str, *, now: datetime) -> str:
    if error := id_number_error(value, today=now.date()):
        raise IdNumberInvalid(errors=[FieldError(field, error)])
    return normalize_id_number(value)


async def view(conn: Conn, keyring: Keyring, row: asyncpg.Record) -> Intake:
    name = await auth.get_name(conn, keyring, row["person_id"]) or ""
    number = await auth.get_id_number(conn, keyring, row["person_id"]) or ""
    return Intake(
        id=row["id"],
        department=Ref(id=row["department_id"], name=row["department_name"]),
        window=row["window_label"],
        clerk_account_id=row["clerk_account_id"],
        person=PersonAtWindow(
            id=row["person_id"],
            name_masked=mask_name(name),
            id_number_masked=mask_id_number(number),
            has_app=row["has_app"],
        ),
        agent=AgentView(delegation_id=row["delegation_id"], person_id=row["agent_person_id"])
        if row["delegation_id"]
        else None,
        ticket_issued_at=row["ticket_issued_at"],
        opened_at=row["opened_at"],
        consent=ConsentAtWindow(given_at=row["consented_at"], consent_id=row["consent_id"])
        if row["consented_at"]
        else None,
        application_id=row["application_id"],
        submitted_at=row["submitted_at"],
    )


async def load(conn: Conn, intake_id: UUID, department_id: UUID, *, for_update: bool = False) -> asyncpg.Record:
    """The intake, for a clerk of the centre that opened it (another centre's clerk: 403 ``window_other_centre``)."""
    row = await store.get_intake(conn, intake_id, for_update=for_update)
    if row is None:
        raise IntakeNotFound()
    if row["department_id"] != department_id:
        raise WindowOtherCentre("the visit was opened at another service centre")
    return row


async def identify(
    conn: Conn, keyring: Keyring, data: OpenIntake, *, department_id: UUID, clerk: UUID, now: datetime
) -> tuple[UUID, UUID | None, Problem | None]:
    """The person in front of the window (found by the card's number, or recorded now), and with an ``agent`` the
    代办人 whose authorisation was checked and its use logged: (person, agent person, refusal). A refusal is returned
    so the caller commits the log entry before answering 403."""
    number = _check_number(data.citizen.id_number, "citizen.id_number", now=now)
    person = await auth.find_person_id(conn, keyring, number)
    if person is not None:
        await auth.check_person_name(conn, keyring, person, data.citizen.name, field="citizen.name")
    else:
        person = await auth.find_or_create_person(conn, keyring, id_number=number, name=data.citizen.name, now=now)
    if data.agent is None:
        return person, None, None
    _check_number(data.agent.id_number, "agent.id_number", now=now)
    refusal = await auth.use(
        conn,
        keyring,
        data.agent.delegation_id,
        principal_kind="person",
        principal_id=person,
        agent_id_number=data.agent.id_number,
        action="apply",
        matter_codes=None,
        department_id=department_id,
        actor=f"account:{clerk}",
        now=now,
    )
    # auth.use has found the authorisation (it raises DelegationNotFound otherwise), on the person's shard.
    agent = one(await auth.get_delegation(conn, data.agent.delegation_id, principal_id=person), "delegation")[
        "agent_person_id"
    ]
    return person, agent, refusal


async def open_intake(
    conn: Conn,
    keyring: Keyring,
    data: OpenIntake,
    *,
    person: UUID,
    agent: UUID | None,
    department_id: UUID,
    clerk: UUID,
    now: datetime,
) -> Intake:
    """Open the visit of an identified person (see :func:`identify`)."""
    intake_id = uuid7()
    await store.insert_intake(
        conn,
        id=intake_id,
        department_id=department_id,
        window_label=data.window,
        clerk_account_id=clerk,
        person_id=person,
        delegation_id=data.agent.delegation_id if data.agent else None,
        agent_person_id=agent,
        ticket_issued_at=data.ticket_issued_at if data.ticket_issued_at and data.ticket_issued_at <= now else None,
        opened_at=now,
    )
    if data.phone is not None:
        await notify.set_contact_phone(conn, keyring, person, data.phone, by=f"account:{clerk}", now=now)
    await audit.append(
        conn,
        actor=f"account:{clerk}",
        action="window.intake_opened",
        subject=f"intake:{intake_id}",
        data={
            "department": str(department_id),
            "person": str(person),
            "delegation": str(data.agent.delegation_id) if data.agent else None,
        },
        at=now,
    )
    return await view(conn, keyring, one(await store.get_intake(conn, intake_id), "opened intake"))


async def give_consent(
    conn: Conn, keyring: Keyring, row: asyncpg.Record, purpose: str, *, clerk: UUID, now: datetime
) -> Intake:
    """Record the consent the person gives at the window; the same visit consenting again changes nothing."""
    if row["consented_at"] is None:
        consent = await wallet.grant_at_window(
            conn,
            person_id=row["person_id"],
            department_id=row["department_id"],
            clerk=f"account:{clerk}",
            purpose=purpose,
            expires_at=now + WINDOW_CONSENT_TTL,
            now=now,
        )
        await store.set_consent(conn, row["id"], consent.id if consent else None, now=now)
    return await view(conn, keyring, one(await store.get_intake(conn, row["id"]), "intake"))  # loaded by the route


async def read_prefill(
    conn: Conn,
    keyring: Keyring,
    esign: EsignState,
    row: asyncpg.Record,
    bundle_code: str,
    *,
    clerk: UUID,
    now: datetime,
) -> Prefill | Problem:
    """免提交 for the person present: what their wallet supplies, read under the window consent (logged in their access
    log). Without the consent → the problem to raise (after the caller commits the refused read, if any)."""
    if row["consented_at"] is None:
        return WindowConsentRequired("ask the citizen for their consent first (POST …/consent)")
    if row["consent_id"] is not None:
        used = await wallet.use(
            conn,
            esign,
            row["consent_id"],
            department_id=row["department_id"],
            actor=f"account:{clerk}",
            now=now,
        )
        if used.refused is not None:
            return WindowConsentRequired(f"the consent given at the window is {used.refused}")
    return await workflow.prefill(
        conn, keyring, workflow.Applicant(account_id=None, person_id=row["person_id"]), bundle_code, None, now=now
    )


async def submit(
    conn: Conn, keyring: Keyring, row: asyncpg.Record, data: WindowSubmit, *, clerk: UUID, now: datetime, cal: Calendar
) -> tuple[Application | None, bool, Problem | None]:
    """Submit the bundle on the person's behalf: (application, created, refusal to raise after commit)."""
    if row["application_id"] is not None:
        if row["application_id"] != data.id:
            raise IntakeSubmitted(application_id=str(row["application_id"]))
    elif any(m.wallet_item_id for m in data.materials) and row["consent_id"] is None:
        raise WindowConsentRequired("wallet items are read only with the consent given at the window")
    actor = f"account:{clerk}"
    if row["delegation_id"] is not None and row["application_id"] is None:
        codes = [c for c in (data.bundle_code, data.matter_code) if c]
        if data.bundle_code:
            codes += [m.code for m in (await catalogue_store.get_bundle(conn, data.bundle_code)).matters]
        number = await auth.get_id_number(conn, keyring, row["agent_person_id"]) or ""
        refusal = await auth.use(
            conn,
            keyring,
            row["delegation_id"],
            principal_kind="person",
            principal_id=row["person_id"],
            agent_id_number=number,
            action="apply",
            matter_codes=codes,
            department_id=row["department_id"],
            actor=actor,
            application_id=None,
            now=now,
        )
        if refusal is not None:
            return None, False, refusal
    who = workflow.Applicant(account_id=None, person_id=row["person_id"], taken_by=actor)
    app, created = await workflow.submit(
        conn, keyring, who, msgspec.convert(msgspec.to_builtins(data), SubmitApplication), now=now, cal=cal
    )
    if created:
        await store.set_application(conn, row["id"], app.for_person_id, app.id, now=now)
        await application_store.add_event(
            conn,
            app.for_person_id,
            app.id,
            at=now,
            event="taken_at_window",
            actor=actor,
            detail={
                "department": row["department_name"],
                "window": row["window_label"],
                "agent": row["delegation_id"] is not None,
            },
        )
        # The scans are the citizen's: they read them as their own uploads once they have the app.
        scans = [bytes.fromhex(m.blob_sha256) for m in data.materials if m.blob_sha256]
        stored = await sync.get_infos(conn, scans)
        for digest in scans:
            if digest in stored:
                await sync.add_uploader(
                    conn, digest, subject=f"intake:{row['id']}", person_id=row["person_id"], now=now
                )
        await audit.append(
            conn,
            actor=actor,
            action="window.application_taken",
            subject=f"application:{app.id}",
            data={"intake": str(row["id"]), "department": str(row["department_id"]), "person": str(row["person_id"])},
            at=now,
        )
        app = await views.application(conn, keyring, app.for_person_id, app.id)
    return app, created, None
