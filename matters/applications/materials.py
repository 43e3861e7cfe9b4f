"""免提交 for the handling department: the materials of its own task's matter, read through the task.

A department handling a task sees only what its matter asks for: the certificates standing for
its materials (from the applicant's wallet, produced by an earlier matter of the bundle, or held
by another person the form names by ID number — the father's ID card) and the files handed in
for them. Another matter's materials of the same application, and the rest of the form, stay out
of sight. Every read is logged in the holder's access log with the department and the task, and
audited, in the reading transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

import auth
import sync
import wallet
from api.kernel import audit
from api.kernel.crypto import Keyring
from api.kernel.db import Conn, one_of
from esign import EsignState, certificate_views
from matters import store as catalogue_store
from matters.applications import store
from matters.applications.errors import MaterialNotAvailable, MaterialNotFound
from matters.applications.models import (
    MaterialSource,
    TaskMaterial,
    TaskMaterialFile,
    TaskMaterialList,
    TaskMaterialRead,
)
from matters.models import Matter, MatterMaterial


@dataclass(frozen=True)
class Source:
    """Where one material of a task's matter comes from, resolved as far as it can be now."""

    material: MatterMaterial
    source: MaterialSource | Literal["missing"]
    certificate_id: UUID | None = None
    item_id: UUID | None = None  # the wallet item holding the certificate
    holder: UUID | None = None  # whose material it is (for the access log)
    blob: bytes | None = None
    produced_by_matter: str | None = None


async def matter_scope(conn: Conn, matter_code: str) -> Matter:
    return await catalogue_store.get_matter(conn, matter_code)


def scoped_form(matter: Matter, form: dict[str, Any]) -> dict[str, Any]:
    """The form as the task's department sees it: its own matter's fields only."""
    keys = {f.key for f in matter.form}
    return {k: v for k, v in form.items() if k in keys}


