"""Issuing one certificate, completing a department's signature, and status changes.

Everything here runs in the caller's transaction: the certificate row, the holder's wallet item and
its change-log entry, the outbox event and the audit entry commit together or not at all.

Other domains call ``issue_certificate(conn, app.state.esign, ...)``; approving a task that has a
result certificate does so with ``holder_person_id`` for a holder who may have no ID number yet
(a newborn). ``certificate_view(conn, esign, id, now=...)`` gives the API's ``Certificate``.

A seal whose key the department keeps cannot sign here: the certificate is prepared (``pending``,
with the exact bytes to sign) and completed by ``complete_signature`` within ``SIGNING_WINDOW``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict
from uuid import UUID

import cbor2
import msgspec

import auth
import wallet
from api.kernel import audit, authority, changelog, outbox
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from api.kernel.problems import FieldError
from esign import entity_seals, lists, service
from esign.batch.sign import FIELDS_CONTEXT, ID_CONTEXT, NAME_CONTEXT, seal_fields
from esign.codec import keys, licence, tokens, x509
from esign.delivery import audit_data, deliver, synced_data
from esign.errors import (
    CertificateNotFound,
    CertificateNotPending,
    CertificateRevoked,
    CertificateStatusConflict,
    CertificateTypeUnknown,
    ExternalRefConflict,
    HolderInvalid,
    NoActiveSeal,
    SealNotActive,
    SealNotFound,
    SealNotUsable,
    SignatureInvalid,
    SigningWindowClosed,
)
from esign.models import Certificate, IssueIn, PendingSignature
from esign.service import CertType, Draft, Holder
from esign.state import EsignState
from esign.store import certificate as store
from esign.store import seal as seal_store
from esign.store.certificate import CertificateRow, CertificateView
from esign.store.seal import SealRow
from esign.views import SIGNING_WINDOW, certificate_view, pending_view, render

INDEX_PURPOSE = auth.INDEX_PURPOSE
__all__ = [
    "Issued",
    "certificate_view",
    "change_status",
    "complete_signature",
    "issue_certificate",
    "presentation_claims",
    "presentation_token",
    "render",
]


@dataclass(frozen=True)
class Issued:
    """The outcome: ``issued`` (new), ``existing`` (same ``external_ref`` and body), ``pending``."""

    outcome: Literal["issued", "existing", "pending"]
    certificate_id: UUID
    certificate: Certificate | None = None
    pending: PendingSignature | None = None


def _ref_lock(department_id: UUID, external_ref: str) -> int:
    digest = hashlib.sha256(f"esign.ref\x00{department_id}\x00{external_ref}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# --- issuing ------------------------------------------------------------------------------------------


async def pick_seal(conn: Conn, department_id: UUID, seal_id: UUID | None, *, now: datetime) -> SealRow:
    """The named seal (it must be the department's, active and an issuer) or the default one: the
    department's active 电子证照专用章 (kind ``business``) where it has one, else its official seal."""
    if seal_id is None:
        seal = await seal_store.default_seal(conn, department_id, now=now)
        if seal is None:
            raise NoActiveSeal(
                "the department has no active 电子证照专用章 (kind business) and no active official seal; "
                "create one with POST /v1/dept/seals first"
            )
        return seal
    try:
        seal = await seal_store.get_seal(conn, seal_id)
    except SealNotFound:
        seal = None
    if seal is None or seal.department_id != department_id or seal.status != "active" or seal.valid_until <= now:
        raise SealNotUsable(errors=[FieldError(field="seal_id", message="not an active seal of this department")])
    return seal


async def load_type(conn: Conn, code: str, department_id: UUID, *, actor: str) -> CertType:
    """The certificate type ``code``, which the department must issue (403 ``authority_required`` otherwise)."""
    ctype = await store.get_type(conn, code)
    if ctype is None:
        raise CertificateTypeUnknown(errors=[FieldError(field="type_code", message="no such certificate type")])
    if department_id not in ctype.issuer_department_ids:
        raise authority.AuthorityRequired(authority.certificate(code), department_id=department_id, actor=actor)
    return ctype


async def _holder_by_person(conn: Conn, esign: EsignState, ctype: CertType, item: IssueIn, person_id: UUID) -> Holder:
    if ctype.holder_kind != "person":
        raise HolderInvalid(f"certificates of type {ctype.code} are held by an organisation")
    if await auth.get_name(conn, esign.keyring, person_id) is None:
        raise HolderInvalid("no such person")
    id_number = await auth.get_id_number(conn, esign.keyring, person_id)
    return Holder(kind="person", name=item.holder.name.strip(), id_number=id_number, person_id=person_id)


class _Common(TypedDict):
    """``new_row``'s arguments that do not depend on who signs."""

    department_id: UUID
    seal_id: UUID
    item: IssueIn
    request_hash: bytes
    person_id: UUID
    actor: str
    now: datetime


def new_row(
    esign: EsignState,
    d: Draft,
    *,
    department_id: UUID,
    seal_id: UUID,
    record_digest: bytes,
    token: str | None,
    to_be_signed: bytes | None,
    item: IssueIn,
    request_hash: bytes,
    person_id: UUID,
    actor: str,
    now: datetime,
) -> CertificateRow:
    """The row to store for a draft; holder identity and sensitive fields sealed."""
    keyring, h = esign.keyring, d.holder
    return CertificateRow(
        id=d.id,
        department_id=department_id,
        type_code=d.type_code,
        licence_id=d.licence_id,
        holder_kind=h.kind,
        person_id=person_id,
        holder_name=keyring.encrypt(h.name, context=NAME_CONTEXT),
        holder_id=keyring.encrypt(h.id_number, context=ID_CONTEXT) if h.id_number else None,
        holder_index=keyring.blind_index(h.id_number, purpose=INDEX_PURPOSE) if h.id_number else None,
        holder_credit_code=h.credit_code,
        holder_name_masked=h.name_masked,
        holder_id_masked=h.id_masked,
        fields=d.public_fields,
        sealed_fields=seal_fields(keyring, d.sensitive_fields),
        seal_id=seal_id,
        issued_at=d.issued_at,
        valid_from=d.valid_from,
        valid_until=d.valid_until,
        status="valid" if token else "pending",
        status_reason=None,
        status_changed_at=None,
        status_list_id=d.status_ref[0],
        status_index=d.status_ref[1],
        record_digest=record_digest,
        to_be_signed=to_be_signed,
        token=token,
        external_ref=item.external_ref,
        request_hash=request_hash,
        application_id=item.application_id,
        created_by=actor,
        created_at=now,
        record_salt=d.salt,
    )


def request_hash(item: IssueIn, holder_person_id: UUID | None) -> bytes:
    base = service.request_hash(item)
    return base if holder_person_id is None else hashlib.sha256(base + holder_person_id.bytes).digest()


async def _replay(
    conn: Conn, esign: EsignState, department_id: UUID, item: IssueIn, rhash: bytes, *, now: datetime
) -> Issued | None:
    """The earlier outcome for this ``external_ref``, or None to issue (a lapsed pending one is dropped)."""
    known = await store.find_by_external_ref(conn, department_id, item.external_ref)
    if known is None:
        return None
    if known.row.request_hash != rhash:
        raise ExternalRefConflict("this external_ref was used with another body", external_ref=item.external_ref)
    if known.row.status != "pending":
        return Issued("existing", known.row.id, certificate=render(esign, known, now=now))
    if known.row.created_at + SIGNING_WINDOW > now:
        return Issued("pending", known.row.id, pending=pending_view(known))
    await store.delete_pending(conn, known.row.id, known.row.person_id)
    return None


async def registry_fields(conn: Conn, esign: EsignState, org_id: UUID) -> dict[str, Any]:
    """The fields of the entity's newest 营业执照 (sensitive ones opened); empty when it has none."""
    row = await conn.fetchrow(
        "SELECT fields, sealed_fields FROM esign_certificate WHERE person_id = $1 AND type_code = $2"
        " AND status IN ('valid', 'suspended') ORDER BY issued_at DESC, id DESC LIMIT 1",
        org_id,
        auth.REGISTRY_TYPE,
    )
    if row is None:
        return {}
    fields = dict(row["fields"])
    if row["sealed_fields"]:
        fields.update(msgspec.json.decode(esign.keyring.decrypt(row["sealed_fields"], context=FIELDS_CONTEXT)))
    return fields


async def _organisation(
    conn: Conn,
    esign: EsignState,
    ctype: CertType,
    holder: Holder,
    fields: dict[str, Any],
    *,
    department_id: UUID,
    ref: str,
    now: datetime,
) -> UUID:
    """The holder id (its wallet) of an organisation; a 营业执照 also registers its legal representative,
    and puts the entity's life event in its wallet: opened the first time, changed after — when the change
    is pushed to every department holding the entity's old data (``auth.tell_holders``)."""
    legal_rep = None
    if ctype.code == auth.REGISTRY_TYPE and fields.get(auth.LEGAL_REP_FIELD):
        legal_rep = auth.legal_rep_index(
            esign.keyring,
            str(fields[auth.LEGAL_REP_FIELD]),
            today=now.astimezone(service.CHINA).date(),
            field=f"fields.{auth.LEGAL_REP_FIELD}",
        )
    assert holder.credit_code is not None
    known = await auth.get_org_by_credit_code(conn, holder.credit_code) if ctype.code == auth.REGISTRY_TYPE else None
    previous = await registry_fields(conn, esign, known.id) if known else {}
    org_id, created = await auth.register(
        conn, esign.keyring, credit_code=holder.credit_code, name=holder.name, legal_rep=legal_rep, now=now
    )
    if known is not None:
        await auth.tell_holders(
            conn,
            org_id,
            credit_code=holder.credit_code,
            name=holder.name,
            old={"entity_name": known.name} | previous,
            new={"entity_name": holder.name} | fields,
            public=frozenset(r.key for r in ctype.fields if not r.sensitive) | {"entity_name"},
            source_department_id=department_id,
            ref=ref,
            now=now,
        )
    if ctype.code == entity_seals.SEAL_RECORD_TYPE:
        # 公章刻制备案 done: the platform makes the entity's e-seal on its behalf.
        await entity_seals.make_seal(conn, esign, org_id, actor=f"certificate:{ref}", now=now)
    if ctype.code == auth.REGISTRY_TYPE:
        await wallet.add_life_event(
            conn,
            person_id=org_id,
            event="business_opened" if created else "business_changed",
            at=now,
            source="certificate",
            source_id=ref,
            now=now,
            detail={"credit_code": holder.credit_code, "name": holder.name},
        )
    return org_id


async def issue_certificate(
    conn: Conn,
    esign: EsignState,
    *,
    department_id: UUID,
    item: IssueIn,
    actor: str,
    now: datetime,
    holder_person_id: UUID | None = None,
) -> Issued:
    """Issue one certificate in the caller's transaction; idempotent by ``external_ref``.

    With ``holder_person_id`` (for other domains, not the HTTP API) the holder is that person, named
    ``item.holder.name``, whose ID number is taken from the person record if it has one.
    """
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _ref_lock(department_id, item.external_ref))
    rhash = request_hash(item, holder_person_id)
    earlier = await _replay(conn, esign, department_id, item, rhash, now=now)
    if earlier is not None:
        return earlier
    ctype = await load_type(conn, item.type_code, department_id, actor=actor)
    department = await seal_store.get_department(conn, department_id)
    assert department is not None
    if holder_person_id is not None:
        holder = await _holder_by_person(conn, esign, ctype, item, holder_person_id)
    else:
        holder = service.check_holder(ctype, item.holder, today=now.astimezone(service.CHINA).date())
    public, sensitive = service.check_fields(ctype, item.fields)
    issued_at = now.astimezone(UTC).replace(microsecond=0)
    valid_from, valid_until = service.check_validity(ctype, item.valid_from, item.valid_until, issued_at=issued_at)
    seal = await pick_seal(conn, department_id, item.seal_id, now=now)
    person_id = holder.person_id
    if person_id is None and holder.id_number is not None:
        sealed = auth.seal_person(esign.keyring, holder.id_number, holder.name)
        person_id = (await auth.find_or_create_persons(conn, [sealed], now=now))[sealed[0]]
        await auth.check_person_name(conn, esign.keyring, person_id, holder.name, field="holder.name")
    if person_id is None and holder.credit_code is not None:
        person_id = await _organisation(
            conn,
            esign,
            ctype,
            holder,
            sensitive | public,
            department_id=department_id,
            ref=f"{department_id}:{item.external_ref}",
            now=now,
        )
    assert person_id is not None  # check_holder gives every holder an ID number or a credit code
    await wallet.ensure_open(conn, person_id)
    year = service.serial_year(now)
    serial = service.serial_text(year, await store.next_serials(conn, ctype.code, department_id, year, 1))
    (slot,) = await lists.allocate_slots(conn, 1)
    draft = Draft(
        id=uuid7(),
        licence_id=licence.build_licence_id(ctype.gb_type_code, department.credit_code, serial),
        serial=serial,
        field_numbers=service.field_numbers(ctype),
        type_code=ctype.code,
        gb_type_code=ctype.gb_type_code,
        issuer_code=department.credit_code,
        holder=holder,
        public_fields=public,
        sensitive_fields=sensitive,
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
        status_ref=slot,
    )
    common: _Common = {
        "department_id": department_id,
        "seal_id": seal.id,
        "item": item,
        "request_hash": rhash,
        "person_id": person_id,
        "actor": actor,
        "now": now,
    }
    if seal.key_custody == "department":
        record_digest = service.digest(draft)
        parts = tokens.signing_input(service.claims(draft, record_digest), seal.algorithm, seal.kid)
        row = new_row(esign, draft, record_digest=record_digest, token=None, to_be_signed=parts.to_be_signed, **common)
        await store.insert_certificate(conn, row)
        await audit.append(
            conn,
            actor=actor,
            action="esign.certificate_prepared",
            subject=str(row.id),
            data=audit_data(row, seal.kid.hex()),
            at=now,
        )
        view = await store.get_certificate(conn, row.id, person_id=row.person_id)
        assert view is not None
        return Issued("pending", row.id, pending=pending_view(view))
    token, record_digest = service.sign_draft(draft, await esign.signer(conn, seal))
    row = new_row(esign, draft, record_digest=record_digest, token=token, to_be_signed=None, **common)
    await store.insert_certificate(conn, row)
    cert = render(
        esign,
        CertificateView(
            row=row,
            type_name=ctype.name,
            gb_type_code=ctype.gb_type_code,
            department_name=department.name,
            department_credit_code=department.credit_code,
            seal_kid=seal.kid,
            seal_algorithm=seal.algorithm,
        ),
        now=now,
    )
    await deliver(conn, cert, row, actor=actor, now=now)
    if ctype.code == auth.DEREGISTRATION_TYPE and person_id is not None:
        await _close_entity(
            conn,
            esign,
            person_id,
            department_id=department_id,
            ref=f"{department_id}:{item.external_ref}",
            actor=actor,
            now=now,
        )
    return Issued("issued", row.id, certificate=cert)


