"""How a stored certificate is shown: the API's ``Certificate``, or the bytes a department must sign.

Sensitive fields are decrypted here, so these views are only for the holder and the issuing
department; verifiers see what the token discloses (``esign.verification``).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import msgspec

from api.kernel.db import Conn, one_of
from esign.batch.sign import FIELDS_CONTEXT
from esign.errors import CertificateNotFound
from esign.models import Certificate, HolderOut, IssuerOut, PendingSignature, StatusRef
from esign.state import EsignState
from esign.store import certificate as store
from esign.store.certificate import CertificateRow, CertificateView, ShownCertificate

SIGNING_WINDOW = timedelta(minutes=15)  # how long a department has to sign a prepared certificate


def status_of(
    row: CertificateRow | ShownCertificate, now: datetime
) -> Literal["valid", "suspended", "revoked", "expired"]:
    """A shown certificate's status (never ``pending``: one awaiting a signature is not shown)."""
    if row.status == "valid" and row.valid_until is not None and row.valid_until <= now:
        return "expired"
    return one_of(row.status, ("valid", "suspended", "revoked"))


def render(esign: EsignState, v: CertificateView, *, now: datetime) -> Certificate:
    """The API's ``Certificate`` (all fields, sensitive ones decrypted: only for the holder and issuer)."""
    return render_shown(esign, store.shown(v), now=now)


def render_shown(esign: EsignState, r: ShownCertificate, *, now: datetime) -> Certificate:
    fields = dict(r.fields)
    if r.sealed_fields:
        fields.update(msgspec.json.decode(esign.keyring.decrypt(r.sealed_fields, context=FIELDS_CONTEXT)))
    assert r.token is not None
    return Certificate(
        id=r.id,
        licence_id=r.licence_id,
        type_code=r.type_code,
        type_name=r.type_name,
        holder=HolderOut(
            kind=one_of(r.holder_kind, ("person", "organisation")),
            name_masked=r.holder_name_masked,
            id_masked=r.holder_id_masked,
        ),
        fields=fields,
        issuer=IssuerOut(department_id=r.department_id, name=r.department_name, credit_code=r.department_credit_code),
        seal_kid=r.seal_kid.hex(),
        issued_at=r.issued_at,
        valid_from=r.valid_from,
        valid_until=r.valid_until,
        status=status_of(r, now),
        status_ref=StatusRef(list_id=r.status_list_id, index=r.status_index),
        token=r.token,
        qr_url=esign.qr_url(r.token),
    )


def pending_view(v: CertificateView) -> PendingSignature:
    r = v.row
    assert r.to_be_signed is not None
    return PendingSignature(
        certificate_id=r.id,
        status="awaiting_signature",
        licence_id=r.licence_id,
        seal_id=r.seal_id,
        kid=v.seal_kid.hex(),
        alg=one_of(v.seal_algorithm, ("ES256", "SM2")),
        to_be_signed=base64.b64encode(r.to_be_signed).decode("ascii"),
        sign_by=r.created_at + SIGNING_WINDOW,
    )


async def certificate_view(conn: Conn, esign: EsignState, certificate_id: UUID, *, now: datetime) -> Certificate:
    """The certificate as the API shows it; ``certificate_not_found`` (also while it awaits a signature)."""
    v = await store.get_certificate(conn, certificate_id)
    if v is None or v.row.status == "pending":
        raise CertificateNotFound()
    return render(esign, v, now=now)


def shown(esign: EsignState, certificates: list[ShownCertificate], *, now: datetime) -> dict[UUID, Certificate]:
    """Certificates as the API shows them, by id; those awaiting a signature are left out."""
    return {c.id: render_shown(esign, c, now=now) for c in certificates if c.status != "pending"}


async def certificate_views(
    conn: Conn, esign: EsignState, certificate_ids: list[UUID], *, now: datetime, holder: UUID | None = None
) -> dict[UUID, Certificate]:
    """Many certificates as the API shows them, by id; those missing or awaiting a signature are left out.
    ``holder``: whose they all are, when the caller knows (a wallet's page), which spares looking it up."""
    if not certificate_ids:
        return {}
    return shown(esign, await store.get_shown(conn, certificate_ids, holder=holder), now=now)
