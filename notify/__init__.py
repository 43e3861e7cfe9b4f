"""Notifications: events turned into inbox items, WeChat subscribe messages, SMS and department webhooks.

Pipeline: business transactions write outbox events → ``jobs.relay`` moves them to Redis Streams →
``expand`` writes notifications (the inbox), change-log entries and deliveries in one transaction →
``deliver`` sends deliveries per channel, fairly across departments, recording every attempt.
Modules: ``catalogue`` (events, audiences, zh-CN texts, WeChat templates), ``render``, ``plan`` and
``service`` (pure rules), ``inbox`` (marking read, for other domains too), ``recipients``, ``store``, ``dispatch_store``, ``webhook_store`` (SQL),
``streams`` (Redis Streams), ``dead_letters`` (what operators do with them), ``expand``, ``deliver``, ``channels``, ``webclient``, ``live`` (SSE), ``socket`` (the live channel over a WebSocket),
``routes``, ``webhook_routes``, ``jobs``, ``errors``, ``models``.
"""

from notify.jobs import JOBS
from notify.routes import DeadLetterController, InboxController, admin_notification
from notify.socket import notification_socket
from notify.webhook_routes import WebhookController, list_department_events

ROUTES = [InboxController, WebhookController, list_department_events, admin_notification, DeadLetterController,
          notification_socket]

__all__ = ["JOBS", "ROUTES"]
