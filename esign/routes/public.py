"""Public routes for verifiers: the trust list, status lists, the root certificate, ``/v1/verify``
and the verification page ``/V/{token}`` (QR codes' URLs, FORMATS.md "QR codes") and ``/v/{token}``.
No login; verification is rate-limited per client IP.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated
from urllib.parse import unquote

from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from api.deps import Db, Now, Redis
from api.kernel import ratelimit
from api.kernel.client_address import client_address
from api.kernel.db import Conn
from api.kernel.problems import BadRequest, RateLimited, ServiceUnavailable
from api.kernel.ratelimit import Limit
from api.openapi import CONDITIONAL
from auth import problem_responses
from esign import ca, lists, page, seal_image, verification
from esign.errors import StatusListNotFound
from esign.http import Esign, matches
from esign.models import VerifyIn, VerifyOut
from esign.store import seal as seal_store

VERIFY_IP = Limit("verify_ip", 120, 60)
LIST_CACHE = "public, max-age=300"


def _signed(request: Request, token: str, media_type: str) -> Response[str]:
    tag = lists.etag(token)
    headers = {"ETag": tag, "Cache-Control": LIST_CACHE}
    if matches(request, tag):
        return Response("", status_code=304, headers=headers, media_type=media_type)
    return Response(token, media_type=media_type, headers=headers)


@get(
    "/v1/trust-list",
    operation_id="GetTrustList",
    opt=CONDITIONAL,
    tags=["verification"],
    summary="The signed trust list (compact JWS, `typ: trust-list+jwt`)",
    description=(
        "Signed by the platform root; names every seal (active, retired with its end, revoked), the presentation "
        "seal and every status list (FORMATS.md). Signed again at least every 12 hours and whenever a seal or the "
        "set of status lists changes; `next_update` is 24 h after `iat`. Sends `ETag`; answers 304 to a matching "
        "`If-None-Match`."
    ),
    media_type="application/jwt",
)
async def trust_list(request: Request, db: Db, now: Now, esign: Esign) -> Response[str]:
    async with db.acquire() as conn:
        token = await lists.trust_list_token(conn, esign, now=now)
    return _signed(request, token, "application/jwt")


@get(
    "/v1/status-lists/{list_id:int}",
    operation_id="GetStatusList",
    opt=CONDITIONAL,
    tags=["verification"],
    summary="A status list (JWT, `typ: statuslist+jwt`, 2 bits per certificate)",
    description="0 valid, 1 revoked, 2 suspended (IETF Token Status List). Signed by the platform root; `ETag` and "
    "304 as for the trust list. 404 `status_list_not_found`.",
    media_type="application/statuslist+jwt",
    responses=problem_responses(StatusListNotFound),
)
async def status_list(request: Request, list_id: FromPath[int], db: Db, now: Now, esign: Esign) -> Response[str]:
    if not 0 < list_id < 2**31:  # list ids are PostgreSQL integers; a larger one cannot exist
        raise StatusListNotFound(list_id=list_id)
    async with db.acquire() as conn:
        token = await lists.status_list_token(conn, esign, list_id, now=now)
    return _signed(request, token, "application/statuslist+jwt")


@get(
    "/v1/root-certificate",
    operation_id="GetRootCertificate",
    tags=["verification"],
    summary="The platform root certificate (PEM), for verifiers to pin",
    description="Offline verifiers pin this certificate once (and should compare its fingerprint through a "
    "second channel); the trust list is checked against it.",
    media_type="application/x-pem-file",
)
async def root_certificate(esign: Esign) -> Response[str]:
    return Response(
        lists.root_pem(esign), media_type="application/x-pem-file", headers={"Cache-Control": "public, max-age=86400"}
    )


@post(
    "/v1/verify",
    operation_id="VerifyToken",
    tags=["verification"],
    status_code=200,
    summary="Verify a certificate or presentation token (ZB1:, ZB2:)",
    description=(
        "Public, at most 120 a minute per client IP (429 `rate_limited` with `Retry-After`). `token` is a bare "
        "token or the URL of its QR code (`…/V/<token>`). Runs the same check as offline verifiers (format, "
        "signature, the seal active at iat and chained to the root and allowed the type, validity, status, and for "
        "presentations their freshness) against the current trust and status lists. A `ZB2:` presentation (made offline "
        "on the holder's device, FORMATS.md) is checked in its own order with its own reasons (`holder_binding`, "
        "`presentation_expired`, `nonce` when `cnonce` is given, `disclosure`, `credential_expired`, `revoked` for "
        "the certificate or the device's credential) and answers `certificate.holder_bound: true`. Any string that is not one of "
        'our tokens answers 200 `{valid: false, reasons: ["format"]}`. `certificate` appears once the signature '
        "and chain check, with only the fields the token discloses, each `{n, key, label, value}` as the trust "
        "list's type registry names it."
    ),
    responses=problem_responses(BadRequest, RateLimited, ServiceUnavailable),
)
async def verify(data: JSONBody[VerifyIn], request: Request, db: Db, redis: Redis, now: Now, esign: Esign) -> VerifyOut:
    await ratelimit.hit(redis, f"ip:{client_address(request)}", VERIFY_IP)
    async with db.acquire() as conn:
        verdict = await verification.verdict_for(conn, esign, data.token, now=now, cnonce=_nonce(data.cnonce))
        return await verification.describe(conn, verdict)


def _nonce(text: str | None) -> bytes | None:
    """The verifier's nonce from base64url; 400 ``bad_request`` when it is not 1 to 64 bytes of base64url."""
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        raw = b""
    if not 1 <= len(raw) <= 64 or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise BadRequest("cnonce must be base64url of 1 to 64 bytes")
    return raw


