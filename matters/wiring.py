"""How ``api/app.py`` plugs matters in: the catalogue, applications and their handling, feedback,
statistics and the service window."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Tag

from api.kernel.domain import Domain
from matters.applications.routes import ROUTES as APPLICATION_ROUTES
from matters.feedback.routes import ROUTES as FEEDBACK_ROUTES
from matters.jobs import JOBS
from matters.routes import ROUTES as MATTER_ROUTES
from matters.stats.routes import ROUTES as STATS_ROUTES
from matters.window.routes import ROUTES as WINDOW_ROUTES

TAGS = [
    Tag(name="catalogue", description="Matters (事项), bundles (一件事) and certificate types"),
    Tag(name="applications", description="Applying for a bundle or a matter, its tasks, timeline and rating"),
    Tag(name="department tasks", description="Department handling (分类审批): claim, approve, reject, 补正"),
    Tag(name="feedback", description="请你来找茬: complaints, suggestions and error reports"),
]

ROUTES: list[Any] = [*MATTER_ROUTES, *APPLICATION_ROUTES, *FEEDBACK_ROUTES, *STATS_ROUTES, *WINDOW_ROUTES]

DOMAIN = Domain(name="matters", routes=lambda settings: ROUTES, jobs=JOBS, tags=TAGS)

__all__ = ["DOMAIN", "JOBS", "ROUTES", "TAGS"]
