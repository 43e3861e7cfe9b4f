"""Operators' administration: departments, their clients and staff, identity providers, audit check.

Clients and staff of a department may also be managed by that department's own ``dept_admin``;
another department's admin gets 404 (departments are invisible to each other).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from api.config import Settings
from api.deps import Db, Keys, Now
from api.kernel import audit, idempotency, responses
from api.kernel.db import Conn
from api.kernel.identifiers import credit_code_valid, normalize_credit_code
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import BadRequest, FieldError, Forbidden, Unauthorized, ValidationFailed
from api.openapi import IDEMPOTENT
from auth import realname
from auth.errors import (
    AccountNotFound,
    CreditCodeInvalid,
    DepartmentExists,
    DepartmentNotFound,
    IdentityProviderExists,
    IdentityProviderKeyInvalid,
    ParentDepartmentNotFound,
    StaffInOtherDepartment,
    problem_responses,
)
from auth.guards import BEARER, CurrentPrincipal, Principal
from auth.store import admin as admin_store
from auth.tokens import LEVELS, new_secret

Scope = Literal[
    "seals:manage",
    "certificates:issue",
    "certificates:revoke",
    "records:write",
    "tasks:handle",
    "consents:use",
    "webhooks:manage",
]
StaffRole = Literal["clerk", "approver", "issuer", "dept_admin", "window_clerk"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class DepartmentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    credit_code: Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="GB 32100, 18 characters.")]
    region_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="GB/T 2260, 6 digits.")]
    parent_id: UUID | None = None


class DepartmentPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[admin_store.Department]
    next_cursor: str | None


class ClientIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1)]


class ClientCreated(msgspec.Struct, frozen=True, kw_only=True):
    client_id: UUID
    client_secret: str
    department_id: UUID
    name: str
    scopes: list[str]


class StaffIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    account_id: UUID
    roles: Annotated[list[StaffRole], msgspec.Meta(min_length=1)]


class ClientPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[admin_store.ClientView]
    next_cursor: str | None


class StaffPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[admin_store.StaffMember]
    next_cursor: str | None


class IdentityProviderIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    issuer: Annotated[str, msgspec.Meta(min_length=1, max_length=300, description="The `iss` of its assertions.")]
    public_key_pem: Annotated[str, msgspec.Meta(max_length=16384)] | None = None
    jwks: dict[str, Any] | None = None
    max_level: Literal["L2", "L3"] = "L2"
    audience: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=300,
                description=(
                    "The `aud` its assertions must carry: our client id with this provider. Default: the public base URL."
                ),
            ),
        ]
        | None
    ) = None


class IdentityProviderOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    issuer: str
    max_level: str
    audience: str
    key_ids: list[str | None]
    created_at: datetime


class IdentityProviderList(msgspec.Struct, frozen=True, kw_only=True):
    """Every registered provider: a short list, always one page."""

    items: list[IdentityProviderOut]
    next_cursor: str | None = None


def _client_secret_context(client_id: UUID) -> str:
    return f"auth_client.secret:{client_id}"


def _idp_out(p: admin_store.IdentityProvider, settings: Settings) -> IdentityProviderOut:
    keys = realname.provider_keys(p.public_key_pem, p.jwks)
    return IdentityProviderOut(
        id=p.id,
        name=p.name,
        issuer=p.issuer,
        max_level=f"L{p.max_level}",
        audience=realname.audience_of(p, settings.base_url),
        key_ids=[k[0] for k in keys],
        created_at=p.created_at,
    )


async def _managed_department(conn: Conn, principal: Principal, department_id: UUID) -> admin_store.Department:
    """The department, if the caller is an operator or this department's dept_admin."""
    if not principal.has_role("operator"):
        principal.require_roles("operator", "dept_admin")
        if principal.department_id != department_id or principal.client_id is not None:
            raise DepartmentNotFound()
    department = await admin_store.get_department(conn, department_id)
    if department is None:
        raise DepartmentNotFound()
    return department


ADMIN_401_403 = (Unauthorized, Forbidden)


