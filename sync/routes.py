"""Offline-first sync (pull, push) and content-addressed blobs (FORMATS.md §sync, API.md)."""

from __future__ import annotations

from typing import Annotated, Any, cast
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat as OpenAPIFormatType
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, RequestBody, Schema
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

import matters
import wallet
from api.deps import Config, Db, Keys, Now, Redis
from api.kernel import responses
from api.kernel.db import one
from api.kernel.pagination import CursorInvalid
from api.kernel.problems import BadRequest, Forbidden, Unauthorized, ValidationFailed
from api.openapi import CONDITIONAL
from auth import BEARER, CurrentPrincipal, Principal, problem_responses
from sync import blob_store, mutations, pull, push, service, upload
from sync import cursor as cursors
from sync.errors import (
    BlobEmpty,
    BlobHashMismatch,
    BlobNotFound,
    BlobTooLarge,
    BlobTypeMismatch,
    BlobTypeUnsupported,
)
from sync.models import DEFAULT_PULL, MAX_PULL, BlobInfo, PullPage, PushIn, PushOut
from wallet import ConsentNotActive, ConsentNotFound, department_of

PULL_DESCRIPTION = """\
The changes of the caller's person and of their dependents after `cursor`, oldest first, at most
`limit` (≤ 500) per page: `{changes: [{entity, id, op: "put"|"del", version, data?}], cursor,
has_more, reset}`. Each record appears once per page with its latest state. Keep pulling with the
returned `cursor` while `has_more`. `reset: true` (no cursor, a cursor of another server epoch, of
another person, or older than the tombstone horizon of 30 days) means: clear the local copy, the
page starts the full state. When a guardianship ends, the dependent's records arrive as `del`.
A reset goes on page by page like any other pull (the cursor carries how far it has read) until
`has_more` is false, also after the server compacted old deletions.
The answer has an `ETag`; sending it back in `If-None-Match` answers 304 while nothing changed.
A login without a verified identity gets an empty reset state.

The last page of a reset (the page with `has_more: false` of a pull sequence that began with `reset:
true`) carries `checkpoint: {count, digest}`: the state the client's copy must now hold, read in that page's
snapshot. It lists one line `entity:id:version` per record held (`id` as lower-case hyphenated UUID text,
`version` in decimal; a record that arrived from several persons' logs, such as an application made for a
dependent, counts once with the highest `version` it came with), sorts the lines by their bytes, ends each
with `\\n` (LF), and hashes the concatenation with SHA-256: `digest` is that hash in lower-case hex, `count` the
number of lines (no records: count 0 and the SHA-256 of nothing, `e3b0c442…b855`). A client whose copy gives
another count or digest missed a page: it discards the copy and pulls a reset again. Other pages, and pulls that
are not a reset, carry no checkpoint.

A `wallet_item` comes slim: a certificate's `data` has no `token` but `token_sha256` (SHA-256 of the token's
text, lower-case hex); the device fetches the token once from `GET /v1/wallet/items/{id}/token` (immutable,
cacheable) and again only if `token_sha256` ever differs from the one it holds. The rest of the item (title,
summary with status, the certificate's public fields) is there to list and show it.

With `client_id` (the id the device pushes with), the answer also carries `last_seq`: the seq of
the last mutation of that client (pushed under the same login) the server has processed — applied,
duplicate or rejected — read in the same snapshot as the changes, so the effects of those mutations
are in this page or an earlier one. The client drops its queued mutations up to it (as Replicache's
`lastMutationIDChanges`), also when a push response was lost. A client that never pushed gets 0.
The ETag covers `last_seq`: a mutation rejected without any change still ends a 304."""

