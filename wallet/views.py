"""Stored items as the API shows them: certificates embedded, sensitive values masked or opened.

A certificate item embeds esign's ``Certificate`` (``esign.views.certificate_views``), with its
status as of now. Its sensitive fields (those its type marks sensitive, which the token and the
synced copy never carry) and a record's sealed values are shown only to a ``full`` view; other
views see ``***`` in their place and ``masked: true``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from api.kernel.crypto import Keyring
from api.kernel.db import Conn, one_of
from esign import (
    Certificate,
    CertificateNotFound,
    EsignState,
    certificate_views,
    presentation_token,
)
from wallet.models import ApplicationOut, DepartmentRef, EventOut, Links, RecordOut, TimelineEntry, WalletItem
from wallet.service import MASK, masked
from wallet.store import StoredItem

SEALED_CONTEXT = "wallet_item.sealed_data"


def seal(keyring: Keyring, values: dict[str, Any]) -> bytes | None:
    return keyring.encrypt(msgspec.json.encode(values), context=SEALED_CONTEXT) if values else None


def unseal(keyring: Keyring, blob: bytes | None) -> dict[str, Any]:
    return msgspec.json.decode(keyring.decrypt(blob, context=SEALED_CONTEXT)) if blob else {}


def links(s: StoredItem) -> Links:
    # A life event derived from a certificate names it in its data (the column is for certificate items).
    certificate = s.certificate_id or (UUID(s.data["certificate_id"]) if s.data.get("certificate_id") else None)
    return Links(application_id=s.application_id, bundle_code=s.bundle_code, certificate_id=certificate)


async def render(conn: Conn, esign: EsignState, s: StoredItem, *, full: bool, now: datetime) -> WalletItem:
    """One item for the API; ``full`` opens sensitive values."""
    return (await render_all(conn, esign, [s], full=full, now=now))[0]


async def render_all(
    conn: Conn, esign: EsignState, items: list[StoredItem], *, full: bool, now: datetime
) -> list[WalletItem]:
    """Items for the API, their certificates read in one query (on the holder's shard, for one wallet's items);
    ``full`` opens sensitive values."""
    wanted = [s.certificate_id for s in items if s.kind == "certificate" and s.certificate_id]
    holders = {s.person_id for s in items}
    holder = holders.pop() if len(holders) == 1 else None
    certificates = await certificate_views(conn, esign, wanted, now=now, holder=holder)
    return [_render(esign, s, certificates, full=full) for s in items]


def _render(esign: EsignState, s: StoredItem, certificates: dict[UUID, Certificate], *, full: bool) -> WalletItem:
    base: dict[str, Any] = {
        "id": s.id,
        "kind": s.kind,
        "person_id": s.person_id,
        "title": s.title,
        "at": s.at,
        "summary": s.summary,
        "links": links(s),
    }
    if s.kind == "certificate":
        cert = certificates.get(s.certificate_id) if s.certificate_id is not None else None
        if cert is None:
            raise CertificateNotFound()
        hidden = set(cert.fields) - set(s.data.get("fields", {}))
        if hidden and not full:
            cert = msgspec.structs.replace(cert, fields=masked(cert.fields, hidden))
        return WalletItem(
            **base | {"summary": s.summary | {"status": cert.status}},
            certificate=cert,
            masked=bool(hidden) and not full,
        )
    if s.kind == "record":
        if s.department_id is None:  # wallet_item_record_department_check (migration 0015) rules it out
            raise ValueError(f"wallet item {s.id}: a record without the department that pushed it")
        sealed_keys = s.data.get("sensitive", [])
        values = s.data.get("data", {})
        values = values | unseal(esign.keyring, s.sealed_data) if full else values | dict.fromkeys(sealed_keys, MASK)
        record = RecordOut(
            kind=s.data["kind"],
            data=values,
            occurred_at=datetime.fromisoformat(s.data["occurred_at"]),
            department=DepartmentRef(id=s.department_id, name=s.department_name or ""),
            external_ref=s.external_ref or "",
        )
        return WalletItem(**base, record=record, masked=bool(sealed_keys) and not full)
    if s.kind == "event":
        event = EventOut(type=s.data["event"], source=s.data["source"], detail=s.data.get("detail", {}))
        return WalletItem(**base, event=event)
    app = ApplicationOut(
        status=s.summary["status"],
        bundle_code=s.summary.get("bundle_code"),
        matter_code=s.summary.get("matter_code"),
        applicant_person_id=UUID(s.summary["applicant_person_id"]),
        for_person_id=UUID(s.summary["for_person_id"]),
    )
    return WalletItem(**base, application=app)


async def only_fields(conn: Conn, esign: EsignState, item: WalletItem, keys: list[str], *, now: datetime) -> WalletItem:
    """A fully opened item cut down to the named fields of its certificate or record (as a consent names them).

    A certificate's token then becomes a presentation of just those fields (亮证, valid 300 s), so
    the token discloses no more than the fields shown beside it.
    """
    wanted = set(keys)
    if item.certificate is not None:
        fields = {k: v for k, v in item.certificate.fields.items() if k in wanted}
        token, _ = await presentation_token(conn, esign, item.certificate.token, fields, now=now)
        cert = msgspec.structs.replace(item.certificate, fields=fields, token=token, qr_url=esign.qr_url(token))
        return msgspec.structs.replace(item, certificate=cert, masked=False)
    if item.record is not None:
        data = {k: v for k, v in item.record.data.items() if k in wanted}
        return msgspec.structs.replace(item, record=msgspec.structs.replace(item.record, data=data), masked=False)
    return item


def timeline_entry(s: StoredItem) -> TimelineEntry:
    """A stored item as a timeline entry: life events by type, records and certificates as milestones."""
    return TimelineEntry(
        at=s.at,
        kind=one_of(s.kind, ("event", "record", "certificate")),  # list_stored_items leaves applications out
        title=s.title,
        item_id=s.id,
        links=links(s),
        event=s.data.get("event") if s.kind == "event" else None,
    )
