"""SQL of department webhooks: endpoints (secrets sealed) and the deliveries made to them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from notify.errors import WebhookDeliveryNotFailed, WebhookDeliveryNotFound, WebhookDisabled, WebhookNotFound
from notify.models import DepartmentEvent, Webhook, WebhookDelivery

SECRET_CONTEXT = "notify_webhook.secret"

INSERT_WEBHOOK = """
INSERT INTO notify_webhook (id, department_id, url, events, secret, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


async def create_webhook(
    conn: Conn,
    keyring: Keyring,
    *,
    webhook_id: UUID,
    department_id: UUID,
    url: str,
    events: list[str],
    secret: str,
    actor: str,
    now: datetime,
) -> None:
    await conn.execute(
        INSERT_WEBHOOK,
        webhook_id,
        department_id,
        url,
        events,
        keyring.encrypt(secret, context=SECRET_CONTEXT),
        actor,
        now,
    )


async def secret_of(conn: Conn, keyring: Keyring, webhook_id: UUID) -> str | None:
    sealed = await conn.fetchval("SELECT secret FROM notify_webhook WHERE id = $1", webhook_id)
    return keyring.decrypt_str(sealed, context=SECRET_CONTEXT) if sealed is not None else None


_COLUMNS = "id, url, events, created_at, disabled_at"


async def get_webhook(conn: Conn, department_id: UUID, webhook_id: UUID) -> Webhook:
    """The department's webhook; another department's answers 404 like a missing one."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM notify_webhook WHERE id = $1 AND department_id = $2", webhook_id, department_id
    )
    if row is None:
        raise WebhookNotFound()
    return Webhook(**dict(row))


async def list_webhooks(conn: Conn, department_id: UUID, *, before: UUID | None, limit: int) -> list[Webhook]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM notify_webhook WHERE department_id = $1 AND ($2::uuid IS NULL OR id < $2)"
        " ORDER BY id DESC LIMIT $3",
        department_id,
        before,
        limit,
    )
    return [Webhook(**dict(r)) for r in rows]


async def disable_webhook(conn: Conn, department_id: UUID, webhook_id: UUID, *, now: datetime) -> None:
    """Stop delivering to it (deliveries not yet made fail as ``webhook disabled``); idempotent."""
    done = await conn.fetchval(
        "UPDATE notify_webhook SET disabled_at = coalesce(disabled_at, $3) WHERE id = $1 AND department_id = $2 RETURNING id",
        webhook_id,
        department_id,
        now,
    )
    if done is None:
        raise WebhookNotFound()


async def live_webhook(conn: Conn, department_id: UUID, webhook_id: UUID) -> Webhook:
    """The department's webhook, locked for the transaction; 409 ``webhook_disabled`` once disabled."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM notify_webhook WHERE id = $1 AND department_id = $2 FOR UPDATE",
        webhook_id,
        department_id,
    )
    if row is None:
        raise WebhookNotFound()
    if row["disabled_at"] is not None:
        raise WebhookDisabled()
    return Webhook(**dict(row))


ROTATE_SECRET = """
UPDATE notify_webhook SET previous_secret = secret, previous_secret_expires_at = $3, secret = $2, rotated_at = $4
WHERE id = $1
"""


async def rotate_secret(
    conn: Conn, keyring: Keyring, webhook_id: UUID, *, secret: str, previous_until: datetime, now: datetime
) -> None:
    """The new secret signs from now on; the current one keeps signing beside it until ``previous_until``.

    A secret still in its overlap from an earlier rotation is dropped: two at a time at most.
    """
    await conn.execute(ROTATE_SECRET, webhook_id, keyring.encrypt(secret, context=SECRET_CONTEXT), previous_until, now)


async def signing_secrets(conn: Conn, ids: list[UUID]) -> dict[UUID, asyncpg.Record]:
    """Per live webhook: url, the sealed secret, and the sealed previous secret with the end of its overlap."""
    rows = await conn.fetch(
        "SELECT id, url, secret, previous_secret, previous_secret_expires_at FROM notify_webhook"
        " WHERE id = ANY($1::uuid[]) AND disabled_at IS NULL",
        ids,
    )
    return {r["id"]: r for r in rows}


