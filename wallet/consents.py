"""授权用证: granting, revoking and using consents — shared by the HTTP routes and offline sync.

``grant`` and ``revoke`` take ``(conn, keyring, actor, args, now)`` where ``actor`` is anything with
the principal's values (``access.Actor``), so the sync mutations ``consent.grant`` and
``consent.revoke`` call them as they are. Each runs in the caller's transaction and writes the
consent, its change-log entry (entity ``consent``, on the holder's log), an outbox event for the
grantee and an audit entry.

``use`` is the grantee's read: it spends one use with a single conditional UPDATE and logs the
read — served or refused — for the holder to see. A refused read returns the reason instead of
raising, so the caller can commit the log entry before answering 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

import auth
import matters
from api.kernel import audit, changelog, outbox
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from api.kernel.problems import FieldError
from esign import EsignState
from wallet import access, consent_store, service, store, views
from wallet.errors import ConsentInvalid, ConsentNotFound, WalletNotFound
from wallet.models import AccessEntry, Consent, ConsentIn, DepartmentRef, WalletItem
from wallet.store import StoredItem


def to_model(row: asyncpg.Record, *, now: datetime) -> Consent:
    state = service.consent_state(
        revoked_at=row["revoked_at"], expires_at=row["expires_at"], uses=row["uses"], max_uses=row["max_uses"], now=now
    )
    return Consent(
        id=row["id"],
        person_id=row["person_id"],
        grantee=DepartmentRef(id=row["grantee_department_id"], name=row["grantee_name"]),
        item_ids=list(row["item_ids"]),
        purpose=row["purpose"],
        matter_code=row["matter_code"],
        expires_at=row["expires_at"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        status=state,
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        fields={UUID(k): list(v) for k, v in (row["fields"] or {}).items()},
    )


async def _publish(conn: Conn, consent: Consent, event: str, *, now: datetime) -> None:
    """Mirror the consent to the holder's devices and tell the grantee."""
    await changelog.record_change(conn, consent.person_id, "consent", consent.id, "put", msgspec.to_builtins(consent))
    payload = {
        "event": event,
        "consent_id": str(consent.id),
        "person_id": str(consent.person_id),
        "department_id": str(consent.grantee.id),
        "status": consent.status,
    }
    await outbox.enqueue(
        conn, "notify", payload, dedup_key=f"{event}:{consent.id}:{consent.uses}", partition_key=str(consent.grantee.id)
    )


async def _reload(conn: Conn, consent_id: UUID, person_id: UUID, *, now: datetime) -> Consent:
    row = await consent_store.get_consent(conn, consent_id, person_id=person_id)
    assert row is not None
    return to_model(row, now=now)


async def grant(conn: Conn, keyring: Keyring, actor: access.Actor, args: ConsentIn, *, now: datetime) -> Consent:
    """Let a department read named items of one wallet (the caller's or a dependent's): L3, recently.

    An item in a wallet the caller may not open is answered exactly as an id that does not exist,
    so granting never tells whether someone else's item exists.
    """
    item_ids = service.check_consent(args.item_ids, args.expires_at, now=now)
    items = await _visible(conn, actor, await store.get_items(conn, item_ids, person_id=actor.person_id), now=now)
    holders = {s.person_id for s in items}
    if len(items) != len(item_ids) or len(holders) != 1:
        found = {s.id for s in items}
        raise ConsentInvalid(
            errors=[
                FieldError(f"item_ids[{i}]", "no such item" if item not in found else "items must be of one wallet")
                for i, item in enumerate(item_ids)
                if item not in found or len(holders) > 1
            ]
        )
    holder = await access.act_for(conn, actor, holders.pop(), now=now)
    fields = service.check_consent_fields(args.fields, await _field_keys(conn, items))
    if await auth.get_department(conn, args.grantee_department_id) is None:
        raise ConsentInvalid(errors=[FieldError("grantee_department_id", "no such department")])
    if args.matter_code and not await matters.known_matters(conn, [args.matter_code]):
        raise ConsentInvalid(errors=[FieldError("matter_code", "no such matter")])
    consent_id = uuid7()
    await consent_store.insert_consent(
        conn,
        id=consent_id,
        person_id=holder.person_id,
        department_id=args.grantee_department_id,
        item_ids=item_ids,
        purpose=args.purpose.strip(),
        matter_code=args.matter_code,
        expires_at=args.expires_at,
        max_uses=args.max_uses,
        granted_by=actor.subject,
        now=now,
        fields={str(k): v for k, v in fields.items()},
    )
    consent = await _reload(conn, consent_id, holder.person_id, now=now)
    await _publish(conn, consent, "consent.granted", now=now)
    await audit.append(
        conn,
        actor=actor.subject,
        action="wallet.consent_granted",
        subject=f"consent:{consent_id}",
        data={
            "person": str(holder.person_id),
            "department": str(args.grantee_department_id),
            "items": [str(i) for i in item_ids],
            "purpose": consent.purpose,
            "fields": {str(k): v for k, v in fields.items()},
            "expires_at": args.expires_at.isoformat(),
            "max_uses": args.max_uses,
        },
        at=now,
    )
    return consent


