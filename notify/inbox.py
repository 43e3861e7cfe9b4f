"""Inbox functions other domains may call: marking an item read, or all of them (the routes and the
sync mutations ``notification.read`` and ``notification.read_all`` come here, inside their own
transaction) and the wallet's export."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from api.kernel import changelog
from api.kernel.db import Conn
from notify import store
from notify.models import Notification


async def read(
    conn: Conn, person_id: UUID | None, account_id: UUID, notification_id: UUID, *, now: datetime
) -> tuple[Notification, int | None]:
    """Mark the caller's item read (once) and mirror it to the owner's devices.

    Returns the item and the owner person's new change-log version (None when nothing changed or
    the item belongs to an account without a person). 404 ``notification_not_found`` for an item
    that is not the caller's.
    """
    view, person, changed = await store.mark_read(conn, person_id, account_id, notification_id, now=now)
    if not changed or person is None:
        return view, None
    return view, await changelog.record_change(conn, person, "notification", view.id, "put", msgspec.to_builtins(view))


async def read_all(
    conn: Conn, person_id: UUID | None, account_id: UUID, *, up_to: UUID | None, now: datetime
) -> tuple[int, dict[UUID, int]]:
    """Mark every unread item of the caller read (up to ``up_to``, when given), each mirrored to its owner's devices.

    Returns how many were marked and each owner person's new change-log version.
    """
    marked = await store.mark_all_read(conn, person_id, account_id, up_to=up_to, now=now)
    puts: list[tuple[UUID, changelog.Entity, UUID, Any]] = [
        (owner, "notification", view.id, msgspec.to_builtins(view)) for view, owner in marked if owner is not None
    ]
    heads = await changelog.record_puts(conn, puts)
    return len(marked), heads


_EXPORTED = "id, kind, event, title, body, data, urgent, created_at, read_at"
EXPORT = f"SELECT {_EXPORTED} FROM notify_notification WHERE person_id = $1"
EXPORT_LOGINS = f"""
SELECT {_EXPORTED} FROM notify_other_notification
WHERE account_id IN (SELECT id FROM auth_account WHERE person_id = $1)
"""


async def export_for_person(conn: Conn, person_id: UUID) -> list[Notification]:
    """Every inbox item of the person and their logins (from before they had the person), oldest first (for the
    wallet's export)."""
    rows = [*await conn.fetch(EXPORT, person_id), *await conn.fetch(EXPORT_LOGINS, person_id)]
    return [Notification(**dict(r)) for r in sorted(rows, key=lambda r: r["id"])]