_RAW_TOKEN = re.compile(rb"/[Vv]/(.*)\Z", re.S)


def _token_from_path(request: Request, decoded: str) -> str:
    # Litestar percent-decodes path parameters a second time, after the server has decoded the path
    # once, which turns a token's "%41" into "A". Base45 has "%", so the token is read from the raw
    # path (decoded exactly once) whenever the server provides it.
    raw = request.scope.get("raw_path")
    found = _RAW_TOKEN.search(bytes(raw)) if isinstance(raw, bytes | bytearray) else None
    if found is not None:
        return unquote(found.group(1).decode("latin-1"))
    return decoded.lstrip("/")


async def _seal_picture(conn: Conn, kid_hex: str | None) -> str | None:
    if not kid_hex:
        return None
    seal = await seal_store.get_seal_by_kid(conn, bytes.fromhex(kid_hex))
    if seal is None:
        return None
    if seal.department_id is None:
        return seal_image.seal_svg(ca.PLATFORM_NAME, seal.name)
    department = await seal_store.get_department(conn, seal.department_id)
    return seal_image.seal_svg(department.name, seal.name) if department else None


async def _verification_page(
    token: Annotated[str, PathParameter(description="The ZB1: or ZB2: token, percent-encoded.")],
    request: Request,
    db: Db,
    redis: Redis,
    now: Now,
    esign: Esign,
    cnonce: Annotated[
        str | None,
        QueryParameter(
            description="The verifier's nonce (base64url), for a ZB2: presentation made after it was shown."
        ),
    ] = None,
) -> Response[str]:
    await ratelimit.hit(redis, f"ip:{client_address(request)}", VERIFY_IP)
    token = _token_from_path(request, token)
    async with db.acquire() as conn:
        verdict = await verification.verdict_for(conn, esign, token, now=now, cnonce=_nonce(cnonce))
        result = await verification.describe(conn, verdict)
        seal_svg = await _seal_picture(conn, result.seal_kid if result.certificate is not None else None)
    html = page.render_page(result, seal_svg=seal_svg, checked_at=now)
    # Litestar adds "; charset=utf-8" to a text/* media type itself: naming it here would say it twice.
    return Response(
        html,
        media_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


verification_page = get(
    "/v/{token:path}",
    operation_id="VerificationPage",
    tags=["verification"],
    summary="Verification page (zh-CN HTML, phone-sized, no JavaScript); also at /V/{token}",
    description=(
        "The verdict of `/v1/verify` for the token in the path (percent-encoded; Base45 has `/`, `%` and space), "
        "shown plainly: green or red, what was checked, the certificate's disclosed fields under their zh-CN "
        "labels, the issuer and the seal. `GET /V/{token}` serves the same page: it is what QR codes hold "
        "(`QR_BASE/V/<token>`, all QR alphanumeric characters, which a phone camera or WeChat scan opens). "
        "Always 200 for a token, valid or not; rate-limited like `/v1/verify`."
    ),
    media_type="text/html",
    include_in_schema=True,
    responses=problem_responses(RateLimited),
)(_verification_page)
# The QR codes' form of the same page (upper case: a QR code's alphanumeric mode has no lower-case letters).
verification_page_qr = get(
    "/V/{token:path}", media_type="text/html", include_in_schema=False, name="verification_page_qr"
)(_verification_page)


ROUTES = [trust_list, status_list, root_certificate, verify, verification_page, verification_page_qr]