async def _close_entity(
    conn: Conn, esign: EsignState, org_id: UUID, *, department_id: UUID, ref: str, actor: str, now: datetime
) -> None:
    """注销登记 done (准予注销登记通知书 issued): the entity's 营业执照 and e-seal revoked last, its wallet kept
    read only."""
    licences = await conn.fetch(
        "SELECT id FROM esign_certificate WHERE person_id = $1 AND type_code = $2 AND status IN ('valid', 'suspended')"
        " AND department_id = $3",
        org_id,
        auth.REGISTRY_TYPE,
        department_id,
    )
    for row in licences:
        await change_status(
            conn,
            esign,
            department_id=department_id,
            certificate_id=row["id"],
            action="revoke",
            reason="企业注销",
            actor=actor,
            now=now,
        )
    await entity_seals.revoke_seal(conn, org_id, actor=actor, now=now)
    await wallet.add_life_event(
        conn, person_id=org_id, event="business_closed", at=now, source="certificate", source_id=ref, now=now
    )


async def complete_signature(
    conn: Conn,
    esign: EsignState,
    *,
    department_id: UUID,
    certificate_id: UUID,
    signature: bytes,
    actor: str,
    now: datetime,
) -> Certificate:
    """Finish a certificate prepared for a department-held seal with the department's signature."""
    v = await store.get_certificate(conn, certificate_id, for_update=True)
    if v is None or v.row.department_id != department_id:
        raise CertificateNotFound()
    row = v.row
    await authority.require(conn, department_id, authority.certificate(row.type_code), actor=actor)
    if row.status != "pending" or row.to_be_signed is None:
        raise CertificateNotPending()
    if row.created_at + SIGNING_WINDOW <= now:
        raise SigningWindowClosed("issue it again with the same external_ref and body")
    seal = await seal_store.get_seal(conn, row.seal_id)
    if seal.status != "active":
        raise SealNotActive(f"the seal is {seal.status}", seal_status=seal.status)
    public_key = x509.read_seal_certificate(seal.certificate).public_key
    if not keys.verify_raw(public_key, row.to_be_signed, signature):
        raise SignatureInvalid(
            "the signature does not check with the seal's key",
            errors=[
                FieldError(
                    field="signature", message=f"must be the raw r||s {seal.algorithm} signature of to_be_signed"
                )
            ],
        )
    _, protected, _, payload = cbor2.loads(row.to_be_signed)
    token = tokens.assemble_token(protected, payload, signature)
    await store.set_signed(conn, row.id, row.person_id, token, now=now)
    signed = await store.get_certificate(conn, row.id, person_id=row.person_id)
    assert signed is not None
    cert = render(esign, signed, now=now)
    await deliver(conn, cert, signed.row, actor=actor, now=now)
    return cert


