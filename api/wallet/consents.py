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

from api import audit, changelog, outbox
from api.crypto import Keyring
from api.ids import uuid7
from api.problems import FieldError
from api.wallet import access, consent_store, service, store, views
from api.wallet.errors import ConsentInvalid, ConsentNotFound, WalletNotFound
from api.wallet.models import AccessEntry, Consent, ConsentIn, DepartmentRef, WalletItem
from esign.state import EsignState


def to_model(row: asyncpg.Record, *, now: datetime) -> Consent:
    state = service.consent_state(revoked_at=row["revoked_at"], expires_at=row["expires_at"], uses=row["uses"],
                                  max_uses=row["max_uses"], now=now)
    return Consent(
        id=row["id"], person_id=row["person_id"],
        grantee=DepartmentRef(id=row["grantee_department_id"], name=row["grantee_name"]),
        item_ids=list(row["item_ids"]), purpose=row["purpose"], matter_code=row["matter_code"],
        expires_at=row["expires_at"], max_uses=row["max_uses"], uses=row["uses"], status=state,
        created_at=row["created_at"], revoked_at=row["revoked_at"],
    )


async def _publish(conn: asyncpg.Connection, consent: Consent, event: str, *, now: datetime) -> None:
    """Mirror the consent to the holder's devices and tell the grantee."""
    await changelog.record_change(conn, consent.person_id, "consent", consent.id, "put", msgspec.to_builtins(consent))
    payload = {"event": event, "consent_id": str(consent.id), "person_id": str(consent.person_id),
               "department_id": str(consent.grantee.id), "status": consent.status}
    await outbox.enqueue(conn, "notify", payload, dedup_key=f"{event}:{consent.id}:{consent.uses}",
                         partition_key=str(consent.grantee.id))


async def _reload(conn: asyncpg.Connection, consent_id: UUID, *, now: datetime) -> Consent:
    row = await consent_store.get_consent(conn, consent_id)
    assert row is not None
    return to_model(row, now=now)


async def grant(conn: asyncpg.Connection, keyring: Keyring, actor: access.Actor, args: ConsentIn, *, now: datetime) -> Consent:
    """Let a department read named items of one wallet (the caller's or a dependent's): L3, recently."""
    item_ids = service.check_consent(args.item_ids, args.expires_at, now=now)
    items = await store.get_items(conn, item_ids)
    holders = {s.person_id for s in items}
    if len(items) != len(item_ids) or len(holders) != 1:
        found = {s.id for s in items}
        raise ConsentInvalid(errors=[
            FieldError(f"item_ids[{i}]", "no such item" if item not in found else "items must be of one wallet")
            for i, item in enumerate(item_ids) if item not in found or len(holders) > 1
        ])
    try:
        holder = await access.act_for(conn, actor, holders.pop(), now=now)
    except WalletNotFound:
        raise ConsentInvalid(errors=[FieldError("item_ids", "no such items in a wallet you keep")]) from None
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM department WHERE id = $1)", args.grantee_department_id):
        raise ConsentInvalid(errors=[FieldError("grantee_department_id", "no such department")])
    if args.matter_code and not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM catalog_matter WHERE code = $1)", args.matter_code):
        raise ConsentInvalid(errors=[FieldError("matter_code", "no such matter")])
    consent_id = uuid7()
    await consent_store.insert_consent(
        conn, id=consent_id, person_id=holder.person_id, department_id=args.grantee_department_id, item_ids=item_ids,
        purpose=args.purpose.strip(), matter_code=args.matter_code, expires_at=args.expires_at, max_uses=args.max_uses,
        granted_by=actor.subject, now=now,
    )
    consent = await _reload(conn, consent_id, now=now)
    await _publish(conn, consent, "consent.granted", now=now)
    await audit.append(conn, actor=actor.subject, action="wallet.consent_granted", subject=f"consent:{consent_id}",
                       data={"person": str(holder.person_id), "department": str(args.grantee_department_id),
                             "items": [str(i) for i in item_ids], "purpose": consent.purpose,
                             "expires_at": args.expires_at.isoformat(), "max_uses": args.max_uses}, at=now)
    return consent


async def revoke(conn: asyncpg.Connection, keyring: Keyring, actor: access.Actor, consent_id: UUID, *, now: datetime) -> Consent:
    """Withdraw a consent (the holder or a guardian); revoking a revoked one changes nothing."""
    row = await consent_store.get_consent(conn, consent_id, for_update=True)
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
    await consent_store.revoke_consent(conn, consent_id, now=now)
    consent = await _reload(conn, consent_id, now=now)
    await _publish(conn, consent, "consent.revoked", now=now)
    await audit.append(conn, actor=actor.subject, action="wallet.consent_revoked", subject=f"consent:{consent_id}",
                       data={"person": str(row["person_id"])}, at=now)
    return consent


@dataclass(frozen=True)
class Use:
    """The outcome of a grantee's read: the items, or why none were served."""

    consent: Consent
    items: list[WalletItem]
    refused: str | None = None


async def use(
    conn: asyncpg.Connection, esign: EsignState, consent_id: UUID, *, department_id: UUID, actor: str, now: datetime
) -> Use:
    """The grantee's read of a consent, logged; ``consent_not_found`` for anyone but the grantee."""
    row = await consent_store.get_consent(conn, consent_id)
    if row is None or row["grantee_department_id"] != department_id:
        raise ConsentNotFound()
    uses = await consent_store.take_use(conn, consent_id, now=now)
    item_ids = list(row["item_ids"])
    if uses is None:
        refused = service.consent_state(revoked_at=row["revoked_at"], expires_at=row["expires_at"], uses=row["uses"],
                                        max_uses=row["max_uses"], now=now)
        items: list[WalletItem] = []
    else:
        refused = None
        items = await views.render_all(conn, esign, await store.get_items(conn, item_ids), full=True, now=now)
    await consent_store.log_access(
        conn, person_id=row["person_id"], consent_id=consent_id, department_id=department_id, actor=actor,
        purpose=row["purpose"], item_ids=item_ids, outcome="refused" if refused else "served", reason=refused, now=now,
    )
    consent = await _reload(conn, consent_id, now=now)
    if refused is None:
        await _publish(conn, consent, "consent.used", now=now)
    await audit.append(conn, actor=actor, action="wallet.consent_used", subject=f"consent:{consent_id}",
                       data={"person": str(row["person_id"]), "department": str(department_id),
                             "outcome": "refused" if refused else "served", "reason": refused}, at=now)
    return Use(consent=consent, items=items, refused=refused)


def access_entry(row: asyncpg.Record) -> AccessEntry:
    return AccessEntry(
        id=row["id"], at=row["at"], consent_id=row["consent_id"],
        department=DepartmentRef(id=row["department_id"], name=row["department_name"]), actor=row["actor"],
        purpose=row["purpose"], item_ids=list(row["item_ids"]), outcome=row["outcome"], reason=row["reason"],
    )