PUSH_DESCRIPTION = """\
Mutations made offline, each with a client-made `id` (UUID) and `seq` (per `client_id`, from 1,
gap-free). Each is applied in its own transaction, in order. Result `status`: `applied`;
`duplicate` (this id was applied before; the stored result again); `rejected` with `code` (a
business rule said no, the problem's type slug; it counts as processed and never blocks what
follows; the same id with other args is `id_reused`); `conflict` (a `draft.save` or
`draft.delete` whose `base_version` is older than the server's; `data` is the server copy, null if
the draft was deleted); `gap` (`seq` skips ahead of `last_seq + 1`; it and everything after it in
the batch are not applied). When something was applied, the person's other devices get a `sync`
event on `/v1/notifications/stream`. 503 `sync_unavailable` with `Retry-After`: nothing was recorded for
the failing mutation or those after it; resend the batch. Names: `draft.save {draft_id,
bundle_code|matter_code, for_person_id?, form, materials, deferred_materials?}`, `draft.delete
{draft_id}`, `application.submit {application_id, draft_id?, ...as POST /v1/applications}`,
`application.withdraw {application_id}`, `application.supplement {application_id, materials}`,
`evaluation.submit {application_id, level, comment?, tags?}`, `consent.grant {...as POST
/v1/wallet/consents}`, `consent.revoke {consent_id}`, `notification.read {notification_id}`,
`notification.read_all {up_to?}`. Certificates and department records are server-owned:
mutations of them are `rejected`/`server_owned`."""


class SyncController(Controller):
    path = "/v1/sync"
    tags = ["sync"]
    security = BEARER

    @get(
        "/pull",
        operation_id="SyncPull",
        opt=CONDITIONAL,
        summary="Changes of my person and my dependents after a cursor",
        description=PULL_DESCRIPTION,
        responses=problem_responses(CursorInvalid, ValidationFailed, Unauthorized, Forbidden),
    )
    async def pull_changes(
        self,
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
        cursor: Annotated[
            str | None, QueryParameter(max_length=cursors.MAX_LENGTH, description="Opaque cursor from the last page.")
        ] = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_PULL, description="Page size (default 200, at most 500).")
        ] = DEFAULT_PULL,
        client_id: Annotated[
            UUID | None,
            QueryParameter(description="The device's push `client_id`: the answer then carries its `last_seq`."),
        ] = None,
        if_none_match: Annotated[str | None, HeaderParameter(name="if-none-match", required=False)] = None,
    ) -> Response[PullPage]:
        account_id = principal.require_account()
        async with db.acquire() as conn:
            answer = await pull.pull(
                conn,
                keyring,
                person_id=principal.person_id,
                cursor_text=cursor or None,
                limit=limit,
                if_none_match=if_none_match,
                now=now,
                account_id=account_id,
                client_id=client_id,
            )
        headers = {"ETag": answer.etag, "Cache-Control": "private, no-cache"}
        if answer.page is None:
            # A 304 has no body; the annotation names the 200's, for the OpenAPI document.
            return Response(content=cast(PullPage, None), status_code=304, headers=headers)
        return Response(content=answer.page, headers=headers)

    @post(
        "/push",
        operation_id="SyncPush",
        status_code=200,
        summary="Apply mutations queued offline, exactly once",
        description=PUSH_DESCRIPTION,
        responses=problem_responses(push.SyncUnavailable, BadRequest, ValidationFailed, Unauthorized, Forbidden),
    )
    async def push_mutations(
        self,
        data: JSONBody[PushIn],
        principal: CurrentPrincipal,
        db: Db,
        redis: Redis,
        keyring: Keys,
        settings: Config,
        now: Now,
    ) -> PushOut:
        # A 代办人 acts through the routes that check each act against the authorisation, not an offline queue;
        # a 经办人's queued mutations are each checked against theirs (sync.mutations).
        if principal.for_person_id is not None:
            principal.require_own_person()
        ctx = mutations.Context(principal=principal, keyring=keyring, settings=settings, now=now)
        out = await push.push(db, ctx, data)
        if principal.person_id is not None and any(r.status == "applied" for r in out.results):
            await push.poke(db, redis, principal.person_id)
        return out


