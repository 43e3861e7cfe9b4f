"""``/v1/certificates/{id}``: a certificate and its QR code, for its holder (or their guardian) or its
issuing department.

The QR code holds the certificate's URL, ``QR_BASE/V/<token>`` (alphanumeric mode: FORMATS.md "QR
codes"), which a phone camera or WeChat scan opens as the verification page and a verifier app
reads offline (it takes the token from the URL).
Anyone else, including other departments, gets 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Response, get
from litestar.params import FromPath, QueryParameter

import auth as persons
from api.deps import Db, Now
from auth import BEARER, CurrentPrincipal, Principal, problem_responses
from esign import views
from esign.codec import qr
from esign.errors import CertificateNotFound
from esign.http import AUTHZ, Esign
from esign.models import Certificate
from esign.store import certificate as certificate_store
from esign.store.certificate import CertificateView

Scale = Annotated[int, QueryParameter(ge=1, le=20, description="Pixels (or SVG units) per module; default 4.")]


async def _visible(db: Db, principal: Principal, certificate_id: UUID, *, now: datetime) -> CertificateView:
    async with db.acquire() as conn:
        v = await certificate_store.get_certificate(conn, certificate_id)
        if v is None or v.row.status == "pending":
            raise CertificateNotFound()
        holder = principal.person_id is not None and principal.person_id == v.row.person_id
        issuer = principal.department_id is not None and principal.department_id == v.row.department_id
        # A parent shows a newborn's certificates (the child has no phone); the wallet lists them too.
        guardian = (
            not (holder or issuer)
            and principal.person_id is not None
            and v.row.person_id is not None
            and await persons.is_guardian(conn, principal.person_id, v.row.person_id, now=now)
        )
    if not (holder or issuer or guardian):
        raise CertificateNotFound()
    return v


@get(
    "/v1/certificates/{certificate_id:uuid}",
    operation_id="GetCertificate",
    tags=["certificates"],
    security=BEARER,
    summary="A certificate, for its holder or its issuing department",
    description="The holder (the person the certificate was issued to), their guardian, or anyone acting for "
    "the issuing department; everyone else gets 404 `certificate_not_found`.",
    responses=problem_responses(*AUTHZ, CertificateNotFound),
)
async def get_certificate(
    certificate_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, now: Now, esign: Esign
) -> Certificate:
    return views.render(esign, await _visible(db, principal, certificate_id, now=now), now=now)


@get(
    "/v1/certificates/{certificate_id:uuid}/qr.png",
    operation_id="GetCertificateQrPng",
    tags=["certificates"],
    security=BEARER,
    summary="QR code (PNG) of the certificate's verification URL",
    description="Holder or issuing department (else 404). The code holds `qr_url` of the certificate, "
    "`QR_BASE/V/<token>` (alphanumeric mode, error correction M or better): a phone camera or WeChat scan opens "
    "the verification page, and verifier apps read the token from it offline.",
    media_type="image/png",
    responses=problem_responses(*AUTHZ, CertificateNotFound),
)
async def qr_png(
    certificate_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, now: Now, esign: Esign, scale: Scale = 4
) -> Response[bytes]:
    v = await _visible(db, principal, certificate_id, now=now)
    return Response(
        qr.qr_png(esign.qr_url(v.row.token or ""), scale=scale),
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=300"},
    )


@get(
    "/v1/certificates/{certificate_id:uuid}/qr.svg",
    operation_id="GetCertificateQrSvg",
    tags=["certificates"],
    security=BEARER,
    summary="QR code (SVG) of the certificate's verification URL",
    description="As the PNG, as an SVG document.",
    media_type="image/svg+xml",
    responses=problem_responses(*AUTHZ, CertificateNotFound),
)
async def qr_svg(
    certificate_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, now: Now, esign: Esign, scale: Scale = 4
) -> Response[bytes]:
    v = await _visible(db, principal, certificate_id, now=now)
    return Response(
        qr.qr_svg(esign.qr_url(v.row.token or ""), scale=scale),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=300"},
    )


ROUTES = [get_certificate, qr_png, qr_svg]
