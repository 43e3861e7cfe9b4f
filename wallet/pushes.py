"""What departments put into wallets: records (社保缴费, 公积金, 不动产 ...), life events, guardianships.

Records and life events are idempotent by the department's ``external_ref`` (one namespace per
kind): the same body again returns the stored item, another body is ``external_ref_conflict``. A
transaction-scoped advisory lock on the reference makes two concurrent pushes of it take turns.
Each write goes to the change log, the outbox and the audit log in the caller's transaction.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import auth
from api.kernel import audit, changelog, outbox
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from api.kernel.identifiers import (
    credit_code_valid,
    id_number_error,
    id_number_sex,
    normalize_credit_code,
    normalize_id_number,
)
from api.kernel.ids import uuid7
from api.kernel.problems import FieldError
from auth import CreditCodeInvalid, IdNumberInvalid
from wallet import events, people_store, service, store, views
from wallet.errors import (
    ExternalRefConflict,
    GuardianshipInvalid,
    HolderUnknown,
    LifeEventExists,
    RecordInvalid,
    WalletClosed,
)
from wallet.models import Guardianship, GuardianshipIn, LifeEventIn, PersonRefIn, RecordIn, WalletHolderIn

# A department's clock may run a little ahead; an event further in the future is a mistake.
FUTURE_LEEWAY = timedelta(minutes=5)


async def _lock(conn: Conn, department_id: UUID, kind: str, external_ref: str) -> None:
    digest = hashlib.sha256(f"wallet.ref\x00{department_id}\x00{kind}\x00{external_ref}".encode()).digest()
    await conn.execute("SELECT pg_advisory_xact_lock($1)", int.from_bytes(digest[:8], "big", signed=True))


async def person_by_id_number(
    conn: Conn, keyring: Keyring, id_number: str, name: str, *, field: str, now: datetime
) -> UUID:
    """The person with this ID number and name, created when new; the birth date and sex its number carries noted.

    A department learns nothing of whether the ID number was known: a new one is taken (the person's
    things are kept for them), a known one with its own name too; only another name is refused
    (422 ``holder_mismatch``, without the stored name).
    """
    problem = id_number_error(id_number, today=now.date())
    if problem:
        raise IdNumberInvalid(errors=[FieldError(f"{field}.id_number", problem)])
    number = normalize_id_number(id_number)
    person = await auth.find_person_id(conn, keyring, number)
    if person is None:
        person = await auth.find_or_create_person(conn, keyring, id_number=number, name=name.strip(), now=now)
    await auth.check_person_name(conn, keyring, person, name, field=f"{field}.name")
    await auth.fill_birth(conn, person, born_on=service.born_on_from_id_number(number), sex=id_number_sex(number))
    return person


async def _existing(
    conn: Conn, department_id: UUID, kind: str, external_ref: str, rhash: bytes
) -> store.StoredItem | None:
    found = await store.find_pushed_item(conn, department_id, kind, external_ref)
    if found is not None and found.request_hash != rhash:
        raise ExternalRefConflict("this external_ref was used with another body", external_ref=external_ref)
    return found


def _not_in_future(at: datetime, now: datetime, field: str) -> None:
    if at > now + FUTURE_LEEWAY:
        raise RecordInvalid(errors=[FieldError(field, "must not be in the future")])


async def push_record(
    conn: Conn, keyring: Keyring, *, department_id: UUID, body: RecordIn, actor: str, now: datetime
) -> tuple[store.StoredItem, bool]:
    """Put a department record into the holder's wallet; ``(item, created)``."""
    await _lock(conn, department_id, "record", body.external_ref)
    rhash = service.request_hash(body)
    if (found := await _existing(conn, department_id, "record", body.external_ref, rhash)) is not None:
        return found, False
    _not_in_future(body.occurred_at, now, "occurred_at")
    public, sealed = service.split_record(body.data, body.sensitive)
    person = await _open_holder(conn, keyring, body.holder, now=now)
    department = await auth.get_department(conn, department_id)
    item = store.WalletItem(
        id=uuid7(),
        person_id=person,
        kind="record",
        title=body.title,
        at=body.occurred_at,
        summary={"kind": body.kind, "department_name": department.name if department else None},
        certificate_id=None,
        application_id=None,
        bundle_code=None,
        created_at=now,
        updated_at=now,
        data={
            "kind": body.kind,
            "occurred_at": body.occurred_at.isoformat(),
            "data": public,
            "sensitive": sorted(sealed),
        },
    )
    await store.insert_sourced_item(
        conn,
        item,
        store.Provenance(
            department_id=department_id,
            external_ref=body.external_ref,
            request_hash=rhash,
            sealed_data=views.seal(keyring, sealed),
        ),
    )
    await changelog.record_change(conn, person, "wallet_item", item.id, "put", store.item_data(item))
    await _announce(conn, "wallet.record_added", item, department_id, body.kind, body.external_ref, actor, now=now)
    stored = await store.get_item(conn, item.id, person_id=item.person_id)
    assert stored is not None
    return stored, True


