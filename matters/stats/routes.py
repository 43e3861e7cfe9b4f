"""``GET /v1/admin/stats`` and the operators' dashboard page ``/admin``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, get
from litestar.params import QueryParameter

from api.deps import Db, Now
from api.kernel.problems import Forbidden, Unauthorized, ValidationFailed, problem_responses
from auth import BEARER, CurrentPrincipal
from matters.stats import store
from matters.stats.models import ApplicantStatsRow, BundleStatsRow, DepartmentStatsRow, Stats, WindowStatsRow
from matters.stats.page import admin_page


def _rounded(r: asyncpg.Record) -> dict[str, Any]:
    """A window's row, its averages to one decimal."""
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()}


def _row(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "received": r["received"],
        "completed": r["completed"],
        "completion_rate": round(r["completed"] / r["received"], 4) if r["received"] else None,
        "median_hours": round(r["median_hours"], 2) if r["median_hours"] is not None else None,
        "overdue": r["overdue"],
        "satisfaction": round(r["satisfied"] / r["rated"], 4) if r["rated"] else None,
        "bad_ratings_open": r["bad_ratings_open"],
    }


class StatsController(Controller):
    path = "/v1/admin/stats"
    tags = ["operators"]
    security = BEARER

    @get(
        operation_id="GetStats",
        summary="办件量、办结率、超期、满意度 by bundle and by department",
        description="Applications received in [`from`, `to`) (default: the last 30 days). `overdue` counts what went "
        "past its promised time (working days), finished or not; `satisfaction` is the share of ratings "
        "4–5; `bad_ratings_open` the rectification cases not yet answered. `by_window`: per service centre, the "
        "visits opened at its windows in the period, applications taken (for others: by a 代办人), the "
        "median wait (queue ticket to the clerk) and handling (opening to submission) in minutes, and "
        "the pick-ups (ready, handed over, awaiting). `by_applicant`: the same figures for applications for "
        "citizens and for business entities (经营主体), apart — 好差评 by enterprises among them. "
        "`business_opening`: the tasks of 企业开办一件事 by department, with the median hours each took. "
        "Operators only.",
        responses=problem_responses(ValidationFailed, Forbidden, Unauthorized),
    )
    async def stats(
        self,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
        from_: Annotated[datetime | None, QueryParameter(name="from")] = None,
        to: Annotated[datetime | None, QueryParameter()] = None,
        department_id: Annotated[UUID | None, QueryParameter()] = None,
        bundle: Annotated[str | None, QueryParameter(max_length=64)] = None,
    ) -> Stats:
        principal.require_roles("operator")
        end = to or now
        start = from_ or end - timedelta(days=30)
        if start >= end:
            raise ValidationFailed("`from` must be before `to`")
        async with db.acquire() as conn:
            bundles = await store.by_bundle(
                conn, start=start, end=end, bundle=bundle, department_id=department_id, now=now
            )
            depts = await store.by_department(
                conn, start=start, end=end, bundle=bundle, department_id=department_id, now=now
            )
            windows = await store.by_window(conn, start=start, end=end, department_id=department_id)
            applicants = await store.by_applicant(
                conn, start=start, end=end, bundle=bundle, department_id=department_id, now=now
            )
            opening = await store.by_department(
                conn, start=start, end=end, bundle=store.OPEN_BUSINESS_BUNDLE, department_id=department_id, now=now
            )
        return Stats(
            from_=start,
            to=end,
            by_bundle=[
                BundleStatsRow(bundle_code=r["bundle_code"], bundle_name=r["bundle_name"], **_row(r)) for r in bundles
            ],
            by_department=[
                DepartmentStatsRow(department_id=r["department_id"], department_name=r["department_name"], **_row(r))
                for r in depts
            ],
            by_window=[WindowStatsRow(**_rounded(r)) for r in windows],
            by_applicant=[ApplicantStatsRow(applicant=r["applicant"], **_row(r)) for r in applicants],
            business_opening=[
                DepartmentStatsRow(department_id=r["department_id"], department_name=r["department_name"], **_row(r))
                for r in opening
            ],
        )


ROUTES = [StatsController, admin_page]
