"""How ``api/app.py`` plugs the wallet in: its routes and its jobs."""

from __future__ import annotations

from api.kernel.domain import Domain
from wallet.jobs import JOBS
from wallet.routes import ROUTES

DOMAIN = Domain(name="wallet", routes=lambda settings: ROUTES, jobs=JOBS)

__all__ = ["DOMAIN", "JOBS", "ROUTES"]
