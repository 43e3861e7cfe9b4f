"""Operator statistics: 办件量、办结率、超期、满意度."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec


class StatsRow(msgspec.Struct, frozen=True, kw_only=True):
    received: int
    completed: int
    completion_rate: float | None
    median_hours: float | None
    overdue: int
    # Share of ratings at 4 (满意) or 5 (非常满意); null when nothing was rated.
    satisfaction: float | None
    bad_ratings_open: int


class BundleStatsRow(StatsRow, frozen=True, kw_only=True):
    # null: applications for a single matter rather than a bundle.
    bundle_code: str | None
    bundle_name: str | None


class DepartmentStatsRow(StatsRow, frozen=True, kw_only=True):
    department_id: UUID
    department_name: str


class ApplicantStatsRow(StatsRow, frozen=True, kw_only=True):
    # Applications for citizens, or for business entities (经营主体, applied for acting for one).
    applicant: Literal["citizen", "enterprise"]


class WindowStatsRow(msgspec.Struct, frozen=True, kw_only=True):
    """A service centre's windows: visits opened in the period and what became of them."""

    department_id: UUID
    department_name: str
    visits: int
    applications_taken: int
    # Taken for someone by their 代办人.
    taken_for_others: int
    # From the queue ticket to the clerk opening the visit; null when no ticket times were given.
    median_wait_minutes: float | None
    # From opening the visit to submitting the application.
    median_handling_minutes: float | None
    ready_for_pickup: int
    picked_up: int
    awaiting_pickup: int


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    from_: datetime = msgspec.field(name="from")
    to: datetime
    by_bundle: list[BundleStatsRow]
    by_department: list[DepartmentStatsRow]
    by_window: list[WindowStatsRow] = []
    # 办件量 and 好差评 of citizens and of enterprises, apart.
    by_applicant: list[ApplicantStatsRow] = []
    # 企业开办一件事 by department: its tasks and how long each department took (median hours).
    business_opening: list[DepartmentStatsRow] = []