async def _visible(conn: Conn, actor: access.Actor, items: list[StoredItem], *, now: datetime) -> list[StoredItem]:
    """The items whose wallet the caller may open; the others are as if they did not exist."""
    seen: dict[UUID, bool] = {}
    for person in {s.person_id for s in items}:
        try:
            await access.open_wallet(conn, actor, person, now=now)
            seen[person] = True
        except WalletNotFound:
            seen[person] = False
    return [s for s in items if seen[s.person_id]]


async def _field_keys(conn: Conn, items: list[StoredItem]) -> dict[UUID, list[str] | None]:
    """Per item, the keys a consent may name: a certificate's fields, a record's data; None for the rest."""
    certificates = await consent_store.certificate_field_keys(
        conn, [s.certificate_id for s in items if s.certificate_id], [s.person_id for s in items]
    )
    out: dict[UUID, list[str] | None] = {}
    for s in items:
        if s.kind == "certificate" and s.certificate_id in certificates:
            out[s.id] = certificates[s.certificate_id]
        elif s.kind == "record":
            out[s.id] = [*s.data.get("data", {}), *s.data.get("sensitive", [])]
        else:
            out[s.id] = None
    return out


async def revoke(conn: Conn, keyring: Keyring, actor: access.Actor, consent_id: UUID, *, now: datetime) -> Consent:
    """Withdraw a consent (the holder or a guardian); revoking a revoked one changes nothing."""
    # The caller's own consent is found on their shard; a guardian's revoke of a dependent's looks everywhere for
    # its holder first (a cluster locks rows only on one shard at a time), then locks it on the holder's.
    row = None
    if actor.person_id is not None:
        row = await consent_store.get_consent(conn, consent_id, person_id=actor.person_id, for_update=True)
    if row is None:
        found = await consent_store.get_consent(conn, consent_id)
        if found is not None:
            row = await consent_store.get_consent(conn, consent_id, person_id=found["person_id"], for_update=True)
    if row is None:
        raise ConsentNotFound()
    try:
        holder = await access.open_wallet(conn, actor, row["person_id"], now=now)
    except WalletNotFound:
        raise ConsentNotFound() from None
    if holder.role == "family":
        raise ConsentNotFound()
    if row["revoked_at"] is not None:
        return to_model(row, now=now)
    await consent_store.revoke_consent(conn, consent_id, person_id=row["person_id"], now=now)
    consent = await _reload(conn, consent_id, row["person_id"], now=now)
    await _publish(conn, consent, "consent.revoked", now=now)
    await audit.append(
        conn,
        actor=actor.subject,
        action="wallet.consent_revoked",
        subject=f"consent:{consent_id}",
        data={"person": str(row["person_id"])},
        at=now,
    )
    return consent


@dataclass(frozen=True)
class Use:
    """The outcome of a grantee's read: the items, or why none were served."""

    consent: Consent
    items: list[WalletItem]
    refused: str | None = None


async def use(
    conn: Conn, esign: EsignState, consent_id: UUID, *, department_id: UUID, actor: str, now: datetime
) -> Use:
    """The grantee's read of a consent, logged; ``consent_not_found`` for anyone but the grantee."""
    row = await consent_store.get_consent(conn, consent_id)
    if row is None or row["grantee_department_id"] != department_id:
        raise ConsentNotFound()
    uses = await consent_store.take_use(conn, consent_id, person_id=row["person_id"], now=now)
    item_ids = list(row["item_ids"])
    if uses is None:
        refused = service.consent_state(
            revoked_at=row["revoked_at"],
            expires_at=row["expires_at"],
            uses=row["uses"],
            max_uses=row["max_uses"],
            now=now,
        )
        items: list[WalletItem] = []
    else:
        refused = None
        items = await disclosed(
            conn,
            esign,
            await store.get_items(conn, item_ids, person_id=row["person_id"]),
            consent_fields(row),
            now=now,
        )
    await consent_store.log_access(
        conn,
        person_id=row["person_id"],
        consent_id=consent_id,
        department_id=department_id,
        actor=actor,
        purpose=row["purpose"],
        item_ids=item_ids,
        outcome="refused" if refused else "served",
        reason=refused,
        now=now,
    )
    consent = await _reload(conn, consent_id, row["person_id"], now=now)
    if refused is None:
        await _publish(conn, consent, "consent.used", now=now)
    await audit.append(
        conn,
        actor=actor,
        action="wallet.consent_used",
        subject=f"consent:{consent_id}",
        data={
            "person": str(row["person_id"]),
            "department": str(department_id),
            "outcome": "refused" if refused else "served",
            "reason": refused,
        },
        at=now,
    )
    return Use(consent=consent, items=items, refused=refused)