def scoped_materials(matter: Matter, provided: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The application's materials that belong to the task's matter."""
    codes = {m.code for m in matter.materials}
    return [m for m in provided if m["code"] in codes]


CERTIFICATE_ITEM = """
SELECT w.id, w.person_id, w.certificate_id FROM wallet_item w
WHERE w.{column} = $1 AND w.kind = 'certificate' AND w.certificate_id IS NOT NULL
"""

NAMED_HOLDERS_CERTIFICATE = """
SELECT w.id, w.person_id, w.certificate_id
FROM wallet_item w JOIN esign_certificate c ON c.person_id = w.person_id AND c.id = w.certificate_id
WHERE w.person_id = $1 AND w.kind = 'certificate' AND c.type_code = ANY($2::text[]) AND c.status = 'valid'
  AND (c.valid_until IS NULL OR c.valid_until > $3)
ORDER BY c.issued_at DESC
LIMIT 1
"""


async def _resolve(
    conn: Conn,
    keyring: Keyring,
    task: asyncpg.Record,
    app: asyncpg.Record,
    matter: Matter,
    holder_fields: dict[str, str],
    *,
    now: datetime,
) -> list[Source]:
    provided = {m["code"]: m for m in app["materials"]}
    form: dict[str, Any] | None = None
    out = []
    for m in matter.materials:
        given = provided.get(m.code)
        if given is None:
            out.append(Source(m, "missing"))
            continue
        kind: MaterialSource = one_of(given["source"], ("wallet", "blob", "department", "bundle", "deferred"))
        if kind == "wallet":
            row = await conn.fetchrow(CERTIFICATE_ITEM.format(column="id"), UUID(str(given["wallet_item_id"])))
            out.append(Source(m, kind, row["certificate_id"], row["id"], row["person_id"]) if row else Source(m, kind))
        elif kind == "blob":
            out.append(Source(m, kind, holder=app["applicant_person_id"], blob=bytes.fromhex(given["blob_sha256"])))
        elif kind == "bundle":
            producer = given.get("produced_by_matter")
            made = await conn.fetchval(
                "SELECT result_certificate_id FROM application_task"
                " WHERE for_person_id = $1 AND application_id = $2 AND matter_code = $3",
                app["for_person_id"],
                app["id"],
                producer,
            )
            row = await conn.fetchrow(CERTIFICATE_ITEM.format(column="certificate_id"), made) if made else None
            out.append(
                Source(m, kind, row["certificate_id"], row["id"], row["person_id"], produced_by_matter=producer)
                if row
                else Source(m, kind, produced_by_matter=producer)
            )
        elif kind == "department" and m.code in holder_fields and m.satisfied_by_certificate_types:
            # Someone else's certificate named by ID number in the form (the father's ID card): the
            # department fetches it from the certificate library, as the applicant was promised.
            if form is None:
                form = store.open_form(keyring, app["form"])
            number = form.get(holder_fields[m.code])
            person = await auth.find_person_id(conn, keyring, str(number)) if number else None
            row = (
                await conn.fetchrow(NAMED_HOLDERS_CERTIFICATE, person, m.satisfied_by_certificate_types, now)
                if person
                else None
            )
            out.append(Source(m, kind, row["certificate_id"], row["id"], row["person_id"]) if row else Source(m, kind))
        else:
            out.append(Source(m, kind))
    return out


async def list_materials(
    conn: Conn, keyring: Keyring, task_id: UUID, *, department_id: UUID, now: datetime
) -> TaskMaterialList:
    """What the task's matter asks for, and how each material can be read (nothing is read here)."""
    _task, _app, matter, sources = await _load(conn, keyring, task_id, department_id, now=now)
    blobs = await sync.get_infos(conn, [s.blob for s in sources if s.blob])
    items = []
    for s in sources:
        info = blobs.get(s.blob) if s.blob else None
        items.append(
            TaskMaterial(
                code=s.material.code,
                name=s.material.name,
                required=s.material.required,
                source=s.source,
                read="certificate" if s.certificate_id else "file" if info else None,
                file=TaskMaterialFile(sha256=info.sha256, content_type=info.content_type, size=info.size)
                if info
                else None,
                blob_sha256=s.blob.hex() if s.blob else None,
                held_by_department=s.material.held_by_department
                if s.source == "department" and s.material.held_by_department
                else None,
                produced_by_matter=s.produced_by_matter,
            )
        )
    return TaskMaterialList(task_id=task_id, matter_code=matter.code, items=items)


async def read_certificate(
    conn: Conn,
    keyring: Keyring,
    esign: EsignState,
    task_id: UUID,
    code: str,
    *,
    department_id: UUID,
    actor: str,
    now: datetime,
) -> TaskMaterialRead:
    """The certificate standing for one material of the task's matter; the read is logged for its holder."""
    task, _app, matter, sources = await _load(conn, keyring, task_id, department_id, now=now)
    s = _source(sources, code)
    if s.certificate_id is None or s.holder is None or s.item_id is None:
        raise MaterialNotAvailable(f"{code} has no certificate to read", code=code, source=s.source)
    shown = await certificate_views(conn, esign, [s.certificate_id], now=now)
    if s.certificate_id not in shown:
        raise MaterialNotAvailable(f"{code} has no certificate to read", code=code, source=s.source)
    await _log(conn, task, matter, s, department_id=department_id, actor=actor, item_ids=[s.item_id], now=now)
    return TaskMaterialRead(code=code, name=s.material.name, source=s.source, certificate=shown[s.certificate_id])


async def read_file(
    conn: Conn,
    keyring: Keyring,
    task_id: UUID,
    code: str,
    *,
    department_id: UUID,
    actor: str,
    now: datetime,
) -> asyncpg.Record:
    """The file handed in for one material of the task's matter (content_type, data); the read is logged."""
    task, _app, matter, sources = await _load(conn, keyring, task_id, department_id, now=now)
    s = _source(sources, code)
    row = await sync.get_content(conn, s.blob) if s.blob else None
    if row is None:
        raise MaterialNotAvailable(f"no file of {code} to read", code=code, source=s.source)
    await _log(conn, task, matter, s, department_id=department_id, actor=actor, item_ids=[], now=now)
    return row


async def _load(
    conn: Conn, keyring: Keyring, task_id: UUID, department_id: UUID, *, now: datetime
) -> tuple[asyncpg.Record, asyncpg.Record, Matter, list[Source]]:
    task = await store.get_task(conn, task_id, department_id=department_id)
    app = await store.get_application(conn, task["for_person_id"], task["application_id"])
    matter = await matter_scope(conn, task["matter_code"])
    rules = await catalogue_store.material_rules(conn, [m.code for m in matter.materials])
    return task, app, matter, await _resolve(conn, keyring, task, app, matter, rules.holder_fields, now=now)


def _source(sources: list[Source], code: str) -> Source:
    found = next((s for s in sources if s.material.code == code), None)
    if found is None:
        # Another matter's material (the bank card for the hospital) is as unknown as a made-up code.
        raise MaterialNotFound(code=code)
    return found


async def _log(
    conn: Conn,
    task: asyncpg.Record,
    matter: Matter,
    s: Source,
    *,
    department_id: UUID,
    actor: str,
    item_ids: list[UUID],
    now: datetime,
) -> None:
    assert s.holder is not None
    await wallet.record_task_read(
        conn,
        person_id=s.holder,
        task_id=task["id"],
        material=s.material.code,
        department_id=department_id,
        actor=actor,
        purpose=f"办理「{matter.name}」：{s.material.name}",
        item_ids=item_ids,
        now=now,
    )
    await audit.append(
        conn,
        actor=actor,
        action="task.material_read",
        subject=f"task:{task['id']}",
        data={
            "material": s.material.code,
            "person": str(s.holder),
            "items": [str(i) for i in item_ids],
            "source": s.source,
        },
        at=now,
    )