UPLOAD_DESCRIPTION = f"""\
`multipart/form-data` (what `wx.uploadFile` and a browser's `FormData` send) with the file in the part named \
`{upload.FIELD}`; the server computes its SHA-256 while the body streams in and answers `{{sha256, size, \
content_type, created_at}}` (201 stored now, 200 stored before), the same blob `PUT /v1/blobs/{{sha256}}` \
stores, read back by `GET /v1/blobs/{{sha256}}` and named in materials by that `sha256`. The same rules as the \
PUT: at most 10 MiB (413 `blob_too_large`), JPEG, PNG or PDF (415 `blob_type_unsupported`), the bytes must look \
like the type (422 `blob_type_mismatch`), not empty (422 `blob_empty`). The type is the file part's \
`Content-Type` when it is one of the three; when it is missing or `application/octet-stream` it is taken from the \
file's first bytes. An optional part `sha256` (lower-case hex) is checked against the digest (422 \
`blob_hash_mismatch`). Other parts (`formData`) are ignored. No `{upload.FIELD}` part, or two: 422 \
`validation_failed`; a body that is not a multipart form: 400 `malformed_request`."""

ALREADY_STORED = {
    200: ResponseSpec(
        data_container=BlobInfo, description="Already stored (by anyone): the caller is now one of its uploaders."
    )
}
UPLOAD_BODY = RequestBody(
    required=True,
    content={
        "multipart/form-data": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=[upload.FIELD],
                properties={
                    upload.FIELD: Schema(
                        type=OpenAPIType.STRING,
                        format=OpenAPIFormatType.BINARY,
                        description="The file: JPEG, PNG or PDF, at most 10 MiB.",
                    ),
                    "sha256": Schema(
                        type=OpenAPIType.STRING,
                        pattern="^[0-9a-f]{64}$",
                        description="Optional: the file's SHA-256, checked by the server.",
                    ),
                },
            )
        )
    },
)

Sha256Path = Annotated[
    str, PathParameter(pattern="^[0-9a-f]{64}$", description="SHA-256 of the content, lower-case hex.")
]


