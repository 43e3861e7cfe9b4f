"""Department webhooks: register an endpoint, list them, disable one, see its deliveries.

Allowed to department staff with ``dept_admin`` or a department system with the scope
``webhooks:manage``; a department sees only its own webhooks (another's answer 404).
"""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody

from api import audit, idempotency
from api.deps import Db, Keys, Now
from api.ids import uuid7
from api.openapi import IDEMPOTENT
from api.pagination import DEFAULT_LIMIT, Cursor, CursorInvalid, Limit, decode_cursor, encode_cursor
from api.problems import BadRequest, Forbidden, Unauthorized, ValidationFailed
from auth.errors import problem_responses
from auth.guards import BEARER, CurrentPrincipal, Principal
from notify import catalogue, service, webhook_store
from notify.errors import WebhookEventsInvalid, WebhookNotFound, WebhookUrlInvalid, WebhookUrlNotPublic
from notify.models import WebhookCreated, WebhookDeliveryPage, WebhookIn, WebhookPage


def _department(principal: Principal) -> UUID:
    return principal.require_staff("dept_admin", scope="webhooks:manage")


class WebhookController(Controller):
    path = "/v1/dept/webhooks"
    tags = ["webhooks"]
    security = BEARER

    @post(operation_id="CreateWebhook", opt=IDEMPOTENT, status_code=201,
          summary="Register an endpoint for department events; the signing secret is in the answer",
          description="Deliveries follow Standard Webhooks (FORMATS.md §webhooks): `POST {type, timestamp, data}` "
                      "with `webhook-id` (stable across retries), `webhook-timestamp` and `webhook-signature: "
                      "v1,<base64 HMAC-SHA256>` keyed by the secret (`whsec_` + base64 of 32 bytes). Network errors, "
                      "5xx and 429 are retried with backoff (5 s growing towards 6 h, 8 attempts), then the delivery is "
                      "marked failed and stays listed under `/deliveries`. The url must be https to a globally routable "
                      "address (a name must resolve only to such addresses; checked again at each new connection, "
                      "a delivery to an address that is no longer public fails); otherwise `webhook_url_not_public`. "
                      "Delivery failures read `network error` without saying what answered. Events: {', '.join(f'`{e}`' for e in catalogue.WEBHOOK_EVENTS)}. "
                      "With `Idempotency-Key`, a repeat returns the same endpoint and secret.",
          responses=problem_responses(BadRequest, ValidationFailed, WebhookUrlInvalid, WebhookUrlNotPublic,
                                      WebhookEventsInvalid, Unauthorized,
                                      Forbidden))
    async def create(self, data: JSONBody[WebhookIn], request: Request, principal: CurrentPrincipal, db: Db,
                     keyring: Keys, now: Now) -> Response[WebhookCreated]:
        department_id = _department(principal)
        allow_private = request.app.state.settings.private_webhooks_allowed
        events = service.check_webhook(data.url, data.events, allow_private=allow_private)
        if not allow_private:
            await service.check_webhook_address(data.url)

        async def make() -> tuple[int, dict[str, object]]:
            webhook_id = uuid7()
            await webhook_store.create_webhook(conn, keyring, webhook_id=webhook_id, department_id=department_id,
                                               url=data.url, events=events, secret=service.new_webhook_secret(),
                                               actor=principal.subject, now=now)
            await audit.append(conn, actor=principal.subject, action="notify.webhook_created", subject=f"webhook:{webhook_id}",
                               data={"department": str(department_id), "url": data.url, "events": events}, at=now)
            # The secret is not part of the stored (replayable) answer: idempotency keeps answers in
            # the clear, the secret stays sealed in notify_webhook and is filled in below.
            return 201, {"id": str(webhook_id), "secret": None}

        async with db.acquire() as conn, conn.transaction():
            answer = await idempotency.run(request, conn, scope=f"webhooks:{department_id}", create=make)
            body = msgspec.json.decode(answer.content)
            if answer.status_code == 201:
                body["secret"] = await webhook_store.secret_of(conn, keyring, UUID(body["id"]))
        return Response(msgspec.json.encode(body), status_code=answer.status_code, media_type="application/json",
                        headers=dict(answer.headers))

    @get(operation_id="ListWebhooks", summary="The department's webhooks, newest first",
         responses=problem_responses(CursorInvalid, Unauthorized, Forbidden))
    async def list_webhooks(self, principal: CurrentPrincipal, db: Db, cursor: Cursor = None,
                            limit: Limit = DEFAULT_LIMIT) -> WebhookPage:
        department_id = _department(principal)
        before = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            items = await webhook_store.list_webhooks(conn, department_id, before=before, limit=limit)
        return WebhookPage(items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None)

    @delete("/{webhook_id:uuid}", operation_id="DisableWebhook", status_code=204,
            summary="Stop delivering to an endpoint (its deliveries not yet made fail as disabled)",
            responses=problem_responses(WebhookNotFound, Unauthorized, Forbidden))
    async def disable(self, webhook_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, now: Now) -> None:
        department_id = _department(principal)
        async with db.acquire() as conn, conn.transaction():
            await webhook_store.disable_webhook(conn, department_id, webhook_id, now=now)
            await audit.append(conn, actor=principal.subject, action="notify.webhook_disabled", subject=f"webhook:{webhook_id}",
                               data={"department": str(department_id)}, at=now)

    @get("/{webhook_id:uuid}/deliveries", operation_id="ListWebhookDeliveries",
         summary="What was sent to the endpoint: status, attempts and the next retry, newest first",
         responses=problem_responses(WebhookNotFound, CursorInvalid, Unauthorized, Forbidden))
    async def deliveries(self, webhook_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, cursor: Cursor = None,
                         limit: Limit = DEFAULT_LIMIT) -> WebhookDeliveryPage:
        department_id = _department(principal)
        before = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            await webhook_store.get_webhook(conn, department_id, webhook_id)
            items = await webhook_store.list_deliveries(conn, webhook_id, before=before, limit=limit)
        return WebhookDeliveryPage(items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None)