async def _holder(conn: Conn, keyring: Keyring, holder: WalletHolderIn, *, now: datetime) -> UUID:
    """A person by ID number (made when new), or an entity by credit code (only one the registry made)."""
    if (holder.id_number is None) == (holder.credit_code is None):
        raise RecordInvalid(errors=[FieldError("holder", "give exactly one of id_number and credit_code")])
    if holder.id_number is not None:
        return await person_by_id_number(conn, keyring, holder.id_number, holder.name, field="holder", now=now)
    code = normalize_credit_code(holder.credit_code or "")
    if not credit_code_valid(code):
        raise CreditCodeInvalid(errors=[FieldError("holder.credit_code", "fails the GB 32100 check")])
    org = await auth.get_org_by_credit_code(conn, code)
    if org is None:
        raise HolderUnknown(
            "no business entity with this credit code is registered",
            errors=[FieldError("holder.credit_code", "not registered")],
        )
    if not auth.same_name(org.name, holder.name):
        raise auth.HolderMismatch(
            "the name is not the registered name of this entity",
            errors=[FieldError("holder.name", "does not match the registered name")],
        )
    return org.id


async def _open_holder(conn: Conn, keyring: Keyring, holder: WalletHolderIn, *, now: datetime) -> UUID:
    person = await _holder(conn, keyring, holder, now=now)
    if await people_store.closed_at(conn, person) is not None:
        raise WalletClosed()
    return person


async def _announce(
    conn: Conn,
    event: str,
    item: store.WalletItem,
    department_id: UUID,
    kind: str,
    external_ref: str,
    actor: str,
    *,
    now: datetime,
) -> None:
    payload = {
        "event": event,
        "person_id": str(item.person_id),
        "item_id": str(item.id),
        "kind": kind,
        "department_id": str(department_id),
    }
    await outbox.enqueue(conn, "notify", payload, dedup_key=f"{event}:{item.id}", partition_key=str(item.person_id))
    await audit.append(
        conn,
        actor=actor,
        action=event,
        subject=f"wallet_item:{item.id}",
        data={"department": str(department_id), "kind": kind, "external_ref": external_ref},
        at=now,
    )


async def push_life_event(
    conn: Conn, keyring: Keyring, *, department_id: UUID, body: LifeEventIn, actor: str, now: datetime
) -> tuple[store.StoredItem, bool]:
    """Put a life event a department knows of into the holder's wallet; ``(item, created)``."""
    await _lock(conn, department_id, "event", body.external_ref)
    rhash = service.request_hash(body)
    if (found := await _existing(conn, department_id, "event", body.external_ref, rhash)) is not None:
        return found, False
    _not_in_future(body.occurred_at, now, "occurred_at")
    if body.event == "died":
        # The death itself is the one event a closed wallet still takes (the closure may come first).
        person = await _holder(conn, keyring, body.holder, now=now)
    else:
        person = await _open_holder(conn, keyring, body.holder, now=now)
    item = await events.add_life_event(
        conn,
        person_id=person,
        event=body.event,
        at=body.occurred_at,
        source="department",
        source_id=f"{department_id}:{body.external_ref}",
        now=now,
        title=body.title,
        detail=body.detail,
        pushed=store.Provenance(department_id=department_id, external_ref=body.external_ref, request_hash=rhash),
    )
    if item is None:
        earlier = await store.find_item_by_source(conn, person, service.event_source_key(body.event, person, ""))
        raise LifeEventExists(
            f"the person already has the event {body.event}", item_id=str(earlier.id) if earlier else None
        )
    await _announce(conn, "wallet.life_event_added", item, department_id, body.event, body.external_ref, actor, now=now)
    stored = await store.get_item(conn, item.id, person_id=item.person_id)
    assert stored is not None
    return stored, True