# --- presentations (亮证) ------------------------------------------------------------------------------


def presentation_claims(
    certificate: tokens.Claims,
    fields: Mapping[str, Any],
    numbers: Mapping[str, int],
    *,
    now: datetime,
    ttl: int = tokens.PRESENTATION_MAX_TTL,
) -> tokens.Claims:
    """Presentation claims of a certificate disclosing ``fields`` (by key), keyed in the token by the type's
    registry numbers ``numbers``; every presentation is built here."""
    unknown = sorted(set(fields) - set(numbers))
    if unknown:
        raise ValueError(f"not fields of the type {certificate.type_code}: {', '.join(unknown)}")
    return tokens.make_presentation(certificate, {numbers[k]: v for k, v in fields.items()}, now=now, ttl=ttl)


async def presentation_token(
    conn: Conn,
    esign: EsignState,
    certificate_token: str,
    fields: Mapping[str, Any],
    *,
    now: datetime,
    ttl: int = tokens.PRESENTATION_MAX_TTL,
) -> tuple[str, tokens.Claims]:
    """``(token, claims)`` of a presentation of the certificate ``certificate_token``, signed by the platform's
    presentation seal."""
    certificate = tokens.decode_token(certificate_token).claims
    ctype = await store.get_type(conn, certificate.type_code)
    if ctype is None:
        raise CertificateTypeUnknown(errors=[FieldError(field="type_code", message="no such certificate type")])
    claims = presentation_claims(certificate, fields, service.field_numbers(ctype), now=now, ttl=ttl)
    return tokens.encode_token(claims, esign.platform.presenter), claims


