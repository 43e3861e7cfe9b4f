"""Bulk writes of batch issuing: the change log and the outbox for many certificates at once.

These are the statements of ``api.changelog.record_change`` and ``api.outbox.enqueue`` taken to many
rows, with the same guarantees: a person's versions come from one upsert of their ``sync_head`` row
(which stays locked until commit, so versions commit in order), and an outbox row with a known
``dedup_key`` is skipped.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from api import audit, changelog, outbox
from api.ids import uuid7_many
from api.wallet import store as wallet_store
from esign.certificate_store import CertificateView
from esign.delivery import issued_event, synced_data
from esign.issuing import rfc3339


_encode = msgspec.json.Encoder().encode


async def deliver_many(
    conn: asyncpg.Connection, views: list[CertificateView], *, actor: str, now: datetime
) -> None:
    """``esign.service.deliver`` for a chunk: wallet items, change log, events, one audit entry."""
    items, changes, events, certificate_ids = [], [], [], []
    ids = iter(uuid7_many(len(views)))
    times: dict[datetime, str] = {}  # a chunk shares a few validity times: each written once

    def text(t: datetime) -> str:
        found = times.get(t)
        if found is None:
            found = times[t] = rfc3339(t)
        return found

    for v in views:
        r = v.row
        certificate_id = str(r.id)
        certificate_ids.append(certificate_id)
        if r.person_id is not None:
            summary = {
                "type_code": r.type_code, "type_name": v.type_name, "licence_id": r.licence_id,
                "issuer_name": v.department_name, "status": "valid",
                "valid_until": text(r.valid_until) if r.valid_until else None,
            }
            data = {  # delivery.wallet_data
                "certificate_id": certificate_id, "fields": r.fields, "status": "valid",
                "valid_from": text(r.valid_from), "status_ref": [r.status_list_id, r.status_index],
            }
            item = wallet_store.WalletItem(
                id=next(ids), person_id=r.person_id, kind="certificate", title=v.type_name, at=r.issued_at,
                summary=summary, certificate_id=r.id, application_id=r.application_id, bundle_code=None, data=data,
                created_at=now, updated_at=now,
            )
            items.append(item)
            # The JSON text the change log keeps, encoded once from the item.
            changes.append((r.person_id, "wallet_item", item.id, msgspec.Raw(_encode(synced_data(item, r.token)))))
        events.append(("certificate.issued", issued_event(r, v.type_name), f"certificate.issued:{certificate_id}",
                       str(r.department_id)))
    await wallet_store.insert_wallet_items(conn, items)
    await changelog.record_puts(conn, changes)
    await outbox.enqueue_many(conn, events)
    if views:
        department_id = views[0].row.department_id
        await audit.append(
            conn, actor=actor, action="esign.certificates_issued", subject=str(department_id),
            data={"count": len(views), "certificates": certificate_ids}, at=now,
        )
