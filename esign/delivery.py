"""What every issued certificate brings with it: the holder's wallet item and its change-log entry,
the ``certificate.issued`` outbox event and the audit entry (one certificate; ``esign.batch.rows``
encodes the same for a chunk)."""

from __future__ import annotations

from datetime import datetime

import msgspec

import wallet
from api.kernel import audit, changelog, outbox
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from esign import service
from esign.models import Certificate
from esign.store.certificate import CertificateRow


def wallet_summary(cert: Certificate) -> dict[str, object]:
    return {
        "type_code": cert.type_code,
        "type_name": cert.type_name,
        "licence_id": cert.licence_id,
        "issuer_name": cert.issuer.name,
        "status": cert.status,
        "valid_until": service.rfc3339(cert.valid_until) if cert.valid_until else None,
    }


def wallet_data(cert: Certificate, public_fields: dict[str, object]) -> dict[str, object]:
    """A certificate item's data as ``wallet_item`` keeps it: without the token, which the certificate
    row already holds (``synced_data`` adds it for the holder's devices)."""
    # Only the fields the token itself discloses go with it (sensitive ones stay sealed on the server).
    return {
        "certificate_id": str(cert.id),
        "fields": public_fields,
        "status": cert.status,
        "valid_from": service.rfc3339(cert.valid_from),
        "status_ref": [cert.status_ref.list_id, cert.status_ref.index],
    }


def synced_data(item: wallet.WalletItem, token: str | None) -> wallet.WalletItem:
    """A certificate item as its change-log entry carries it: with the token, so the holder's devices
    can show the certificate offline."""
    return msgspec.structs.replace(item, data=item.data | {"token": token})


async def deliver(conn: Conn, cert: Certificate, row: CertificateRow, *, actor: str, now: datetime) -> None:
    """Wallet item and change log (person holders), outbox event and audit entry of a new certificate."""
    if row.person_id is not None:
        item = wallet.WalletItem(
            id=uuid7(),
            person_id=row.person_id,
            kind="certificate",
            title=cert.type_name,
            at=cert.issued_at,
            summary=wallet_summary(cert),
            certificate_id=cert.id,
            application_id=row.application_id,
            bundle_code=None,
            data=wallet_data(cert, row.fields),
            created_at=now,
            updated_at=now,
        )
        await wallet.insert_wallet_item(conn, item)
        await changelog.record_change(conn, row.person_id, "wallet_item", item.id, "put", synced_data(item, row.token))
    await outbox.enqueue(
        conn,
        "certificate.issued",
        issued_event(row, cert.type_name),
        dedup_key=f"certificate.issued:{row.id}",
        partition_key=str(row.department_id),
    )
    await audit.append(
        conn,
        actor=actor,
        action="esign.certificate_issued",
        subject=str(row.id),
        data=audit_data(row, cert.seal_kid),
        at=now,
    )


def issued_event(row: CertificateRow, type_name: str) -> dict[str, object]:
    return {
        "certificate_id": str(row.id),
        "department_id": str(row.department_id),
        "type_code": row.type_code,
        "type_name": type_name,
        "licence_id": row.licence_id,
        "person_id": str(row.person_id) if row.person_id else None,
        "application_id": str(row.application_id) if row.application_id else None,
    }


def audit_data(row: CertificateRow, seal_kid: str) -> dict[str, object]:
    return {
        "licence_id": row.licence_id,
        "type_code": row.type_code,
        "department": str(row.department_id),
        "seal_kid": seal_kid,
        "holder": row.holder_name_masked,
        "external_ref": row.external_ref,
    }
