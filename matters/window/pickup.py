"""统一窗口出件: the pick-up queue, the printed pages and the recorded hand-over, for the centre that took it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import auth
from api.kernel import audit
from api.kernel.crypto import Keyring, mask_id_number, mask_name
from api.kernel.db import Conn
from api.kernel.identifiers import id_number_error, normalize_id_number
from api.kernel.ids import uuid7
from api.kernel.problems import FieldError, Problem, ValidationFailed
from esign import EsignState, certificate_view, seal_name
from matters.applications import store as application_store
from matters.applications.errors import IdNumberInvalid
from matters.window import printing
from matters.window.errors import (
    AlreadyHandedOver,
    IntakeNotFound,
    NotReadyForPickup,
    RecipientMismatch,
    WindowOtherCentre,
)
from matters.window.models import Handover, HandoverIn, PersonAtWindow, Pickup, Ref, ResultRef

DONE = ("completed", "rejected")

# The visits (on the coordinator of a cluster) first, then their applications' states on their persons' shards.
QUEUE = """
SELECT i.id AS intake_id, i.application_id, i.for_person_id, i.person_id, i.window_label, i.submitted_at, i.ready_at,
       EXISTS (SELECT 1 FROM auth_account x WHERE x.person_id = i.person_id) AS has_app
FROM window_intake i
WHERE i.department_id = $1 AND i.ready_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM window_handover h WHERE h.application_id = i.application_id)
  AND ($2::uuid IS NULL OR i.application_id > $2)
ORDER BY i.application_id LIMIT $3
"""

# A result certificate is issued to the person the application is for, or to the organisation it founded (a business
# licence; matters.applications.results): the tasks name the certificates (on the application's person's shard of a
# cluster), the certificates' keys their holders (on the coordinator), then the certificates are read on the
# holders' shards. (A join of the tasks with the certificates holds only where the holder is the application's
# person, and on a cluster only on one shard.)
RESULT_IDS = """
SELECT result_certificate_id FROM application_task
WHERE for_person_id = $1 AND application_id = $2 AND result_certificate_id IS NOT NULL
"""
HOLDERS = "SELECT person_id FROM esign_certificate_key WHERE id = ANY($1::uuid[])"
RESULTS = """
SELECT c.id, t.name AS type_name, c.licence_id, c.seal_id
FROM esign_certificate c JOIN certificate_type t ON t.code = c.type_code
WHERE c.person_id = ANY($2::uuid[]) AND c.id = ANY($1::uuid[]) AND c.status = 'valid'
ORDER BY c.issued_at, c.id
"""


async def _results(conn: Conn, person: UUID, application_id: UUID) -> list[Any]:
    ids = [r[0] for r in await conn.fetch(RESULT_IDS, person, application_id)]
    holders = list({r[0] for r in await conn.fetch(HOLDERS, ids)}) if ids else []
    return list(await conn.fetch(RESULTS, ids, holders)) if holders else []


async def results(conn: Conn, person: UUID, application_id: UUID) -> list[ResultRef]:
    return [
        ResultRef(id=r["id"], type_name=r["type_name"], licence_id=r["licence_id"])
        for r in await _results(conn, person, application_id)
    ]


async def queue(conn: Conn, keyring: Keyring, department_id: UUID, *, after: UUID | None, limit: int) -> list[Pickup]:
    """The centre's applications ready to be handed over, oldest first."""
    out = []
    rows = await conn.fetch(QUEUE, department_id, after, limit)
    states = await application_store.states(conn, [(r["for_person_id"], r["application_id"]) for r in rows])
    for r in rows:
        state = states[r["application_id"]]
        name = await auth.get_name(conn, keyring, r["person_id"]) or ""
        number = await auth.get_id_number(conn, keyring, r["person_id"]) or ""
        out.append(
            Pickup(
                application_id=r["application_id"],
                intake_id=r["intake_id"],
                title=state["title"] or "",
                status=state["status"],
                person=PersonAtWindow(
                    id=r["person_id"],
                    name_masked=mask_name(name),
                    id_number_masked=mask_id_number(number),
                    has_app=r["has_app"],
                ),
                window=r["window_label"],
                submitted_at=r["submitted_at"],
                ready_at=r["ready_at"],
                results=await results(conn, r["for_person_id"], r["application_id"]),
            )
        )
    return out


async def load(conn: Conn, application_id: UUID, department_id: UUID) -> dict[str, Any]:
    """The window visit that took the application, for a clerk of that centre."""
    row = await conn.fetchrow(
        "SELECT i.*, d.name AS department_name FROM window_intake i JOIN department d ON d.id = i.department_id"
        " WHERE i.application_id = $1",
        application_id,
    )
    if row is None:
        raise IntakeNotFound()
    if row["department_id"] != department_id:
        raise WindowOtherCentre("the application was taken at another service centre")
    app = await application_store.get_application(conn, row["for_person_id"], application_id)
    return {**dict(row), "status": app["status"], "bundle_code": app["bundle_code"], "matter_code": app["matter_code"]}


