"""How ``api/app.py`` plugs offline sync in: its routes and its compaction job."""

from __future__ import annotations

from api.kernel.domain import Domain
from sync.jobs import JOBS
from sync.routes import ROUTES

DOMAIN = Domain(name="sync", routes=lambda settings: ROUTES, jobs=JOBS)

__all__ = ["DOMAIN", "JOBS", "ROUTES"]
