"""How ``api/app.py`` plugs notifications in: routes, jobs, and the goodbye of live streams on SIGTERM."""

from __future__ import annotations

from api.kernel.domain import Domain
from notify.jobs import JOBS
from notify.live import say_goodbye
from notify.routes import DeadLetterController, InboxController, admin_notification
from notify.socket import notification_socket
from notify.webhook_routes import WebhookController, list_department_events

ROUTES = [
    InboxController,
    WebhookController,
    list_department_events,
    admin_notification,
    DeadLetterController,
    notification_socket,
]

DOMAIN = Domain(name="notify", routes=lambda settings: ROUTES, jobs=JOBS, goodbye=say_goodbye)

__all__ = ["DOMAIN", "JOBS", "ROUTES"]