async def print_results(
    conn: Conn, keyring: Keyring, esign: EsignState, row: Mapping[str, Any], *, now: datetime
) -> bytes:
    """The PDF of the application's result certificates, one A4 page each."""
    if row["status"] not in DONE:
        raise NotReadyForPickup(status=row["status"])
    refs = await _results(conn, row["for_person_id"], row["application_id"])
    if not refs:
        raise NotReadyForPickup("the application has no certificate to print", status=row["status"])
    pages = []
    for ref in refs:
        cert = await certificate_view(conn, esign, ref["id"], now=now)
        labels = {f["key"]: f["label"] for f in await _type_fields(conn, cert.type_code)}
        seal = await seal_name(conn, ref["seal_id"])
        pages.append(
            printing.Page(
                type_name=cert.type_name,
                licence_id=cert.licence_id,
                holder_name=await auth.get_name(conn, keyring, row["person_id"]) or cert.holder.name_masked,
                holder_id_masked=cert.holder.id_masked,
                issuer_name=cert.issuer.name,
                seal_name=seal or "电子证照专用章",
                issued_at=cert.issued_at,
                valid_until=cert.valid_until,
                fields=[(labels.get(k, k), str(v)) for k, v in cert.fields.items()],
                token=cert.token,
            )
        )
    return printing.pdf(pages, qr_url=esign.qr_url)


async def _type_fields(conn: Conn, type_code: str) -> list[dict[str, str]]:
    fields = await conn.fetchval("SELECT fields FROM certificate_type WHERE code = $1", type_code)
    return list(fields or [])


async def hand_over(
    conn: Conn, keyring: Keyring, row: Mapping[str, Any], data: HandoverIn, *, clerk: UUID, now: datetime
) -> tuple[Handover | None, Problem | None]:
    """Record who received the results, from whom, when, with the ID card checked: the citizen, or their 代办人
    whose authorisation allows ``collect`` (its use logged; a refusal returned to raise after the commit)."""
    if not data.id_checked:
        raise ValidationFailed(
            "check the recipient's ID card first", errors=[FieldError("id_checked", "the ID card must be checked")]
        )
    if error := id_number_error(data.recipient.id_number, today=now.date()):
        raise IdNumberInvalid(errors=[FieldError("recipient.id_number", error)])
    if row["status"] not in DONE:
        raise NotReadyForPickup(status=row["status"])
    if await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM window_handover WHERE application_id = $1)", row["application_id"]
    ):
        raise AlreadyHandedOver()
    number = normalize_id_number(data.recipient.id_number)
    recipient = await auth.find_person_id(conn, keyring, number)
    if recipient is not None:
        await auth.check_person_name(conn, keyring, recipient, data.recipient.name, field="recipient.name")
    actor = f"account:{clerk}"
    if data.delegation_id is not None:
        refusal = await auth.use(
            conn,
            keyring,
            data.delegation_id,
            principal_kind="person",
            principal_id=row["person_id"],
            agent_id_number=number,
            action="collect",
            matter_codes=await _codes(conn, row),
            department_id=row["department_id"],
            actor=actor,
            application_id=row["application_id"],
            now=now,
        )
        if refusal is not None:
            return None, refusal
    elif recipient != row["person_id"]:
        raise RecipientMismatch("the recipient is neither the applicant nor a named 代办人")
    assert recipient is not None
    certificates = [r.id for r in await results(conn, row["for_person_id"], row["application_id"])]
    handover_id = uuid7()
    await conn.execute(
        "INSERT INTO window_handover (id, application_id, department_id, clerk_account_id, recipient_person_id, "
        "delegation_id, id_checked, certificate_ids, handed_at) VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8)",
        handover_id,
        row["application_id"],
        row["department_id"],
        clerk,
        recipient,
        data.delegation_id,
        certificates,
        now,
    )
    await application_store.add_event(
        conn,
        row["for_person_id"],
        row["application_id"],
        at=now,
        event="handed_over",
        actor=actor,
        detail={
            "department": row["department_name"],
            "by_agent": data.delegation_id is not None,
            "certificates": len(certificates),
        },
    )
    await audit.append(
        conn,
        actor=actor,
        action="window.handed_over",
        subject=f"application:{row['application_id']}",
        data={
            "recipient": str(recipient),
            "delegation": str(data.delegation_id) if data.delegation_id else None,
            "certificates": [str(c) for c in certificates],
        },
        at=now,
    )
    return Handover(
        id=handover_id,
        application_id=row["application_id"],
        department=Ref(id=row["department_id"], name=row["department_name"]),
        clerk_account_id=clerk,
        recipient_person_id=recipient,
        by_agent=data.delegation_id is not None,
        id_checked=True,
        certificate_ids=certificates,
        handed_at=now,
    ), None


async def _codes(conn: Conn, row: Mapping[str, Any]) -> list[str]:
    """The matters of the visit's application (``load`` read it)."""
    codes = [c for c in (row["bundle_code"], row["matter_code"]) if c]
    codes += [
        t["matter_code"] for t in await application_store.list_tasks(conn, row["for_person_id"], row["application_id"])
    ]
    return codes
