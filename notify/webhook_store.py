"""SQL of department webhooks: endpoints (secrets sealed) and the deliveries made to them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from api.crypto import Keyring
from notify.errors import WebhookNotFound
from notify.models import Webhook, WebhookDelivery

SECRET_CONTEXT = "notify_webhook.secret"

INSERT_WEBHOOK = """
INSERT INTO notify_webhook (id, department_id, url, events, secret, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


async def create_webhook(conn: asyncpg.Connection, keyring: Keyring, *, webhook_id: UUID, department_id: UUID, url: str,
                         events: list[str], secret: str, actor: str, now: datetime) -> None:
    await conn.execute(INSERT_WEBHOOK, webhook_id, department_id, url, events,
                       keyring.encrypt(secret, context=SECRET_CONTEXT), actor, now)


async def secret_of(conn: asyncpg.Connection, keyring: Keyring, webhook_id: UUID) -> str | None:
    sealed = await conn.fetchval("SELECT secret FROM notify_webhook WHERE id = $1", webhook_id)
    return keyring.decrypt_str(sealed, context=SECRET_CONTEXT) if sealed is not None else None


_COLUMNS = "id, url, events, created_at, disabled_at"


async def get_webhook(conn: asyncpg.Connection, department_id: UUID, webhook_id: UUID) -> Webhook:
    """The department's webhook; another department's answers 404 like a missing one."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM notify_webhook WHERE id = $1 AND department_id = $2",
                              webhook_id, department_id)
    if row is None:
        raise WebhookNotFound()
    return Webhook(**dict(row))


async def list_webhooks(conn: asyncpg.Connection, department_id: UUID, *, before: UUID | None, limit: int) -> list[Webhook]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM notify_webhook WHERE department_id = $1 AND ($2::uuid IS NULL OR id < $2)"
        " ORDER BY id DESC LIMIT $3", department_id, before, limit,
    )
    return [Webhook(**dict(r)) for r in rows]


async def disable_webhook(conn: asyncpg.Connection, department_id: UUID, webhook_id: UUID, *, now: datetime) -> None:
    """Stop delivering to it (deliveries not yet made fail as ``webhook disabled``); idempotent."""
    done = await conn.fetchval(
        "UPDATE notify_webhook SET disabled_at = coalesce(disabled_at, $3) WHERE id = $1 AND department_id = $2 RETURNING id",
        webhook_id, department_id, now,
    )
    if done is None:
        raise WebhookNotFound()


LIST_DELIVERIES = """
SELECT d.id, d.notification_id, n.kind, d.status, d.attempts, d.reason, d.not_before, d.created_at, d.updated_at
FROM notify_delivery d JOIN notify_notification n ON n.id = d.notification_id
WHERE d.channel = 'webhook' AND d.target = $1 AND ($2::uuid IS NULL OR d.id < $2)
ORDER BY d.id DESC LIMIT $3
"""


async def list_deliveries(conn: asyncpg.Connection, webhook_id: UUID, *, before: UUID | None, limit: int) -> list[WebhookDelivery]:
    """Newest first: each event sent to the endpoint, its status and attempts (failed ones stay visible)."""
    return [
        WebhookDelivery(id=r["id"], message_id=f"msg_{r['notification_id']}", event=r["kind"], status=r["status"],
                        attempts=r["attempts"], reason=r["reason"],
                        next_attempt_at=r["not_before"] if r["status"] == "sending" else None,
                        created_at=r["created_at"], updated_at=r["updated_at"])
        for r in await conn.fetch(LIST_DELIVERIES, webhook_id, before, limit)
    ]