class DepartmentController(Controller):
    path = "/v1/admin/departments"
    tags = ["admin"]
    security = BEARER

    @post(
        operation_id="CreateDepartment",
        opt=IDEMPOTENT,
        summary="Register a department (operator)",
        description="The credit code must pass GB 32100 (`credit_code_invalid`); one department per credit code "
        "(`department_exists`). Accepts `Idempotency-Key`.",
        responses=problem_responses(
            BadRequest, CreditCodeInvalid, ParentDepartmentNotFound, DepartmentExists, *ADMIN_401_403
        ),
    )
    async def create(
        self, data: JSONBody[DepartmentIn], request: Request, principal: CurrentPrincipal, db: Db, now: Now
    ) -> Response[admin_store.Department]:
        principal.require_roles("operator")
        code = normalize_credit_code(data.credit_code)
        if not credit_code_valid(code):
            raise CreditCodeInvalid(errors=[FieldError(field="credit_code", message="fails the GB 32100 check")])
        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, admin_store.Department]:
                dept = await admin_store.insert_department(
                    conn,
                    name=data.name.strip(),
                    credit_code=code,
                    region_code=data.region_code,
                    parent_id=data.parent_id,
                    now=now,
                )
                await audit.append(
                    conn,
                    actor=principal.subject,
                    action="admin.department_created",
                    subject=str(dept.id),
                    data={"credit_code": code},
                    at=now,
                )
                return 201, dept

            made = await idempotency.run(request, conn, scope=f"department:{principal.subject}", create=create)
            return responses.answer(made, admin_store.Department)

    @get(operation_id="ListDepartments", summary="Departments (operator)", responses=problem_responses(*ADMIN_401_403))
    async def list(
        self, principal: CurrentPrincipal, db: Db, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> DepartmentPage:
        principal.require_roles("operator")
        after = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            items = await admin_store.list_departments(conn, after=after, limit=limit)
        return DepartmentPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(items) == limit else None)

    @post(
        "/{department_id:uuid}/clients",
        operation_id="CreateDepartmentClient",
        opt=IDEMPOTENT,
        summary="Create credentials for a department system (operator or the department's dept_admin)",
        description="`client_secret` is shown only in this response and stored only as a hash. With "
        "`Idempotency-Key`, a repeat within 24 hours returns the same client and secret (kept sealed under the "
        "master key with the stored answer until the key is forgotten).",
        responses=problem_responses(BadRequest, ValidationFailed, *ADMIN_401_403, DepartmentNotFound),
    )
    async def create_client(
        self,
        department_id: FromPath[UUID],
        data: JSONBody[ClientIn],
        request: Request,
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Response[ClientCreated]:
        scopes: list[str] = sorted(set(data.scopes))

        async def create() -> tuple[int, ClientCreated]:
            await _managed_department(conn, principal, department_id)
            secret, digest = new_secret("zbs_")
            client_id = await admin_store.insert_client(
                conn,
                department_id=department_id,
                name=data.name.strip(),
                scopes=scopes,
                secret_hash=digest,
                created_by=principal.subject,
                now=now,
            )
            await audit.append(
                conn,
                actor=principal.subject,
                action="admin.client_created",
                subject=str(client_id),
                data={"department": str(department_id), "scopes": scopes},
                at=now,
            )
            # Idempotency keeps answers as written: the secret goes into it sealed, and is opened below.
            sealed = keyring.encrypt(secret, context=_client_secret_context(client_id))
            return 201, ClientCreated(
                client_id=client_id,
                client_secret=base64.b64encode(sealed).decode(),
                department_id=department_id,
                name=data.name.strip(),
                scopes=scopes,
            )

        async with db.acquire() as conn, conn.transaction():
            answer = await idempotency.run(request, conn, scope=f"client:{principal.subject}", create=create)
        body = msgspec.json.decode(answer.content)
        if answer.status_code == 201:
            sealed = base64.b64decode(body["client_secret"])
            body["client_secret"] = keyring.decrypt_str(sealed, context=_client_secret_context(UUID(body["client_id"])))
        return responses.encoded(
            msgspec.json.encode(body), ClientCreated, status_code=answer.status_code, headers=dict(answer.headers)
        )

    @get(
        "/{department_id:uuid}/clients",
        operation_id="ListDepartmentClients",
        summary="The department's systems (client credentials), revoked ones included; never their secrets",
        responses=problem_responses(*ADMIN_401_403, DepartmentNotFound),
    )
    async def list_clients(
        self,
        department_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ClientPage:
        after = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            await _managed_department(conn, principal, department_id)
            items = await admin_store.list_clients(conn, department_id, after=after, limit=limit)
        return ClientPage(items=items, next_cursor=encode_cursor(items[-1].client_id) if len(items) == limit else None)

    @post(
        "/{department_id:uuid}/staff",
        operation_id="GrantStaffRoles",
        status_code=200,
        summary="Make an account staff of the department with these roles (replaces earlier roles)",
        description="Operator or the department's dept_admin. An account is staff of one department at a time "
        "(`staff_in_other_department`). The roles appear in the account's next access token.",
        responses=problem_responses(
            BadRequest, AccountNotFound, *ADMIN_401_403, DepartmentNotFound, StaffInOtherDepartment
        ),
    )
    async def grant_staff(
        self, department_id: FromPath[UUID], data: JSONBody[StaffIn], principal: CurrentPrincipal, db: Db, now: Now
    ) -> admin_store.StaffMember:
        roles: list[str] = sorted(set(data.roles))
        async with db.acquire() as conn, conn.transaction():
            await _managed_department(conn, principal, department_id)
            member = await admin_store.grant_staff(
                conn,
                account_id=data.account_id,
                department_id=department_id,
                roles=roles,
                granted_by=principal.subject,
                now=now,
            )
            await audit.append(
                conn,
                actor=principal.subject,
                action="admin.staff_granted",
                subject=str(data.account_id),
                data={"department": str(department_id), "roles": roles},
                at=now,
            )
        return member

    @get(
        "/{department_id:uuid}/staff",
        operation_id="ListStaff",
        summary="Staff of the department (operator or the department's dept_admin)",
        responses=problem_responses(*ADMIN_401_403, DepartmentNotFound),
    )
    async def list_staff(
        self,
        department_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> StaffPage:
        after = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            await _managed_department(conn, principal, department_id)
            items = await admin_store.list_staff(conn, department_id, after=after, limit=limit)
        return StaffPage(items=items, next_cursor=encode_cursor(items[-1].account_id) if len(items) == limit else None)


class IdentityProviderController(Controller):
    path = "/v1/admin/identity-providers"
    tags = ["admin"]
    security = BEARER

    @post(
        operation_id="RegisterIdentityProvider",
        opt=IDEMPOTENT,
        summary="Register an authority whose signed assertions prove real names (operator)",
        description=(
            "Give exactly one of `public_key_pem` (EC P-256, RSA ≥ 2048 or Ed25519) or `jwks` (a JWKS document; "
            "keys are matched by `kid`). `max_level` caps the `acr` it may assert (default L2; L3 only for "
            "providers that match the face). Assertions must carry `iss` = `issuer`, `sub` = lowercase hex "
            "SHA-256 of the ID number, `aud` = `audience`, the session `nonce` (used once), `acr`, `iat` and `exp` at "
            "most 10 minutes after `iat`. Accepts `Idempotency-Key`."
        ),
        responses=problem_responses(
            BadRequest, IdentityProviderKeyInvalid, ValidationFailed, *ADMIN_401_403, IdentityProviderExists
        ),
    )
    async def register(
        self,
        data: JSONBody[IdentityProviderIn],
        request: Request,
        principal: CurrentPrincipal,
        db: Db,
        state: State,
        now: Now,
    ) -> Response[IdentityProviderOut]:
        principal.require_roles("operator")
        if (data.public_key_pem is None) == (data.jwks is None):
            raise IdentityProviderKeyInvalid("give exactly one of public_key_pem and jwks")
        realname.provider_keys(data.public_key_pem, data.jwks)
        audience = data.audience or state.settings.base_url
        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, IdentityProviderOut]:
                provider = await admin_store.insert_identity_provider(
                    conn,
                    name=data.name.strip(),
                    issuer=data.issuer,
                    public_key_pem=data.public_key_pem,
                    jwks=data.jwks,
                    max_level=LEVELS[data.max_level],
                    audience=audience,
                    created_by=principal.subject,
                    now=now,
                )
                await audit.append(
                    conn,
                    actor=principal.subject,
                    action="admin.identity_provider_registered",
                    subject=str(provider.id),
                    data={"issuer": data.issuer, "max_level": data.max_level, "audience": audience},
                    at=now,
                )
                return 201, _idp_out(provider, state.settings)

            made = await idempotency.run(request, conn, scope=f"idp:{principal.subject}", create=create)
            return responses.answer(made, IdentityProviderOut)

    @get(
        operation_id="ListIdentityProviders",
        summary="Registered identity providers (operator)",
        responses=problem_responses(*ADMIN_401_403),
    )
    async def list(self, principal: CurrentPrincipal, db: Db, state: State) -> IdentityProviderList:
        principal.require_roles("operator")
        async with db.acquire() as conn:
            providers = await admin_store.list_identity_providers(conn)
        return IdentityProviderList(items=[_idp_out(p, state.settings) for p in providers])


@get(
    "/v1/admin/audit/verify",
    operation_id="VerifyAuditChain",
    tags=["admin"],
    security=BEARER,
    summary="Check the audit log's hash chain (operator)",
    description="`first_bad_entry` names the first entry whose content or link was altered, or null.",
    responses=problem_responses(*ADMIN_401_403),
)
async def verify_audit(principal: CurrentPrincipal, db: Db) -> audit.VerifyReport:
    principal.require_roles("operator")
    async with db.acquire() as conn:
        return await audit.verify(conn)


ROUTES = [DepartmentController, IdentityProviderController, verify_audit]