class BlobController(Controller):
    path = "/v1/blobs"
    tags = ["sync"]
    security = BEARER

    @put(
        "/{sha256:str}",
        operation_id="PutBlob",
        status_code=201,
        request_max_body_size=service.MAX_BLOB,
        summary="Upload a photo, scan or PDF by its SHA-256 (201 stored, 200 already stored)",
        description="Raw body, at most 10 MiB, `Content-Type` image/jpeg, image/png or application/pdf (the bytes "
        "must look like it). The body must hash to the path, else 422 `blob_hash_mismatch`. An "
        "application may name a blob before it is uploaded (offline), so upload it when back online.",
        responses=problem_responses(
            BlobHashMismatch,
            BlobTypeMismatch,
            BlobEmpty,
            ValidationFailed,
            BlobTypeUnsupported,
            BlobTooLarge,
            Unauthorized,
        )
        | ALREADY_STORED,
    )
    async def put_blob(
        self, request: Request, sha256: Sha256Path, principal: CurrentPrincipal, db: Db, now: Now
    ) -> Response[BlobInfo]:
        media = service.blob_type(request.headers.get("content-type"))
        announced = request.headers.get("content-length", "")
        if announced.isascii() and announced.isdigit() and int(announced) > service.MAX_BLOB:
            raise BlobTooLarge(max_bytes=service.MAX_BLOB)
        try:
            body = await request.body()
        except RequestEntityTooLarge:
            raise BlobTooLarge(max_bytes=service.MAX_BLOB) from None
        if not body:
            raise BlobEmpty()
        digest = service.check_blob(sha256, media, body)
        return await _store(db, principal, digest, media, body, now)

    @post(
        operation_id="UploadBlob",
        status_code=201,
        request_max_body_size=upload.MAX_BODY,
        summary="Upload a photo, scan or PDF as a form, as wx.uploadFile sends it (201 stored, 200 already stored)",
        description=UPLOAD_DESCRIPTION,
        opt={"request_body": UPLOAD_BODY},
        responses=problem_responses(
            BlobHashMismatch,
            BlobTypeMismatch,
            BlobEmpty,
            ValidationFailed,
            BadRequest,
            BlobTypeUnsupported,
            BlobTooLarge,
            Unauthorized,
        )
        | ALREADY_STORED,
    )
    async def upload_blob(self, request: Request, principal: CurrentPrincipal, db: Db, now: Now) -> Response[BlobInfo]:
        boundary = upload.boundary_of(request.headers.get("content-type"))
        announced = request.headers.get("content-length", "")
        if announced.isascii() and announced.isdigit() and int(announced) > upload.MAX_BODY:
            raise BlobTooLarge(max_bytes=service.MAX_BLOB)
        try:
            got = await upload.read(request.stream(), boundary)
        except RequestEntityTooLarge:
            raise BlobTooLarge(max_bytes=service.MAX_BLOB) from None
        return await _store(db, principal, got.digest, got.media, got.data, now)

    @get(
        "/{sha256:str}",
        operation_id="GetBlob",
        opt=CONDITIONAL,
        summary="Download a blob",
        media_type="application/octet-stream",
        response_description="The blob as uploaded, with the Content-Type it was uploaded with.",
        description="For whoever uploaded it (any login of the same person). A department handling a task reads the "
        "files of its own matter's materials through `GET /v1/dept/tasks/{task_id}/materials/{code}/file`, "
        "where each read is logged for the applicant. A department holding a consent (授权用证) names it in "
        "`consent_id`: when one of the consented wallet items is an application (kind `application`) whose "
        "materials name the blob, the read is served, spends one use and is logged for the holder, as a read of the items "
        "is; an expired, revoked or used-up consent → 403 `consent_not_active`. Everyone else, and a "
        "consent that does not cover the blob, gets 404 `blob_not_found`.",
        responses=problem_responses(
            BlobNotFound, ConsentNotFound, ConsentNotActive, ValidationFailed, Unauthorized, Forbidden
        ),
    )
    async def get_blob(
        self,
        request: Request,
        sha256: Sha256Path,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        consent_id: Annotated[
            UUID | None, QueryParameter(description="A consent the caller's department holds.")
        ] = None,
        if_none_match: Annotated[str | None, HeaderParameter(name="if-none-match", required=False)] = None,
    ) -> Response[bytes]:
        digest = bytes.fromhex(sha256)
        async with db.acquire() as conn:
            if consent_id is not None:
                row = await _read_under_consent(conn, request, principal, digest, consent_id, now)
            else:
                allowed = await blob_store.may_read(
                    conn, digest, subject=principal.subject, person_id=principal.person_id
                )
                row = await blob_store.get_content(conn, digest) if allowed else None
        if row is None:
            raise BlobNotFound()
        headers = {
            "ETag": f'"{sha256}"',
            # The address is the content: it never changes, but it is personal, so only the caller caches it.
            "Cache-Control": "private, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
        if consent_id is None and responses.etag_matches(if_none_match, headers["ETag"]):
            return Response(content=b"", status_code=304, headers=headers)
        return Response(content=bytes(row["data"]), media_type=row["content_type"], headers=headers)


async def _store(db: Any, principal: Principal, digest: bytes, media: str, body: bytes, now: Any) -> Response[BlobInfo]:
    """Store the bytes once and the caller as one of their uploaders (201 new, 200 already stored)."""
    async with db.acquire() as conn, conn.transaction():
        created = await blob_store.insert_blob(conn, digest, media, body, now=now)
        await blob_store.add_uploader(conn, digest, subject=principal.subject, person_id=principal.person_id, now=now)
        info = one(await blob_store.get_info(conn, digest), "blob just stored")
    return Response(content=info, status_code=201 if created else 200)


async def _read_under_consent(
    conn: Any, request: Request, principal: Principal, digest: bytes, consent_id: UUID, now: Any
) -> Any:
    """The wallet's own consent read (a use spent, the read logged), limited to blobs its items name."""
    department = department_of(principal, "consents:use")
    async with conn.transaction():
        used = await wallet.use(
            conn, request.app.state.esign, consent_id, department_id=department, actor=principal.subject, now=now
        )
        if used.refused is None:
            # Only an application itself shares its files: consenting to a certificate an application
            # produced does not open the scans handed in for it.
            apps = [i.links.application_id or i.id for i in used.items if i.kind == "application"]
            if not await matters.names_blob(conn, digest, apps):
                raise BlobNotFound()  # rolls back: nothing was read, so no use is spent and nothing logged
            return await blob_store.get_content(conn, digest)
    # Raised after the commit: the refused read stays in the holder's access log.
    raise ConsentNotActive(f"the consent is {used.refused}", reason=used.refused)


ROUTES = [SyncController, BlobController]
