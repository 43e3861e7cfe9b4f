"""Department webhooks: register an endpoint, list them, disable one, see its deliveries, replay a
failed one, send a test event, rotate the signing secret; and every event of the department since a time.

Allowed to department staff with ``dept_admin`` or a department system with the scope
``webhooks:manage``; a department sees only its own webhooks (another's answer 404).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.deps import Db, Keys, Now, Redis
from api.kernel import audit, idempotency, outbox, responses
from api.kernel.ids import uuid7, uuid7_floor
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, CursorInvalid, Limit, decode_cursor, encode_cursor
from api.kernel.problems import BadRequest, Forbidden, Unauthorized, ValidationFailed
from api.openapi import IDEMPOTENT
from auth import BEARER, CurrentPrincipal, Principal, problem_responses
from notify import catalogue, service, streams, webhook_store
from notify.errors import (
    WebhookDeliveryNotFailed,
    WebhookDeliveryNotFound,
    WebhookDisabled,
    WebhookEventsInvalid,
    WebhookNotFound,
    WebhookUrlInvalid,
    WebhookUrlNotPublic,
)
from notify.models import (
    DepartmentEventPage,
    RotateSecretIn,
    WebhookCreated,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookIn,
    WebhookPage,
    WebhookSecretRotated,
    WebhookTestSent,
)

# Notification ids are UUIDv7 made when the event is expanded, a little after it happened; the
# search for "since" starts this much earlier by id and then filters by time.
ID_MARGIN = timedelta(hours=1)


def _department(principal: Principal) -> UUID:
    return principal.require_staff("dept_admin", scope="webhooks:manage")


class WebhookController(Controller):
    path = "/v1/dept/webhooks"
    tags = ["webhooks"]
    security = BEARER

    @post(
        operation_id="CreateWebhook",
        opt=IDEMPOTENT,
        status_code=201,
        summary="Register an endpoint for department events; the signing secret is in the answer",
        description="Deliveries follow Standard Webhooks (FORMATS.md §webhooks): `POST {type, timestamp, data}` "
        "with `webhook-id` (stable across retries), `webhook-timestamp` and `webhook-signature: "
        "v1,<base64 HMAC-SHA256>` keyed by the secret (`whsec_` + base64 of 32 bytes). Network errors, "
        "5xx and 429 are retried with backoff (5 s growing towards 6 h, 8 attempts), then the delivery is "
        "marked failed and stays listed under `/deliveries`. The url must be https to a globally routable "
        "address (a name must resolve only to such addresses; checked again at each new connection, "
        "a delivery to an address that is no longer public fails); otherwise `webhook_url_not_public`. "
        "Delivery failures read `network error` without saying what answered. "
        f"Events: {', '.join(f'`{e}`' for e in catalogue.WEBHOOK_EVENTS)}. "
        "With `Idempotency-Key`, a repeat returns the same endpoint and secret.",
        responses=problem_responses(
            BadRequest,
            ValidationFailed,
            WebhookUrlInvalid,
            WebhookUrlNotPublic,
            WebhookEventsInvalid,
            Unauthorized,
            Forbidden,
        ),
    )
    async def create(
        self, data: JSONBody[WebhookIn], request: Request, principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Response[WebhookCreated]:
        department_id = _department(principal)
        allow_private = request.app.state.settings.private_webhooks_allowed
        events = service.check_webhook(data.url, data.events, allow_private=allow_private)
        if not allow_private:
            await service.check_webhook_address(data.url)

        async def make() -> tuple[int, dict[str, object]]:
            webhook_id = uuid7()
            await webhook_store.create_webhook(
                conn,
                keyring,
                webhook_id=webhook_id,
                department_id=department_id,
                url=data.url,
                events=events,
                secret=service.new_webhook_secret(),
                actor=principal.subject,
                now=now,
            )
            await audit.append(
                conn,
                actor=principal.subject,
                action="notify.webhook_created",
                subject=f"webhook:{webhook_id}",
                data={"department": str(department_id), "url": data.url, "events": events},
                at=now,
            )
            # The secret is not part of the stored (replayable) answer: idempotency keeps answers in
            # the clear, the secret stays sealed in notify_webhook and is filled in below.
            return 201, {"id": str(webhook_id), "secret": None}

        async with db.acquire() as conn, conn.transaction():
            answer = await idempotency.run(request, conn, scope=f"webhooks:{department_id}", create=make)
            body = msgspec.json.decode(answer.content)
            if answer.status_code == 201:
                body["secret"] = await webhook_store.secret_of(conn, keyring, UUID(body["id"]))
        return responses.encoded(
            msgspec.json.encode(body), WebhookCreated, status_code=answer.status_code, headers=dict(answer.headers)
        )

    @get(
        operation_id="ListWebhooks",
        summary="The department's webhooks, newest first",
        responses=problem_responses(CursorInvalid, Unauthorized, Forbidden),
    )
    async def list_webhooks(
        self, principal: CurrentPrincipal, db: Db, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> WebhookPage:
        department_id = _department(principal)
        before = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            items = await webhook_store.list_webhooks(conn, department_id, before=before, limit=limit)
        return WebhookPage(items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None)

    @delete(
        "/{webhook_id:uuid}",
        operation_id="DisableWebhook",
        status_code=204,
        summary="Stop delivering to an endpoint (its deliveries not yet made fail as disabled)",
        responses=problem_responses(WebhookNotFound, Unauthorized, Forbidden),
    )
    async def disable(self, webhook_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, now: Now) -> None:
        department_id = _department(principal)
        async with db.acquire() as conn, conn.transaction():
            await webhook_store.disable_webhook(conn, department_id, webhook_id, now=now)
            await audit.append(
                conn,
                actor=principal.subject,
                action="notify.webhook_disabled",
                subject=f"webhook:{webhook_id}",
                data={"department": str(department_id)},
                at=now,
            )

    @get(
        "/{webhook_id:uuid}/deliveries",
        operation_id="ListWebhookDeliveries",
        summary="What was sent to the endpoint: status, attempts and the next retry, newest first",
        responses=problem_responses(WebhookNotFound, CursorInvalid, Unauthorized, Forbidden),
    )
    async def deliveries(
        self,
        webhook_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> WebhookDeliveryPage:
        department_id = _department(principal)
        before = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            await webhook_store.get_webhook(conn, department_id, webhook_id)
            items = await webhook_store.list_deliveries(conn, webhook_id, before=before, limit=limit)
        return WebhookDeliveryPage(
            items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None
        )

    @post(
        "/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/replay",
        operation_id="ReplayWebhookDelivery",
        status_code=202,
        summary="Send a failed delivery again",
        description="For a delivery whose status is `temporary-failure`, `permanent-failure` or `technical-failure`: "
        "it goes back to `created` and is attempted again at once, with the same `webhook-id` (receivers "
        "that already processed it drop it by that id), signed with the webhook's current secrets. Failed "
        "attempts are retried as usual while the delivery has attempts left (8 in all); attempt numbers "
        "go on from the earlier ones. Any other status → 409 `webhook_delivery_not_failed`; a disabled "
        "webhook → 409 `webhook_disabled`. The answer is the delivery, as `/deliveries` lists it.",
        responses=problem_responses(
            WebhookNotFound, WebhookDeliveryNotFound, WebhookDeliveryNotFailed, WebhookDisabled, Unauthorized, Forbidden
        ),
    )
    async def replay(
        self,
        webhook_id: FromPath[UUID],
        delivery_id: FromPath[UUID],
        principal: CurrentPrincipal,
        db: Db,
        redis: Redis,
        now: Now,
    ) -> WebhookDelivery:
        department_id = _department(principal)
        async with db.acquire() as conn, conn.transaction():
            await webhook_store.live_webhook(conn, department_id, webhook_id)
            was, lane = await webhook_store.replay_delivery(conn, webhook_id, delivery_id, now=now)
            await audit.append(
                conn,
                actor=principal.subject,
                action="notify.webhook_delivery_replayed",
                subject=f"webhook:{webhook_id}",
                data={"department": str(department_id), "delivery": str(delivery_id), "was": was},
                at=now,
            )
            delivery = await webhook_store.get_delivery(conn, webhook_id, delivery_id)
        # After the commit; if this push is lost, the requeue job hands the delivery on after the claim timeout.
        await streams.push_deliveries(redis, [(delivery_id, lane)])
        return delivery

    @post(
        "/{webhook_id:uuid}/test",
        operation_id="SendWebhookTest",
        opt=IDEMPOTENT,
        status_code=202,
        summary="Send a test event to the endpoint",
        description="An event of type `webhook.test` goes to this webhook (whatever events it subscribes to) the way "
        "every event does: signed, retried, listed under `/deliveries`. Its `data` is `{department_id, "
        "webhook_id, test_id}`; the answer names `test_id`. A disabled webhook → 409 `webhook_disabled`. "
        "With `Idempotency-Key`, a repeat sends nothing more and answers the same `test_id`.",
        responses=problem_responses(BadRequest, WebhookNotFound, WebhookDisabled, Unauthorized, Forbidden),
    )
    async def send_test(
        self, webhook_id: FromPath[UUID], request: Request, principal: CurrentPrincipal, db: Db, now: Now
    ) -> Response[WebhookTestSent]:
        department_id = _department(principal)

        async def make() -> tuple[int, dict[str, object]]:
            await webhook_store.live_webhook(conn, department_id, webhook_id)
            test_id = uuid7()
            payload = {
                "event": "webhook.test",
                "department_id": str(department_id),
                "webhook_id": str(webhook_id),
                "test_id": str(test_id),
            }
            await outbox.enqueue(
                conn, "notify", payload, dedup_key=f"webhook.test:{test_id}", partition_key=str(department_id)
            )
            await audit.append(
                conn,
                actor=principal.subject,
                action="notify.webhook_tested",
                subject=f"webhook:{webhook_id}",
                data={"department": str(department_id), "test_id": str(test_id)},
                at=now,
            )
            return 202, {"test_id": str(test_id)}

        async with db.acquire() as conn, conn.transaction():
            answer = await idempotency.run(request, conn, scope=f"webhooks:{department_id}", create=make)
        return responses.answer(answer, WebhookTestSent)

    @post(
        "/{webhook_id:uuid}/rotate-secret",
        operation_id="RotateWebhookSecret",
        opt=IDEMPOTENT,
        status_code=200,
        summary="Replace the signing secret, the old one still signing for an overlap",
        description="A new secret (`whsec_` + base64 of 32 bytes) signs every delivery from now on. Until "
        "`previous_secret_expires_at` (`overlap_seconds` from now: at least 60, at most 7 days, default "
        "one day) each delivery carries two signatures in `webhook-signature`, `v1,<new> v1,<old>`, so the "
        "receiver verifies with either and can switch to the new secret when it is ready (Standard "
        "Webhooks). A secret still in the overlap of an earlier rotation stops signing now. A disabled "
        "webhook → 409 `webhook_disabled`. With `Idempotency-Key`, a repeat rotates nothing more and "
        "answers the webhook's current secret.",
        responses=problem_responses(
            BadRequest, ValidationFailed, WebhookNotFound, WebhookDisabled, Unauthorized, Forbidden
        ),
    )
    async def rotate_secret(
        self,
        webhook_id: FromPath[UUID],
        request: Request,
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
        data: JSONBody[RotateSecretIn | None] = None,
    ) -> Response[WebhookSecretRotated]:
        department_id = _department(principal)
        overlap = (data or RotateSecretIn()).overlap_seconds

        async def make() -> tuple[int, dict[str, object]]:
            await webhook_store.live_webhook(conn, department_id, webhook_id)
            until = now + timedelta(seconds=overlap)
            await webhook_store.rotate_secret(
                conn, keyring, webhook_id, secret=service.new_webhook_secret(), previous_until=until, now=now
            )
            await audit.append(
                conn,
                actor=principal.subject,
                action="notify.webhook_secret_rotated",
                subject=f"webhook:{webhook_id}",
                data={"department": str(department_id), "previous_until": until.isoformat()},
                at=now,
            )
            # As at creation, the secret stays out of the stored (replayable) answer and is filled in below.
            return 200, {"id": str(webhook_id), "secret": None, "previous_secret_expires_at": until}

        async with db.acquire() as conn, conn.transaction():
            answer = await idempotency.run(request, conn, scope=f"webhooks:{department_id}", create=make)
            body = msgspec.json.decode(answer.content)
            if answer.status_code == 200:
                body["secret"] = await webhook_store.secret_of(conn, keyring, webhook_id)
        return responses.encoded(
            msgspec.json.encode(body),
            WebhookSecretRotated,
            status_code=answer.status_code,
            headers=dict(answer.headers),
        )


Since = Annotated[datetime, QueryParameter(description="RFC 3339 time: events from then on.")]


@get(
    "/v1/dept/events",
    operation_id="ListDepartmentEvents",
    tags=["webhooks"],
    security=BEARER,
    summary="Every event of the department since a time, oldest first (to catch up on missed deliveries)",
    description="The events the department's webhooks deliver, as they deliver them: `id` is the `webhook-id` "
    "header, `type`, `timestamp` and `data` the body's fields, so a system that was down (or whose "
    "deliveries failed) finds here what it missed and drops what it has by `id`. Every event made for the "
    "department is listed, also of types none of its webhooks subscribes to. Pages of `limit`, oldest "
    "first; pass `next_cursor` as `cursor` (with the same `since`) for the next page.",
    responses=problem_responses(CursorInvalid, ValidationFailed, Unauthorized, Forbidden),
)
async def list_department_events(
    principal: CurrentPrincipal, db: Db, since: Since, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> DepartmentEventPage:
    department_id = _department(principal)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    floor = uuid7_floor(int((since - ID_MARGIN).timestamp() * 1000))
    after = max(decode_cursor(cursor, UUID), floor) if cursor else floor
    async with db.acquire() as conn:
        items = await webhook_store.events_since(conn, department_id, after=after, since=since, limit=limit)
    return DepartmentEventPage(
        items=items, next_cursor=encode_cursor(items[-1].id.removeprefix("msg_")) if len(items) == limit else None
    )
