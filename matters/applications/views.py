"""Reading applications and tasks back into their wire shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.crypto import Keyring, mask_id_number
from api.kernel.db import Conn, one
from matters.applications import signing, store
from matters.applications.errors import ApplicationNotFound
from matters.applications.models import (
    Application,
    ApplicationTimelineEntry,
    DeptTask,
    EvaluationView,
    ProvidedMaterial,
    TaskView,
)
from matters.applications.service import WalletCertificate
from matters.feedback import store as feedback_store
from matters.models import DepartmentRef


def hidden() -> ApplicationNotFound:
    # Another person's application is "not found", never "forbidden": its existence is private.
    return ApplicationNotFound()


def mask_form(form: dict[str, Any]) -> dict[str, Any]:
    """ID numbers in a form are shown masked to citizens (the handling department sees them whole)."""
    return {k: mask_id_number(v) if k.endswith("id_number") and isinstance(v, str) else v for k, v in form.items()}


def _task_view(t: asyncpg.Record) -> TaskView:
    return TaskView(
        id=t["id"],
        matter_code=t["matter_code"],
        matter_name=t["matter_name"],
        department=DepartmentRef(id=t["department_id"], name=t["department_name"]),
        status=t["status"],
        due_at=t["due_at"],
        decided_at=t["decided_at"],
        reasons=list(t["reasons"]),
        required_materials=list(t["required_materials"]),
        result_certificate_id=t["result_certificate_id"],
    )


async def application(
    conn: Conn, keyring: Keyring, person: UUID, application_id: UUID, *, row: asyncpg.Record | None = None
) -> Application:
    """The application for ``person`` with this id, its tasks, timeline and rating."""
    row = row or await store.get_application(conn, person, application_id)
    tasks = await store.list_tasks(conn, person, application_id)
    events = await store.list_events(conn, person, application_id)
    ev = await conn.fetchrow(
        "SELECT level, comment, comment_sealed, tags, at FROM evaluation WHERE for_person_id = $1 AND application_id = $2",
        person,
        application_id,
    )
    return Application(
        id=row["id"],
        bundle_code=row["bundle_code"],
        matter_code=row["matter_code"],
        applicant_person_id=row["applicant_person_id"],
        for_person_id=row["for_person_id"],
        status=row["status"],
        form=mask_form(store.open_form(keyring, row["form"])),
        materials=msgspec.convert(row["materials"], list[ProvidedMaterial]),
        deferred_materials=list(row["deferred_materials"]),
        supplement_due_at=row["supplement_due_at"],
        submitted_at=row["submitted_at"],
        due_at=row["due_at"],
        completed_at=row["completed_at"],
        tasks=[_task_view(t) for t in tasks],
        timeline=[ApplicationTimelineEntry(at=e["at"], event=e["event"], detail=e["detail"]) for e in events],
        evaluation=EvaluationView(
            level=ev["level"],
            tags=list(ev["tags"]),
            at=ev["at"],
            comment=feedback_store.open_text(
                keyring, ev["comment_sealed"], ev["comment"], context=feedback_store.COMMENT_CONTEXT
            ),
        )
        if ev
        else None,
    )


SCOPE = "SELECT array(SELECT f->>'key' FROM jsonb_array_elements(form) f) AS form, array(SELECT x->>'code' FROM jsonb_array_elements(materials) x) AS materials FROM catalog_matter WHERE code = $1"


async def dept_task(conn: Conn, keyring: Keyring, t: asyncpg.Record, *, now: datetime, esign: Any = None) -> DeptTask:
    """A task as its department sees it: the form fields and materials of its own matter, nothing else, and
    the entity's e-seal signature on the application, checked now (with ``esign``)."""
    app = await store.get_application(conn, t["for_person_id"], t["application_id"])
    scope = one(await conn.fetchrow(SCOPE, t["matter_code"]), "task's matter")  # a foreign key keeps it
    keys, codes = set(scope["form"]), set(scope["materials"])
    return DeptTask(
        id=t["id"],
        application_id=t["application_id"],
        bundle_code=app["bundle_code"],
        matter_code=t["matter_code"],
        matter_name=t["matter_name"],
        status=t["status"],
        due_at=t["due_at"],
        overdue=bool(t["due_at"] and t["due_at"] < now and t["status"] in ("pending", "claimed")),
        claimed_by=t["claimed_by"],
        decided_at=t["decided_at"],
        reasons=list(t["reasons"]),
        required_materials=list(t["required_materials"]),
        result_certificate_id=t["result_certificate_id"],
        for_person_id=app["for_person_id"],
        form={k: v for k, v in store.open_form(keyring, app["form"]).items() if k in keys},
        materials=msgspec.convert([m for m in app["materials"] if m["code"] in codes], list[ProvidedMaterial]),
        entity_signature=await signing.check(conn, esign, keyring, app, now=now),
    )


WALLET_CERTIFICATES = """
SELECT w.id, c.type_code
FROM wallet_item w JOIN esign_certificate c ON c.person_id = w.person_id AND c.id = w.certificate_id
WHERE w.person_id = ANY($1::uuid[]) AND w.kind = 'certificate' AND c.status = 'valid'
  AND (c.valid_until IS NULL OR c.valid_until > $2)
ORDER BY w.created_at DESC
"""


async def wallet_certificates(conn: Conn, person_ids: list[UUID], *, now: datetime) -> dict[UUID, WalletCertificate]:
    """Valid certificates in these persons' wallets, newest first, by wallet item id."""
    rows = await conn.fetch(WALLET_CERTIFICATES, list(dict.fromkeys(person_ids)), now)
    return {r["id"]: WalletCertificate(r["id"], r["type_code"]) for r in rows}


CERTIFICATE_FIELDS = """
SELECT c.type_code, c.fields
FROM wallet_item w JOIN esign_certificate c ON c.person_id = w.person_id AND c.id = w.certificate_id
WHERE w.person_id = ANY($1::uuid[]) AND c.status = 'valid' AND (c.valid_until IS NULL OR c.valid_until > $2)
ORDER BY c.issued_at
"""


async def certificate_fields(conn: Conn, person_ids: list[UUID], *, now: datetime) -> dict[str, dict[str, Any]]:
    """The disclosed (non-sensitive) fields of valid wallet certificates, newest per type."""
    return {
        r["type_code"]: dict(r["fields"])
        for r in await conn.fetch(CERTIFICATE_FIELDS, list(dict.fromkeys(person_ids)), now)
    }