def consent_fields(row: asyncpg.Record) -> dict[UUID, list[str]]:
    return {UUID(k): list(v) for k, v in (row["fields"] or {}).items()}


async def disclosed(
    conn: Conn, esign: EsignState, stored: list[StoredItem], fields: dict[UUID, list[str]], *, now: datetime
) -> list[WalletItem]:
    """Items as a consent's grantee sees them: the named fields of each, or its masked view when none are named."""
    masked = await views.render_all(conn, esign, stored, full=False, now=now)
    named = [s for s in stored if s.id in fields]
    full = {i.id: i for i in await views.render_all(conn, esign, named, full=True, now=now)} if named else {}
    return [
        await views.only_fields(conn, esign, full[i.id], fields[i.id], now=now) if i.id in full else i for i in masked
    ]


def access_entry(row: asyncpg.Record) -> AccessEntry:
    return AccessEntry(
        id=row["id"],
        at=row["at"],
        consent_id=row["consent_id"],
        task_id=row["task_id"],
        material=row["material"],
        delegation_id=row["delegation_id"],
        department=DepartmentRef(id=row["department_id"], name=row["department_name"])
        if row["department_id"]
        else None,
        actor=row["actor"],
        purpose=row["purpose"],
        item_ids=list(row["item_ids"]),
        outcome=row["outcome"],
        reason=row["reason"],
    )


async def record_agent_use(
    conn: Conn,
    *,
    person_id: UUID,
    delegation_id: UUID,
    department_id: UUID | None,
    actor: str,
    purpose: str,
    outcome: str,
    reason: str | None,
    now: datetime,
) -> None:
    """Log a use of the person's 代办 authorisation by their 代办人 (or a refused attempt), for the person to see."""
    await consent_store.log_agent_access(
        conn,
        person_id=person_id,
        delegation_id=delegation_id,
        department_id=department_id,
        actor=actor,
        purpose=purpose,
        outcome=outcome,
        reason=reason,
        now=now,
    )


async def record_task_read(
    conn: Conn,
    *,
    person_id: UUID,
    task_id: UUID,
    material: str,
    department_id: UUID,
    actor: str,
    purpose: str,
    item_ids: list[UUID],
    now: datetime,
) -> None:
    """Log a department's read of a holder's material while handling a task (免提交), for the holder to see."""
    await consent_store.log_task_access(
        conn,
        person_id=person_id,
        task_id=task_id,
        material=material,
        department_id=department_id,
        actor=actor,
        purpose=purpose,
        item_ids=item_ids,
        now=now,
    )


WINDOW_ITEMS = """
SELECT id FROM wallet_item
WHERE person_id = $1 AND kind = 'certificate' AND certificate_id IS NOT NULL
ORDER BY at DESC, id
LIMIT 100
"""


async def grant_at_window(
    conn: Conn,
    *,
    person_id: UUID,
    department_id: UUID,
    clerk: str,
    purpose: str,
    expires_at: datetime,
    now: datetime,
) -> Consent | None:
    """The consent a person gives in front of a window clerk: the service centre may see what their certificates
    supply (免提交) while it takes their application. None when the wallet holds no certificate to read.

    The person is present and identified by the clerk, so no login of theirs is needed; the consent names the clerk
    (``granted_by``), is mirrored to the person's devices, audited, and every read appears in their access log.
    """
    item_ids = [r["id"] for r in await conn.fetch(WINDOW_ITEMS, person_id)]
    if not item_ids:
        return None
    consent_id = uuid7()
    await consent_store.insert_consent(
        conn,
        id=consent_id,
        person_id=person_id,
        department_id=department_id,
        item_ids=item_ids,
        purpose=purpose,
        matter_code=None,
        expires_at=expires_at,
        max_uses=None,
        granted_by=f"window:{clerk}",
        now=now,
        fields={},
    )
    consent = await _reload(conn, consent_id, person_id, now=now)
    await _publish(conn, consent, "consent.granted", now=now)
    await audit.append(
        conn,
        actor=clerk,
        action="wallet.consent_granted_at_window",
        subject=f"consent:{consent_id}",
        data={
            "person": str(person_id),
            "department": str(department_id),
            "purpose": purpose,
            "items": [str(i) for i in item_ids],
            "expires_at": expires_at.isoformat(),
        },
        at=now,
    )
    return consent