# --- revoke / suspend / resume ------------------------------------------------------------------------

# action: (new status, statuses it may start from, past tense for events and audit)
TRANSITIONS = {
    "revoke": ("revoked", {"valid", "suspended"}, "revoked"),
    "suspend": ("suspended", {"valid"}, "suspended"),
    "resume": ("valid", {"suspended"}, "resumed"),
}


async def change_status(
    conn: Conn,
    esign: EsignState,
    *,
    department_id: UUID,
    certificate_id: UUID,
    action: Literal["revoke", "suspend", "resume"],
    reason: str | None,
    actor: str,
    now: datetime,
) -> Certificate:
    """Flip a certificate's status bit; only its issuing department may (others get 404)."""
    v = await store.get_certificate(conn, certificate_id, for_update=True)
    if v is None or v.row.department_id != department_id or v.row.status == "pending":
        raise CertificateNotFound()
    await authority.require(conn, department_id, authority.certificate(v.row.type_code), actor=actor)
    target, allowed, done = TRANSITIONS[action]
    if v.row.status == "revoked":
        raise CertificateRevoked("a revoked certificate stays revoked")
    if v.row.status not in allowed:
        raise CertificateStatusConflict(
            f"cannot {action} a {v.row.status} certificate", certificate_status=v.row.status
        )
    holder = v.row.person_id
    await store.set_status(conn, certificate_id, holder, target, reason=reason, now=now)
    await lists.status_changed(conn, v.row.status_list_id)
    changed = await store.get_certificate(conn, certificate_id, person_id=holder)
    assert changed is not None
    cert = render(esign, changed, now=now)
    item = await wallet.update_certificate_item(
        conn, holder, certificate_id, summary={"status": cert.status}, data={"status": cert.status}, now=now
    )
    if item is not None:
        await changelog.record_change(
            conn, item.person_id, "wallet_item", item.id, "put", synced_data(item, cert.token)
        )
    event = {
        "certificate_id": str(certificate_id),
        "department_id": str(department_id),
        "status": target,
        "reason": reason,
        "person_id": str(v.row.person_id) if v.row.person_id else None,
    }
    await outbox.enqueue(
        conn,
        f"certificate.{done}",
        event,
        dedup_key=f"certificate.{done}:{certificate_id}:{now.isoformat()}",
        partition_key=str(department_id),
    )
    await audit.append(
        conn,
        actor=actor,
        action=f"esign.certificate_{done}",
        subject=str(certificate_id),
        data={"licence_id": v.row.licence_id, "from": v.row.status, "to": target, "reason": reason},
        at=now,
    )
    return cert
