"""Bulk writes of batch issuing: the change log and the outbox for many certificates at once.

These are the statements of ``api.changelog.record_change`` and ``api.outbox.enqueue`` taken to many
rows, with the same guarantees: a person's versions come from one upsert of their ``sync_head`` row
(which stays locked until commit, so versions commit in order), and an outbox row with a known
``dedup_key`` is skipped.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from uuid import UUID, SafeUUID

import asyncpg
import msgspec

from api import audit, changelog, outbox
from api.wallet import store as wallet_store
from esign.certificate_store import CertificateView
from esign.delivery import issued_event
from esign.issuing import rfc3339


def uuid7_many(count: int) -> list[UUID]:
    """``count`` UUIDv7s (``api.ids.uuid7``'s layout) from one read of the random source, not one each."""
    ms = time.time_ns() // 1_000_000
    head = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | 0b10 << 62
    rand = os.urandom(10 * count)
    out = []
    for i in range(0, 10 * count, 10):
        r = int.from_bytes(rand[i : i + 10], "big")
        # What UUID(int=...) makes, without the argument checks of its __init__, which a chunk runs
        # thousands of times for values that are in range by construction.
        u = _new_uuid(UUID)
        _set(u, "int", head | ((r >> 62) & 0xFFF) << 64 | (r & 0x3FFF_FFFF_FFFF_FFFF))
        _set(u, "is_safe", SafeUUID.unknown)
        out.append(u)
    return out


_new_uuid, _set = UUID.__new__, object.__setattr__


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
            data = {
                "certificate_id": certificate_id, "token": r.token, "fields": r.fields, "status": "valid",
                "valid_from": text(r.valid_from), "status_ref": [r.status_list_id, r.status_index],
            }
            item = wallet_store.WalletItem(
                id=next(ids), person_id=r.person_id, kind="certificate", title=v.type_name, at=r.issued_at,
                summary=summary, certificate_id=r.id, application_id=r.application_id, bundle_code=None, data=data,
                created_at=now, updated_at=now,
            )
            items.append(item)
            # wallet_store.item_data(item) as the JSON text the jsonb column takes, encoded once from the item.
            changes.append((r.person_id, "wallet_item", item.id, msgspec.Raw(_encode(item))))
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
