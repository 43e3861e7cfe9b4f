"""Identity cases (身份冒用核查): what operators see and close after a person said "not me"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.deps import Db, Keys, Now
from api.kernel import audit
from api.kernel.crypto import Keyring, mask_id_number, mask_name
from api.kernel.db import one
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import BadRequest, Forbidden, Unauthorized, ValidationFailed
from auth.errors import IdentityCaseClosed, IdentityCaseNotFound, problem_responses
from auth.guards import BEARER, CurrentPrincipal
from auth.store import realname as rs

CaseStatus = Annotated[Literal["open", "closed"] | None, QueryParameter(description="Only cases in this state.")]


class IdentityCase(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    status: Literal["open", "closed"]
    person_id: UUID
    name_masked: str
    id_number_masked: str
    account_id: UUID
    login_id: UUID | None
    method: str
    reported_via: Literal["app", "link"]
    identity_unbound: bool
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    resolution: str | None


class IdentityCasePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[IdentityCase]
    next_cursor: str | None


class CloseCase(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    resolution: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=500,
            description=("What was found and done (kept with the case and in the audit log)."),
        ),
    ]


CASE_COLUMNS = """c.id, c.status, c.person_id, p.name, p.id_number, c.account_id, c.login_id, c.method, c.reported_via,
    c.identity_unbound, c.opened_at, c.closed_at, c.closed_by, c.resolution"""
LIST_CASES = f"""
SELECT {CASE_COLUMNS} FROM auth_identity_case c JOIN person p ON p.id = c.person_id
WHERE ($1::text IS NULL OR c.status = $1) AND ($2::uuid IS NULL OR c.id > $2)
ORDER BY c.id LIMIT $3
"""
# A case is placed with its person (the join with the person stays on the shard); an operator names it by id
# alone, found first (on a cluster, on every shard), then locked and changed on its person's shard.
CASE_PERSON = "SELECT person_id FROM auth_identity_case WHERE id = $1"
GET_CASE = f"""
SELECT {CASE_COLUMNS} FROM auth_identity_case c JOIN person p ON p.id = c.person_id
WHERE c.person_id = $2 AND c.id = $1 FOR UPDATE OF c
"""
CLOSE_CASE = """
UPDATE auth_identity_case SET status = 'closed', closed_at = $3, closed_by = $4, resolution = $5
WHERE person_id = $2 AND id = $1
"""


def _case(row: asyncpg.Record, keyring: Keyring) -> IdentityCase:
    values = dict(row)
    name = keyring.decrypt_str(values.pop("name"), context=rs.PERSON_NAME)
    id_number = keyring.decrypt_str(values.pop("id_number"), context=rs.PERSON_ID_NUMBER)
    return IdentityCase(**values, name_masked=mask_name(name), id_number_masked=mask_id_number(id_number))


class IdentityCaseController(Controller):
    path = "/v1/admin/identity-cases"
    tags = ["admin"]
    security = BEARER

    @get(
        operation_id="ListIdentityCases",
        summary='Identity cases opened by "not me", oldest first (operator)',
        responses=problem_responses(BadRequest, Unauthorized, Forbidden),
    )
    async def list(
        self,
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        status: CaseStatus = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> IdentityCasePage:
        principal.require_roles("operator")
        after = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            rows = await conn.fetch(LIST_CASES, status, after, limit)
        items = [_case(r, keyring) for r in rows]
        return IdentityCasePage(items=items, next_cursor=encode_cursor(items[-1].id) if len(items) == limit else None)

    @post(
        "/{case_id:uuid}/close",
        operation_id="CloseIdentityCase",
        status_code=200,
        summary="Close an identity case with what was found (operator; audited)",
        description="A case already closed → 409 `identity_case_closed`.",
        responses=problem_responses(
            BadRequest, ValidationFailed, Unauthorized, Forbidden, IdentityCaseNotFound, IdentityCaseClosed
        ),
    )
    async def close(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[CloseCase],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> IdentityCase:
        principal.require_roles("operator")
        resolution = data.resolution.strip()
        if not resolution:
            raise ValidationFailed("the resolution must say what was found")
        async with db.acquire() as conn, conn.transaction():
            person_id = await conn.fetchval(CASE_PERSON, case_id)
            row = None if person_id is None else await conn.fetchrow(GET_CASE, case_id, person_id)
            if row is None:
                raise IdentityCaseNotFound()
            if row["status"] == "closed":
                raise IdentityCaseClosed()
            await conn.execute(CLOSE_CASE, case_id, person_id, now, principal.subject, resolution)
            await audit.append(
                conn,
                actor=principal.subject,
                action="auth.identity_case_closed",
                subject=str(case_id),
                data={"account": str(row["account_id"])},
                at=now,
            )
            row = await conn.fetchrow(GET_CASE, case_id, person_id)
        return _case(one(row, "closed identity case"), keyring)


ROUTES = [IdentityCaseController]
