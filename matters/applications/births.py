"""出生一件事: one birth, one child.

A birth case is known by the numbers the hospital gives the parents — the 出生医学证明 number and the
delivery record (分娩记录) number — blind-indexed in ``application_birth_key``. The first parent's
application creates the child with both parents as guardians; the second parent's application for
the same baby joins that case (and becomes a guardian if they were not one yet) instead of creating
a second child. After a withdrawn or rejected case a new application is made for the same child.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

import auth
from api.kernel import audit
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from api.kernel.identifiers import id_number_error
from api.kernel.problems import FieldError
from matters.applications import service, store
from matters.applications.errors import FormInvalid

KEY_PURPOSE = "birth_case"
CLOSED = ("withdrawn", "rejected")


@dataclass(frozen=True)
class Case:
    """The birth a newborn application is for: its keys, and the child and application known by them."""

    keys: list[bytes]
    child: UUID | None
    application: asyncpg.Record | None


def check_parents(form: dict[str, Any], applicant_number: str | None, *, today: date) -> None:
    """Both parents' numbers valid, the applicant one of them, the child's sex 男 or 女; else 422 ``form_invalid``."""
    errors = [
        FieldError(f"form.{key}", problem)
        for key in ("father_id_number", "mother_id_number")
        if form.get(key) and (problem := id_number_error(str(form[key]), today=today))
    ]
    if service.sex_of(form.get("child_sex")) is None:
        errors.append(FieldError("form.child_sex", "must be 男 or 女"))
    if not service.birth_keys(form):
        errors += [
            FieldError(f"form.{k}", "give the delivery record number or the 出生医学证明 number")
            for k in service.BIRTH_KEY_FIELDS
        ]
    if errors:
        raise FormInvalid(errors=errors)
    if not is_parent(form, applicant_number):
        raise FormInvalid(errors=[FieldError("form", "the applicant must be the child's father or mother")])


def is_parent(form: dict[str, Any], number: str | None) -> bool:
    parents = {str(form[k]).strip().upper() for k in ("father_id_number", "mother_id_number") if form.get(k)}
    return number is not None and number.upper() in parents


# The keys are on the coordinator of a cluster (unique across everyone, found without a person); each names the
# child, whose application it is, so the applications are then read on the children's rows.
FIND_KEYS = "SELECT child_person_id, application_id FROM application_birth_key WHERE key_index = ANY($1::bytea[])"

FIND = """
SELECT * FROM application
WHERE for_person_id = ANY($1::uuid[]) AND (for_person_id, id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
ORDER BY submitted_at DESC
LIMIT 1
"""


async def find_case(conn: Conn, keyring: Keyring, form: dict[str, Any]) -> Case:
    """The birth case the form's numbers name, locked for this transaction (two parents at once wait in turn)."""
    keys = sorted(keyring.blind_index(k, purpose=KEY_PURPOSE) for k in service.birth_keys(form))
    for key in keys:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(encode($1::bytea, 'hex'), 0))", key)
    named = await conn.fetch(FIND_KEYS, keys)
    row = (
        await conn.fetchrow(FIND, [r["child_person_id"] for r in named], [r["application_id"] for r in named])
        if named
        else None
    )
    if row is None:
        return Case(keys=keys, child=None, application=None)
    return Case(keys=keys, child=row["for_person_id"], application=row)


def may_join(case: Case) -> bool:
    return case.application is not None and case.application["status"] not in CLOSED


async def newborn(conn: Conn, keyring: Keyring, case: Case, form: dict[str, Any], *, now: datetime) -> UUID:
    """The child of the case: the one created before (a withdrawn or rejected case), or a new person now."""
    child = case.child or await auth.create_newborn(
        conn,
        keyring,
        name=form["child_name"],
        born_on=date.fromisoformat(form["child_born_at"]),
        sex=service.sex_of(form.get("child_sex")),
        now=now,
    )
    await add_parents(conn, keyring, form, child, now=now)
    return child


async def add_parents(conn: Conn, keyring: Keyring, form: dict[str, Any], child: UUID, *, now: datetime) -> list[UUID]:
    """Make the parents the form names (those the platform knows) guardians of the child; those added now."""
    added = []
    for key in ("father_id_number", "mother_id_number"):
        parent = await auth.find_person_id(conn, keyring, str(form[key])) if form.get(key) else None
        if parent is not None and not await auth.is_guardian(conn, parent, child, now=now):
            await auth.add_guardian(conn, parent, child, source="birth_bundle", now=now)
            added.append(parent)
    return added


REMEMBER = """
INSERT INTO application_birth_key (key_index, child_person_id, application_id, created_at)
SELECT k, $2, $3, $4 FROM unnest($1::bytea[]) AS k
ON CONFLICT ON CONSTRAINT application_birth_key_pkey DO UPDATE SET application_id = EXCLUDED.application_id
"""


async def remember(conn: Conn, case: Case, child: UUID, application_id: UUID, *, now: datetime) -> None:
    """Record the case's keys for the child and the application that carries the case now."""
    await conn.execute(REMEMBER, case.keys, child, application_id, now)


async def join(
    conn: Conn,
    keyring: Keyring,
    case: Case,
    form: dict[str, Any],
    *,
    applicant_person: UUID,
    applicant_number: str | None,
    actor: str,
    now: datetime,
) -> tuple[UUID, UUID]:
    """The second parent's application joins the open (or completed) case; the case's child and application id.

    Only a parent the case's own form names may join; anyone else is told the numbers do not match
    a birth of theirs, as if there were none.
    """
    assert case.application is not None and case.child is not None
    app = await store.get_application(conn, case.child, case.application["id"], for_update=True)
    registered = store.open_form(keyring, app["form"])
    if not is_parent(registered, applicant_number):
        raise FormInvalid(
            errors=[
                FieldError(f"form.{k}", "does not match a birth of the parents named")
                for k in service.BIRTH_KEY_FIELDS
                if form.get(k)
            ]
        )
    added = await add_parents(conn, keyring, registered, case.child, now=now)
    await remember(conn, case, case.child, app["id"], now=now)
    if added:
        # A new guardian reads and acts for the child from now on: a security-relevant act.
        await audit.append(
            conn,
            actor=actor,
            action="application.guardian_joined",
            subject=f"application:{app['id']}",
            data={"child": str(case.child), "guardians": [str(p) for p in added]},
            at=now,
        )
    detail = {"person_id": str(applicant_person)}
    joined = await store.has_event(conn, case.child, app["id"], "guardian_joined", detail)
    if applicant_person != app["applicant_person_id"] and not joined:
        await store.add_event(conn, case.child, app["id"], at=now, event="guardian_joined", actor=actor, detail=detail)
    return case.child, app["id"]
