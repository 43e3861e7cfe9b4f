"""Notifications: events turned into inbox items, WeChat subscribe messages, SMS and department webhooks.

Pipeline: business transactions write outbox events → ``jobs.relay`` moves them to Redis Streams →
``expand`` writes notifications (the inbox), change-log entries and deliveries in one transaction →
``deliver`` sends deliveries per channel, fairly across departments, recording every attempt.
Modules: ``catalogue`` (events, audiences, zh-CN texts, WeChat templates), ``render``, ``plan`` and
``service`` (pure rules), ``inbox`` (marking read, for other domains too), ``recipients``, ``store``, ``dispatch_store``, ``webhook_store`` (SQL),
``streams`` (Redis Streams), ``dead_letters`` (what operators do with them), ``expand``, ``deliver``, ``channels``, ``webclient``, ``live`` (SSE), ``socket`` (the live channel over a WebSocket),
``routes``, ``webhook_routes``, ``jobs``, ``errors``, ``models``; ``wiring`` is what ``api/app.py`` plugs in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.kernel.surface import surface

# The public surface: what other domains may use of this one, and all they may import
# (docs/architecture.md); the rest of the package is its own business.
_SURFACE = {
    "set_contact_phone": "notify.contacts",
    "export_for_person": "notify.inbox",
    "read": "notify.inbox",
    "read_all": "notify.inbox",
    "poke_sync": "notify.live",
    "Notification": "notify.models",
}
__getattr__ = surface(__name__, _SURFACE)
__all__ = [  # the names of _SURFACE
    "Notification",
    "export_for_person",
    "poke_sync",
    "read",
    "read_all",
    "set_contact_phone",
]

if TYPE_CHECKING:
    from notify.contacts import set_contact_phone
    from notify.inbox import export_for_person, read, read_all
    from notify.live import poke_sync
    from notify.models import Notification