_DELIVERY = """
SELECT d.id, d.notification_id, n.kind, d.status, d.attempts, d.reason, d.not_before, d.created_at, d.updated_at
FROM notify_delivery d JOIN notify_other_notification n ON n.id = d.notification_id
"""

LIST_DELIVERIES = f"""{_DELIVERY}
WHERE d.channel = 'webhook' AND d.target = $1 AND ($2::uuid IS NULL OR d.id < $2)
ORDER BY d.id DESC LIMIT $3
"""


def _delivery(r: asyncpg.Record) -> WebhookDelivery:
    return WebhookDelivery(
        id=r["id"],
        message_id=f"msg_{r['notification_id']}",
        event=r["kind"],
        status=r["status"],
        attempts=r["attempts"],
        reason=r["reason"],
        next_attempt_at=r["not_before"] if r["status"] == "sending" else None,
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


async def list_deliveries(conn: Conn, webhook_id: UUID, *, before: UUID | None, limit: int) -> list[WebhookDelivery]:
    """Newest first: each event sent to the endpoint, its status and attempts (failed ones stay visible)."""
    return [_delivery(r) for r in await conn.fetch(LIST_DELIVERIES, webhook_id, before, limit)]


FAILED = "('temporary-failure', 'permanent-failure', 'technical-failure')"

# A replay moves a failed delivery back to created, queued now: the dispatcher makes another attempt
# (attempt numbers go on, so its history stays whole) with the same webhook-id, and retries it as
# any delivery while attempts are left. The only way a final status moves: an integrator asked.
REPLAY = f"""
WITH d AS (
    SELECT id, status FROM notify_delivery WHERE id = $1 AND channel = 'webhook' AND target = $2 FOR UPDATE
), moved AS (
    UPDATE notify_delivery x
    SET status = 'created', not_before = NULL, lease_until = NULL, sending_since = NULL, queued_at = $3,
        reason = 'replay requested', updated_at = $3
    FROM d WHERE x.id = d.id AND d.status IN {FAILED}
    RETURNING x.id, x.lane
)
SELECT d.status AS was, moved.lane FROM d LEFT JOIN moved ON moved.id = d.id
"""


async def replay_delivery(conn: Conn, webhook_id: UUID, delivery_id: UUID, *, now: datetime) -> tuple[str, str]:
    """Queue a failed delivery of the webhook again; return (the status it had, its lane)."""
    row = await conn.fetchrow(REPLAY, delivery_id, webhook_id, now)
    if row is None:
        raise WebhookDeliveryNotFound()
    if row["lane"] is None:
        raise WebhookDeliveryNotFailed(status=row["was"])
    return row["was"], row["lane"]


async def get_delivery(conn: Conn, webhook_id: UUID, delivery_id: UUID) -> WebhookDelivery:
    row = await conn.fetchrow(
        f"{_DELIVERY} WHERE d.id = $1 AND d.channel = 'webhook' AND d.target = $2", delivery_id, webhook_id
    )
    if row is None:
        raise WebhookDeliveryNotFound()
    return _delivery(row)


# The department's notifications are the events its webhooks deliver, one row per event.
EVENTS_SINCE = """
SELECT id, kind, data::text AS data, created_at FROM notify_other_notification
WHERE department_id = $1 AND id > $2 AND created_at >= $3
ORDER BY id LIMIT $4
"""


async def events_since(
    conn: Conn, department_id: UUID, *, after: UUID, since: datetime, limit: int
) -> list[DepartmentEvent]:
    """Oldest first: the department's events from ``since`` on, after the id ``after``."""
    return [
        DepartmentEvent(
            id=f"msg_{r['id']}", type=r["kind"], timestamp=r["created_at"], data=msgspec.json.decode(r["data"])
        )
        for r in await conn.fetch(EVENTS_SINCE, department_id, after, since, limit)
    ]
