"""Department systems' tokens (OAuth 2.0 client credentials) and the published signing keys."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

from api.deps import Config, Db, Now, Redis
from api.kernel import audit, ratelimit
from api.kernel.client_address import client_address
from api.kernel.ids import uuid7
from api.kernel.problems import BadRequest, RateLimited, ValidationFailed
from api.kernel.ratelimit import Limit
from auth.errors import InvalidClient, InvalidScope, UnsupportedGrantType, problem_responses
from auth.keys import ACCESS_TTL
from auth.models import ClientCredentials, ClientToken, Jwks
from auth.store import admin as admin_store
from auth.tokens import AccessClaims, encode_access, expires, secret_hash

TOKEN_CLIENT = Limit("token_client", 60, 60)
TOKEN_IP = Limit("token_ip", 120, 60)
FORM = "application/x-www-form-urlencoded"

_FIELDS: dict[str, Schema | Reference] = {
    "grant_type": Schema(type=OpenAPIType.STRING, enum=["client_credentials"]),
    "client_id": Schema(
        type=OpenAPIType.STRING, format=OpenAPIFormat.UUID, description="Or use HTTP Basic authentication."
    ),
    "client_secret": Schema(type=OpenAPIType.STRING),
    "scope": Schema(type=OpenAPIType.STRING, description="Space-separated; defaults to every scope of the client."),
}
_SCHEMA = Schema(type=OpenAPIType.OBJECT, required=["grant_type"], properties=_FIELDS)


@dataclass
class _FormOrJsonOperation(Operation):
    def __post_init__(self) -> None:
        # The body is read by hand (it may be a form or JSON), so the schema is declared here.
        self.request_body = RequestBody(
            required=True,
            content={FORM: OpenAPIMediaType(schema=_SCHEMA), "application/json": OpenAPIMediaType(schema=_SCHEMA)},
        )


async def _refused(db: Any, client_id: UUID | None, reason: str, address: str, now: Any) -> None:
    """Audit a refused client authentication; the answer stays the same opaque ``invalid_client``."""
    await audit.append_separately(
        db,
        actor=f"client:{client_id}" if client_id else "anonymous",
        action="auth.client_auth_failed",
        subject=str(client_id or ""),
        data={"reason": reason},
        client_address=address,
        at=now,
    )


async def _read_credentials(request: Request) -> ClientCredentials:
    raw = await request.body()
    try:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
            fields: Any = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        else:
            fields = msgspec.json.decode(raw)
        creds = msgspec.convert(fields, ClientCredentials, strict=False)
    except (UnicodeDecodeError, msgspec.DecodeError):
        raise BadRequest("the body must be a form or a JSON object") from None
    except msgspec.ValidationError as exc:
        raise ValidationFailed(str(exc)) from None
    # RFC 6749 §2.3.1: client_secret_basic (URL-encoded id and secret in HTTP Basic) is accepted too.
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidClient() from None
        creds = msgspec.structs.replace(creds, client_id=unquote(user), client_secret=unquote(password))
    return creds


class TokenController(Controller):
    path = "/v1/auth/token"
    tags = ["auth"]

    @post(
        operation_id="ClientCredentialsToken",
        status_code=200,
        operation_class=_FormOrJsonOperation,
        summary="Access token for a department system (client credentials)",
        description=(
            'Form (`application/x-www-form-urlencoded`) or JSON `{grant_type: "client_credentials", client_id, '
            "client_secret, scope?}`; the id and secret may also come as HTTP Basic. The token carries "
            '`roles: ["dept_client"]`, `dept` (the client\'s department) and `scope` — the requested scopes, '
            "which must all be granted to the client (else `invalid_scope`), or all of them."
        ),
        responses=problem_responses(
            BadRequest, UnsupportedGrantType, InvalidScope, InvalidClient, ValidationFailed, RateLimited
        ),
    )
    async def token(
        self, request: Request, state: State, db: Db, redis: Redis, settings: Config, now: Now
    ) -> ClientToken:
        creds = await _read_credentials(request)
        if creds.grant_type != "client_credentials":
            raise UnsupportedGrantType("only client_credentials is supported")
        address = client_address(request)
        await ratelimit.hit(redis, f"ip:{address}", TOKEN_IP)
        try:
            client_id = UUID(creds.client_id or "")
        except ValueError:
            await _refused(db, None, "malformed_client_id", address, now)
            raise InvalidClient() from None
        await ratelimit.hit(redis, f"client:{client_id}", TOKEN_CLIENT)
        keys = await state.signing_keys.for_signing(now=now)
        async with db.acquire() as conn:
            client = await admin_store.get_client(conn, client_id)
        presented = secret_hash(creds.client_secret or "")
        if client is None or client.revoked_at is not None or not hmac.compare_digest(presented, client.secret_hash):
            reason = "unknown_client" if client is None else "revoked" if client.revoked_at else "wrong_secret"
            await _refused(db, client_id, reason, address, now)
            raise InvalidClient()
        async with db.acquire() as conn, conn.transaction():
            requested = set((creds.scope or "").split()) or set(client.scopes)
            if not requested <= set(client.scopes):
                raise InvalidScope(granted=sorted(client.scopes))
            scope = " ".join(sorted(requested))
            iat, exp = expires(now)
            claims = AccessClaims(
                iss=settings.base_url,
                sub=str(client.id),
                iat=iat,
                exp=exp,
                jti=str(uuid7()),
                roles=["dept_client"],
                auth_time=iat,
                dept=str(client.department_id),
                scope=scope,
                client_id=str(client.id),
            )
            await audit.append(
                conn,
                actor=f"client:{client.id}",
                action="auth.client_token",
                subject=str(client.department_id),
                data={"scope": scope},
                client_address=address,
                at=now,
            )
        return ClientToken(access_token=encode_access(claims, keys.active), expires_in=ACCESS_TTL, scope=scope)


@get(
    "/.well-known/jwks.json",
    operation_id="GetJwks",
    tags=["meta"],
    summary="Public keys that sign access tokens (JWKS)",
    description=(
        "ES256 keys with `kid`. After a rotation the previous key stays listed until every token it signed "
        "has expired. Cache for at most 5 minutes; on an unknown `kid`, fetch again."
    ),
    media_type=MediaType.JSON,
)
async def jwks(state: State, now: Now) -> Response[Jwks]:
    keys = await state.signing_keys.current(now=now)
    return Response(Jwks(keys=keys.jwks(now=now)["keys"]), headers={"Cache-Control": "public, max-age=300"})


ROUTES = [TokenController, jwks]
