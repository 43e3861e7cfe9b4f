"""Issuing a matter's result certificate when its task is approved, through esign.

The certificate goes to the person the application is for (a newborn's to the child, whose
guardians see it), in the approving transaction, idempotent per application and matter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

import auth
import esign
from api.kernel.db import Conn, one
from esign import HolderIn, IssueIn
from matters.applications.errors import CreditCodeRequired

# Form keys that carry a certificate field under another name (出生医学证明's `sex` is the form's
# `child_sex`); a department's `result_fields` always win.
ALIASES = {"sex": "child_sex", "born_at": "child_born_at", "student_name": "child_name"}


# The certificates an application's earlier matters issued, named by its tasks (on its person's shard of a cluster).
RESULT_IDS = """
SELECT result_certificate_id FROM application_task
WHERE for_person_id = $1 AND application_id = $2 AND result_certificate_id IS NOT NULL
"""


async def _opened(conn: Conn, application: asyncpg.Record) -> str | None:
    """The credit code of the business an earlier matter of the application opened, if one did."""
    ids = [r[0] for r in await conn.fetch(RESULT_IDS, application["for_person_id"], application["id"])]
    return await esign.first_credit_code(conn, ids)


def result_fields(field_keys: list[str], values: dict[str, Any]) -> dict[str, Any]:
    """The certificate's fields from the form merged with the department's ``result_fields``."""
    out = {}
    for key in field_keys:
        for source in (key, ALIASES.get(key), f"child_{key}"):
            if source and values.get(source) is not None:
                out[key] = values[source]
                break
    return out


async def _with_legal_rep(
    conn: Conn, keyring: Any, application: asyncpg.Record, fields: dict[str, Any]
) -> dict[str, Any]:
    """A new business's 营业执照 names its applicant as legal representative unless the form or the
    department names another: whoever applied to open it (its 法定代表人 or 经营者) may then act for it."""
    applicant = application["applicant_person_id"]
    if fields.get(auth.LEGAL_REP_FIELD) or applicant is None:
        return fields
    number = await auth.get_id_number(conn, keyring, applicant)
    if number is None:
        return fields
    name = fields.get("legal_representative") or await auth.get_name(conn, keyring, applicant)
    return fields | {auth.LEGAL_REP_FIELD: number, "legal_representative": name}


def issuer(state: Any):
    async def issue(
        conn: Conn, task: asyncpg.Record, application: asyncpg.Record, fields: dict[str, Any], now: datetime
    ) -> UUID:
        # Called only for a task whose matter names a result certificate type (a foreign key keeps it).
        ctype = one(
            await conn.fetchrow(
                """SELECT t.code, t.holder_kind, array(SELECT f->>'key' FROM jsonb_array_elements(t.fields) f) AS keys
               FROM catalog_matter m JOIN certificate_type t ON t.code = m.result_certificate_type WHERE m.code = $1""",
                task["matter_code"],
            ),
            "result certificate type",
        )
        ref = f"application:{application['id']}:{task['matter_code']}"
        body = {
            "type_code": ctype["code"],
            "fields": result_fields(list(ctype["keys"]), fields),
            "external_ref": ref,
            "application_id": application["id"],
        }
        if ctype["holder_kind"] == "organisation":
            # An entity that applied (acting through its 法定代表人 or 经办人) holds it; else the new business
            # does: its name from the form, its code assigned on approval.
            org = await auth.get_org(conn, application["for_person_id"])
            if org is None:
                # A later matter of the bundle that opened the business (公章刻制 after 设立登记): the same entity.
                opened = await _opened(conn, application)
                org = (
                    await auth.get_org_by_credit_code(conn, opened)
                    if opened and not fields.get("credit_code")
                    else None
                )
            if org is not None:
                holder = HolderIn(credit_code=org.credit_code, name=str(fields.get("entity_name") or org.name))
            elif not fields.get("credit_code"):
                raise CreditCodeRequired()
            else:
                holder = HolderIn(credit_code=fields["credit_code"], name=str(fields.get("entity_name", "")))
            if ctype["code"] == auth.REGISTRY_TYPE and org is not None:
                # 变更登记: the new licence keeps what the change leaves as it was.
                kept = await esign.registry_fields(conn, state.esign, org.id)
                body["fields"] = {k: v for k, v in kept.items() if k in ctype["keys"]} | body["fields"]
            if ctype["code"] == auth.REGISTRY_TYPE:
                body["fields"] = await _with_legal_rep(conn, state.keyring, application, body["fields"])
            issued = await esign.issue_certificate(
                conn,
                state.esign,
                department_id=task["department_id"],
                item=IssueIn(holder=holder, **body),
                actor=f"task:{task['id']}",
                now=now,
            )
            return issued.certificate_id
        person = application["for_person_id"]
        holder = HolderIn(name=await auth.get_name(conn, state.keyring, person) or "")
        issued = await esign.issue_certificate(
            conn,
            state.esign,
            department_id=task["department_id"],
            item=IssueIn(holder=holder, **body),
            actor=f"task:{task['id']}",
            now=now,
            holder_person_id=person,
        )
        return issued.certificate_id

    return issue
