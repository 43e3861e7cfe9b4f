"""``/v1/dept/seals``: a department's seals (dept_admin, or a department system with ``seals:manage``).

Also the public picture of a seal, ``GET /v1/seals/{kid}/image.svg``, shown on verification pages.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, PathParameter

from api.deps import Db, Now
from api.kernel import authority, idempotency
from api.kernel.authority import AuthorityRequired
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import BadRequest, NotFound, ValidationFailed, success
from api.openapi import IDEMPOTENT
from auth import BEARER, CurrentPrincipal, problem_responses
from esign import seal_image, seals
from esign.errors import InvalidCsr, SealNotActive, SealNotFound
from esign.http import AUTHZ, Esign
from esign.models import OptionalReasonIn, RotateSealIn, Seal, SealIn, SealPage
from esign.store import seal as seal_store


class SealController(Controller):
    path = "/v1/dept/seals"
    tags = ["seals"]
    security = BEARER

    @post(
        operation_id="CreateSeal",
        opt=IDEMPOTENT,
        summary="Make a seal (电子印章) for the caller's department",
        description=(
            "dept_admin, or a department system with scope `seals:manage`, of a department that issues some "
            "certificate type (403 `authority_required`, `power` `certificate:*`, otherwise). Without `csr_pem` the key pair is made "
            "here and its private key stored encrypted (`key_custody: platform`). With `csr_pem` (PKCS #10, P-256 "
            "or SM2) the key stays with the department (`key_custody: department`): certificates issued with that "
            "seal answer 202 with the bytes to sign, completed by `POST /v1/dept/certificates/{id}/signature`. "
            "The certificate's subject names the department from the platform's records, whatever the CSR says. "
            "Accepts `Idempotency-Key`."
        ),
        responses={
            **success(201, Seal, "The new seal."),
            **problem_responses(BadRequest, InvalidCsr, ValidationFailed, *AUTHZ, AuthorityRequired),
        },
    )
    async def create(
        self, data: JSONBody[SealIn], request: Request, principal: CurrentPrincipal, db: Db, now: Now, esign: Esign
    ) -> Response[bytes]:
        department_id = principal.require_staff("dept_admin", scope="seals:manage")
        await authority.require(db, department_id, authority.SEALS, actor=principal.subject)
        async with db.acquire() as conn, conn.transaction():
            department = await seal_store.get_department(conn, department_id)
            if department is None:
                raise NotFound()

            async def create() -> tuple[int, Seal]:
                seal = await seals.create_seal(
                    conn,
                    esign,
                    department,
                    name=data.name.strip(),
                    kind=data.kind,
                    algorithm=data.algorithm,
                    csr_pem=data.csr_pem,
                    actor=principal.subject,
                    now=now,
                )
                return 201, seals.view(esign, seal)

            return await idempotency.run(request, conn, scope=f"seal:{principal.subject}", create=create)

    @get(
        operation_id="ListSeals",
        summary="The department's seals, newest first",
        description="dept_admin or scope `seals:manage`. Retired and revoked seals are listed too.",
        responses=problem_responses(*AUTHZ),
    )
    async def list_seals(
        self, principal: CurrentPrincipal, db: Db, esign: Esign, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> SealPage:
        department_id = principal.require_staff("dept_admin", scope="seals:manage")
        before = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            rows = await seal_store.list_seals(conn, department_id, before=before, limit=limit)
        return SealPage(
            items=[seals.view(esign, r) for r in rows],
            next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None,
        )

    @post(
        "/{seal_id:uuid}/revoke",
        operation_id="RevokeSeal",
        status_code=200,
        summary="Revoke a seal whose key can no longer be trusted",
        description=(
            "Every certificate the seal signed then fails verification (`seal_revoked`); to stop a seal without "
            "that, rotate it. A revoked seal stays revoked (`seal_not_active`). Another department's seal is 404. "
            "The body is optional: `{reason}` is kept in the audit log and on the seal."
        ),
        responses=problem_responses(BadRequest, ValidationFailed, *AUTHZ, SealNotFound, SealNotActive),
    )
    async def revoke(
        self,
        seal_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        esign: Esign,
        data: JSONBody[OptionalReasonIn | None] = None,
    ) -> Seal:
        department_id = principal.require_staff("dept_admin", scope="seals:manage")
        async with db.acquire() as conn, conn.transaction():
            seal = await seals.department_seal(conn, department_id, seal_id, for_update=True)
            await seals.revoke_seal(conn, seal, reason=data.reason if data else None, actor=principal.subject, now=now)
            return seals.view(esign, await seal_store.get_seal(conn, seal_id))

    @post(
        "/{seal_id:uuid}/rotate",
        operation_id="RotateSeal",
        opt=IDEMPOTENT,
        summary="Replace a seal with a new key; the old one is retired",
        description=(
            "Makes a new seal (same kind; name and algorithm kept unless given; `csr_pem` for a department-held "
            "key) and retires the old one: it signs nothing more, while what it signed stays valid. The old seal "
            "must be active (`seal_not_active`). Accepts `Idempotency-Key`: a retry with the same key gets the "
            "same new seal, where one without it finds the old seal retired."
        ),
        responses={
            **success(201, Seal, "The new seal."),
            **problem_responses(
                BadRequest, InvalidCsr, ValidationFailed, *AUTHZ, AuthorityRequired, SealNotFound, SealNotActive
            ),
        },
    )
    async def rotate(
        self,
        seal_id: FromPath[UUID],
        data: JSONBody[RotateSealIn],
        request: Request,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        esign: Esign,
    ) -> Response[bytes]:
        department_id = principal.require_staff("dept_admin", scope="seals:manage")
        await authority.require(db, department_id, authority.SEALS, actor=principal.subject)
        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, Seal]:
                old = await seals.department_seal(conn, department_id, seal_id, for_update=True)
                department = await seal_store.get_department(conn, department_id)
                assert department is not None
                new = await seals.rotate_seal(
                    conn,
                    esign,
                    department,
                    old,
                    name=data.name.strip() if data.name else None,
                    algorithm=data.algorithm,
                    csr_pem=data.csr_pem,
                    actor=principal.subject,
                    now=now,
                )
                return 201, seals.view(esign, new)

            return await idempotency.run(request, conn, scope=f"seal:{principal.subject}", create=create)


@get(
    "/v1/seals/{kid:str}/image.svg",
    operation_id="GetSealImage",
    tags=["verification"],
    summary="The picture of a seal (round red 公章, SVG), for verification pages",
    description="Public. Drawn from the department's and the seal's names; nothing is verified from it. 404 "
    "`seal_not_found` for an unknown key id (16 hex digits).",
    media_type="image/svg+xml",
    responses=problem_responses(SealNotFound),
)
async def seal_picture(kid: Annotated[str, PathParameter(pattern="^[0-9a-f]{16}$")], db: Db) -> Response[str]:
    async with db.acquire() as conn:
        seal = await seal_store.get_seal_by_kid(conn, bytes.fromhex(kid))
        department = await seal_store.get_department(conn, seal.department_id) if seal and seal.department_id else None
    if seal is None or department is None:
        raise SealNotFound()
    return Response(
        seal_image.seal_svg(department.name, seal.name),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


ROUTES = [SealController, seal_picture]