# --- guardianships ------------------------------------------------------------------------------------------


async def _person(conn: Conn, keyring: Keyring, ref: PersonRefIn, field: str, *, now: datetime) -> UUID:
    if ref.id_number is not None and ref.person_id is None:
        if ref.name is None:
            raise GuardianshipInvalid(errors=[FieldError(f"{field}.name", "is required with id_number")])
        return await person_by_id_number(conn, keyring, ref.id_number, ref.name, field=field, now=now)
    if ref.person_id is not None and ref.id_number is None:
        if await auth.get_name(conn, keyring, ref.person_id) is None:
            raise HolderUnknown(errors=[FieldError(f"{field}.person_id", "no such person")])
        return ref.person_id
    raise GuardianshipInvalid(errors=[FieldError(field, "give exactly one of id_number and person_id")])


def _until(body: GuardianshipIn, born_on: Any, *, now: datetime) -> datetime | None:
    """When the guardianship ends: as asked (a past time ends it now), at the latest at majority."""
    until = body.until if body.until is None or body.until > now else now
    if body.beyond_majority or born_on is None:
        return until
    of_age = service.comes_of_age(born_on)
    if of_age <= now and (until is None or until > now):
        raise GuardianshipInvalid(
            "the dependent is of age: set beyond_majority to keep a guardianship of an adult",
            errors=[FieldError("beyond_majority", "required for a dependent aged 18 or over")],
        )
    return of_age if until is None else min(until, of_age)


async def set_guardianship(
    conn: Conn, keyring: Keyring, *, department_id: UUID, body: GuardianshipIn, actor: str, now: datetime
) -> tuple[Guardianship, bool]:
    """Set (or change, or end) who is guardian of whom, as a department decides; ``(it, created)``."""
    guardian = await _person(conn, keyring, body.guardian, "guardian", now=now)
    dependent = await _person(conn, keyring, body.dependent, "dependent", now=now)
    if guardian == dependent:
        raise GuardianshipInvalid(errors=[FieldError("dependent", "must be another person than the guardian")])
    birth = await auth.get_birth(conn, dependent)
    born_on = birth[0] if birth else None
    until = _until(body, born_on, now=now)
    row = await auth.set_guardianship(
        conn,
        guardian,
        dependent,
        source=f"department:{department_id}",
        since=body.since or now,
        until=until,
        beyond_majority=body.beyond_majority,
        department_id=department_id,
        basis=body.basis,
        dependent_born_on=born_on,
    )
    await audit.append(
        conn,
        actor=actor,
        action="wallet.guardianship_set",
        subject=f"person:{dependent}",
        data={
            "guardian": str(guardian),
            "department": str(department_id),
            "basis": body.basis,
            "until": until.isoformat() if until else None,
            "beyond_majority": body.beyond_majority,
        },
        at=now,
    )
    await outbox.enqueue(
        conn,
        "notify",
        {
            "event": "guardianship.set",
            "guardian_person_id": str(guardian),
            "dependent_person_id": str(dependent),
            "department_id": str(department_id),
        },
        dedup_key=f"guardianship.set:{guardian}:{dependent}:{now.isoformat()}",
        partition_key=str(dependent),
    )
    created = row["created"]
    return Guardianship(**{k: v for k, v in dict(row).items() if k != "created"}), created
