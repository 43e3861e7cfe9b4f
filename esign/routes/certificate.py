"""``/v1/dept/certificates``: issuing (one, or a batch), completing a department's signature, and
revoke / suspend / resume. Only the issuing department sees its certificates; others get 404.
A batch is queued for the workers (``esign.batch.jobs``) and read back at ``/v1/dept/certificate-batches``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.deps import Db, Now
from api.kernel import idempotency
from api.kernel.authority import AuthorityRequired
from api.kernel.client_address import client_address
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import BadRequest, FieldError, ValidationFailed, success
from api.openapi import IDEMPOTENT
from auth import (
    BEARER,
    CreditCodeInvalid,
    CurrentPrincipal,
    HolderMismatch,
    IdNumberInvalid,
    Principal,
    problem_responses,
)
from esign import flows, views
from esign.batch import jobs as batches
from esign.errors import (
    CertificateBatchNotFound,
    CertificateFieldsInvalid,
    CertificateNotFound,
    CertificateNotPending,
    CertificateRevoked,
    CertificateStatusConflict,
    CertificateTypeUnknown,
    ExternalRefConflict,
    HolderInvalid,
    NoActiveSeal,
    SealNotActive,
    SealNotUsable,
    SignatureInvalid,
    SigningWindowClosed,
    TokenTooLarge,
    ValidityInvalid,
)
from esign.http import AUTHZ, Esign
from esign.models import (
    BatchIn,
    BatchResultPage,
    Certificate,
    CertificateBatch,
    IssueIn,
    OptionalReasonIn,
    PendingSignature,
    ReasonIn,
    SignatureIn,
)
from esign.store import certificate as store

ISSUE_PROBLEMS = (
    CertificateTypeUnknown,
    CertificateFieldsInvalid,
    HolderInvalid,
    IdNumberInvalid,
    CreditCodeInvalid,
    ValidityInvalid,
    SealNotUsable,
    TokenTooLarge,
    NoActiveSeal,
    ExternalRefConflict,
    HolderMismatch,
)
STATUS_PROBLEMS = (
    BadRequest,
    ValidationFailed,
    *AUTHZ,
    AuthorityRequired,
    CertificateNotFound,
    CertificateRevoked,
    CertificateStatusConflict,
)


def _issuer(principal: Principal) -> UUID:
    return principal.require_staff("issuer", scope="certificates:issue")


class DepartmentCertificateController(Controller):
    path = "/v1/dept/certificates"
    tags = ["certificates"]
    security = BEARER

    @post(
        operation_id="IssueCertificate",
        opt=IDEMPOTENT,
        summary="Issue one certificate (电子证照) to a person or an organisation",
        description=(
            "Staff `issuer`, or a department system with scope `certificates:issue`; the department must be one of "
            "the type's `issuer_department_ids` (403 `authority_required`, `power` `certificate:<type code>`). Fields are checked against the type (422 "
            "`certificate_fields_invalid` naming each field), a person's ID number by GB 11643 "
            "(`id_number_invalid`), an organisation's credit code by GB 32100 (`credit_code_invalid`). The seal is "
            "`seal_id`; without it, the department's active 电子证照专用章 (seal kind `business`) where it has one, "
            "else its active official seal (409 `no_active_seal` when it has neither).\n\n"
            "201: issued. 200: the same `external_ref` with the same body was issued before (the same certificate). "
            "409 `external_ref_conflict`: the `external_ref` was used with another body. 202 `PendingSignature`: the "
            "seal's key stays with the department; sign `to_be_signed` (raw r‖s, base64) and post it to "
            "`/v1/dept/certificates/{certificate_id}/signature` before `sign_by`. Accepts `Idempotency-Key`."
        ),
        responses={
            **success(201, Certificate, "Issued."),
            **success(200, Certificate, "Issued before with this `external_ref` and body: the same certificate."),
            **success(202, PendingSignature, "Waiting for the department's signature."),
            **problem_responses(BadRequest, ValidationFailed, *AUTHZ, AuthorityRequired, *ISSUE_PROBLEMS),
        },
    )
    async def issue(
        self, data: JSONBody[IssueIn], request: Request, principal: CurrentPrincipal, db: Db, now: Now, esign: Esign
    ) -> Response[bytes]:
        department_id = _issuer(principal)
        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, object]:
                done = await flows.issue_certificate(
                    conn, esign, department_id=department_id, item=data, actor=principal.subject, now=now
                )
                if done.outcome == "pending":
                    return 202, done.pending
                return (201 if done.outcome == "issued" else 200), done.certificate

            return await idempotency.run(request, conn, scope=f"certificate:{principal.subject}", create=create)

    @get(
        "/{certificate_id:uuid}",
        operation_id="GetIssuedCertificate",
        summary="A certificate the caller's department issued",
        description="Staff `issuer` or scope `certificates:issue`; other departments' certificates are 404.",
        responses=problem_responses(*AUTHZ, CertificateNotFound),
    )
    async def get_one(
        self, certificate_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, now: Now, esign: Esign
    ) -> Certificate:
        department_id = _issuer(principal)
        async with db.acquire() as conn:
            v = await store.get_certificate(conn, certificate_id)
        if v is None or v.row.department_id != department_id or v.row.status == "pending":
            raise CertificateNotFound()
        return views.render(esign, v, now=now)

    @post(
        "/{certificate_id:uuid}/signature",
        operation_id="SignCertificate",
        opt=IDEMPOTENT,
        summary="Complete a certificate with the department's own seal signature",
        description=(
            "For seals whose key the department keeps: `signature` is base64 of the raw r‖s (64 bytes) ES256 or SM2 "
            "signature of `to_be_signed`. 422 `signature_invalid` when it does not check with the seal's key; 409 "
            "`certificate_not_pending` when already complete; 409 `signing_window_closed` after `sign_by` (issue it "
            "again with the same `external_ref` and body). Accepts `Idempotency-Key`: a retry with the same key gets "
            "the certificate again rather than `certificate_not_pending`."
        ),
        responses={
            **success(201, Certificate, "Issued."),
            **problem_responses(
                BadRequest,
                ValidationFailed,
                SignatureInvalid,
                *AUTHZ,
                AuthorityRequired,
                CertificateNotFound,
                CertificateNotPending,
                SigningWindowClosed,
                SealNotActive,
            ),
        },
    )
    async def sign(
        self,
        certificate_id: FromPath[UUID],
        data: JSONBody[SignatureIn],
        request: Request,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        esign: Esign,
    ) -> Response[bytes]:
        department_id = _issuer(principal)
        try:
            signature = base64.b64decode(data.signature, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureInvalid(errors=[FieldError(field="signature", message="must be base64")]) from None
        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, Certificate]:
                return 201, await flows.complete_signature(
                    conn,
                    esign,
                    department_id=department_id,
                    certificate_id=certificate_id,
                    signature=signature,
                    actor=principal.subject,
                    now=now,
                )

            return await idempotency.run(request, conn, scope=f"certificate:{principal.subject}", create=create)

    async def _change(
        self,
        action: Literal["revoke", "suspend", "resume"],
        certificate_id: UUID,
        reason: str | None,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        esign: Esign,
    ) -> Certificate:
        department_id = principal.require_staff("issuer", scope="certificates:revoke")
        async with db.acquire() as conn, conn.transaction():
            return await flows.change_status(
                conn,
                esign,
                department_id=department_id,
                certificate_id=certificate_id,
                action=action,
                reason=reason,
                actor=principal.subject,
                now=now,
            )

    @post(
        "/{certificate_id:uuid}/revoke",
        operation_id="RevokeCertificate",
        status_code=200,
        summary="Revoke a certificate (final)",
        description="Staff `issuer` or scope `certificates:revoke`, of the issuing department only (others: 404). "
        "Sets its status-list entry to revoked; a revoked certificate cannot change again (`certificate_revoked`).",
        responses=problem_responses(*STATUS_PROBLEMS),
    )
    async def revoke(
        self,
        certificate_id: FromPath[UUID],
        data: JSONBody[ReasonIn],
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        esign: Esign,
    ) -> Certificate:
        return await self._change("revoke", certificate_id, data.reason, principal, db, now, esign)

    @post(
        "/{certificate_id:uuid}/suspend",
        operation_id="SuspendCertificate",
        status_code=200,
        summary="Suspend a valid certificate (reversible)",
        description="As revoke, but `resume` undoes it. Only a valid certificate can be suspended "
        "(`certificate_status_conflict`).",
        responses=problem_responses(*STATUS_PROBLEMS),
    )
    async def suspend(
        self,
        certificate_id: FromPath[UUID],
        data: JSONBody[ReasonIn],
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        esign: Esign,
    ) -> Certificate:
        return await self._change("suspend", certificate_id, data.reason, principal, db, now, esign)

    @post(
        "/{certificate_id:uuid}/resume",
        operation_id="ResumeCertificate",
        status_code=200,
        summary="Resume a suspended certificate",
        description="Body optional (`{reason?}`). Only a suspended certificate can be resumed "
        "(`certificate_status_conflict`).",
        responses=problem_responses(*STATUS_PROBLEMS),
    )
    async def resume(
        self,
        certificate_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        esign: Esign,
        data: JSONBody[OptionalReasonIn | None] = None,
    ) -> Certificate:
        return await self._change("resume", certificate_id, data.reason if data else None, principal, db, now, esign)


@post(
    "/v1/dept/certificates:batch",
    tags=["certificates"],
    security=BEARER,
    operation_id="IssueCertificateBatch",
    opt=IDEMPOTENT,
    status_code=202,
    summary="Queue up to 10,000 certificates for issuing; each item succeeds or fails on its own",
    description=(
        "202 with the batch (`CertificateBatch`, state `queued`) and its `Location`; workers issue it, and the "
        "department polls `GET /v1/dept/certificate-batches/{batch_id}` for its state (`queued`, `running`, "
        "`done`, `failed`), counts and progress, and `…/results` for the items settled so far (or subscribes a "
        "webhook to `certificate_batch.finished`). Same rights and rules as `IssueCertificate`, per item: a "
        "result is `issued` (new), `existing` (the same `external_ref` and body was issued before, or earlier "
        "in this batch) or `failed` with the problem document that a single request would have received "
        "(e.g. `authority_required`, `certificate_fields_invalid`, `id_number_invalid`, `external_ref_conflict`, "
        "`seal_key_held_by_department`: a department-held seal signs one certificate at a time). A body that "
        "does not match the item schema at all is refused whole (400/422). Accepts `Idempotency-Key` (the same "
        "batch again); the items' `external_ref`s make a batch sent twice issue each certificate once."
    ),
    responses={
        **success(202, CertificateBatch, "Queued; `Location` names the batch."),
        **problem_responses(BadRequest, ValidationFailed, *AUTHZ),
    },
)
async def issue_batch(
    data: JSONBody[BatchIn], request: Request, principal: CurrentPrincipal, db: Db, now: Now, esign: Esign
) -> Response[bytes]:
    department_id = _issuer(principal)
    async with db.acquire() as conn, conn.transaction():

        async def create() -> tuple[int, CertificateBatch]:
            return 202, await batches.submit(
                conn,
                esign.keyring,
                department_id=department_id,
                items=data.items,
                actor=principal.subject,
                route=f"POST {request.url.path}",
                client_address=client_address(request),
                now=now,
            )

        response = await idempotency.run(request, conn, scope=f"certificate:{principal.subject}", create=create)
    batch_id = msgspec.json.decode(response.content)["id"]  # on a replay, the batch the first request made
    response.headers["location"] = f"{batches.PATH}/{batch_id}"
    return response


ResultStatus = Annotated[
    Literal["issued", "existing", "failed"] | None, QueryParameter(description="Only the items that ended so.")
]


class CertificateBatchController(Controller):
    path = batches.PATH
    tags = ["certificates"]
    security = BEARER

    @get(
        "/{batch_id:uuid}",
        operation_id="GetCertificateBatch",
        summary="A batch of certificates being issued: state, counts and progress",
        description="Staff `issuer` or scope `certificates:issue`, of the department that sent it (others: 404 "
        "`certificate_batch_not_found`). `progress` is `processed / total`; the items' results are at "
        "`results_url`.",
        responses=problem_responses(*AUTHZ, CertificateBatchNotFound),
    )
    async def get_batch(self, batch_id: FromPath[UUID], principal: CurrentPrincipal, db: Db) -> CertificateBatch:
        department_id = _issuer(principal)
        async with db.acquire() as conn:
            return await batches.get(conn, batch_id, department_id)

    @get(
        "/{batch_id:uuid}/results",
        operation_id="ListCertificateBatchResults",
        summary="The settled items of a batch, in item order",
        description="`{index, status, certificate_id?, error?}` per settled item (`index` into the request's "
        "`items`); `status=failed` lists the failures only. Items still to go are not listed yet.",
        responses=problem_responses(BadRequest, *AUTHZ, CertificateBatchNotFound),
    )
    async def list_results(
        self,
        batch_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        status: ResultStatus = None,
    ) -> BatchResultPage:
        department_id = _issuer(principal)
        after = decode_cursor(cursor, int) if cursor else -1
        async with db.acquire() as conn:
            await batches.get(conn, batch_id, department_id)
            items, last = await batches.results(conn, batch_id, after=after, status=status, limit=limit)
        return BatchResultPage(items=items, next_cursor=None if last is None else encode_cursor(last))


ROUTES = [DepartmentCertificateController, issue_batch, CertificateBatchController]
