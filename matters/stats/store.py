"""Statistics queries over applications, tasks, ratings and rectifications."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from api.kernel.db import Conn

# Each figure reads the applications of the period with what hangs off them (joined through the person they are
# for: one multi-shard query on a cluster, every shard doing its part), then aggregates those rows (the medians
# need them all in one place: on a cluster, the coordinator).

# Applications received in [from, to), grouped by bundle (single matters under a null bundle).
BY_BUNDLE = """
WITH apps AS MATERIALIZED (
    SELECT a.bundle_code, a.status, a.submitted_at, a.completed_at, a.due_at, e.level, r.id AS rect_id,
           r.status AS rect_status,
           EXISTS (SELECT 1 FROM application_task t WHERE t.for_person_id = a.for_person_id AND t.application_id = a.id
                   AND t.overdue_flagged_at IS NOT NULL) AS flagged
    FROM application a
    LEFT JOIN evaluation e ON e.for_person_id = a.for_person_id AND e.application_id = a.id
    LEFT JOIN rectification r ON r.for_person_id = a.for_person_id AND r.application_id = a.id
    WHERE a.submitted_at >= $1 AND a.submitted_at < $2
      AND ($3::text IS NULL OR a.bundle_code = $3)
      AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM application_task t
                                       WHERE t.for_person_id = a.for_person_id AND t.application_id = a.id
                                         AND t.department_id = $4))
)
SELECT a.bundle_code, b.name AS bundle_name,
       count(*) AS received,
       count(*) FILTER (WHERE a.status = 'completed') AS completed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.completed_at - a.submitted_at) / 3600)
           FILTER (WHERE a.status = 'completed') AS median_hours,
       count(*) FILTER (WHERE a.status <> 'withdrawn' AND (a.due_at < coalesce(a.completed_at, $5) OR a.flagged)) AS overdue,
       count(a.level) AS rated,
       count(a.level) FILTER (WHERE a.level >= 4) AS satisfied,
       count(a.rect_id) FILTER (WHERE a.rect_status = 'open') AS bad_ratings_open
FROM apps a
LEFT JOIN catalog_bundle b ON b.code = a.bundle_code
GROUP BY a.bundle_code, b.name
ORDER BY a.bundle_code NULLS LAST
"""

# Tasks started or created for applications received in [from, to), by department.
BY_DEPARTMENT = """
WITH tasks AS MATERIALIZED (
    SELECT t.department_id, t.status, t.started_at, t.decided_at, t.due_at, t.overdue_flagged_at, a.id AS app_id,
           e.level
    FROM application_task t
    JOIN application a ON a.for_person_id = t.for_person_id AND a.id = t.application_id
    LEFT JOIN evaluation e ON e.for_person_id = t.for_person_id AND e.application_id = t.application_id
    WHERE a.submitted_at >= $1 AND a.submitted_at < $2
      AND ($3::text IS NULL OR a.bundle_code = $3)
      AND ($4::uuid IS NULL OR t.department_id = $4)
      AND t.status <> 'cancelled'
),
open_rectifications AS MATERIALIZED (
    SELECT department_id, count(*) AS n FROM rectification WHERE status = 'open' GROUP BY department_id
)
SELECT d.id AS department_id, d.name AS department_name,
       count(*) AS received,
       count(*) FILTER (WHERE t.status IN ('approved', 'rejected')) AS completed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.decided_at - t.started_at) / 3600)
           FILTER (WHERE t.decided_at IS NOT NULL AND t.started_at IS NOT NULL) AS median_hours,
       count(*) FILTER (WHERE t.overdue_flagged_at IS NOT NULL OR t.due_at < coalesce(t.decided_at, $5)) AS overdue,
       count(DISTINCT t.app_id) FILTER (WHERE t.level IS NOT NULL) AS rated,
       count(DISTINCT t.app_id) FILTER (WHERE t.level >= 4) AS satisfied,
       coalesce((SELECT o.n FROM open_rectifications o WHERE o.department_id = d.id), 0) AS bad_ratings_open
FROM tasks t
JOIN department d ON d.id = t.department_id
GROUP BY d.id, d.name
ORDER BY d.name
"""


# The same figures by who the applications were for: citizens, or business entities (经营主体): the person's kind,
# on the application's own shard of a cluster (both are placed by that person).
BY_APPLICANT = """
WITH apps AS MATERIALIZED (
    SELECT p.kind, a.status, a.submitted_at, a.completed_at, a.due_at, e.level, r.id AS rect_id,
           r.status AS rect_status
    FROM application a
    JOIN person p ON p.id = a.for_person_id
    LEFT JOIN evaluation e ON e.for_person_id = a.for_person_id AND e.application_id = a.id
    LEFT JOIN rectification r ON r.for_person_id = a.for_person_id AND r.application_id = a.id
    WHERE a.submitted_at >= $1 AND a.submitted_at < $2
      AND ($3::text IS NULL OR a.bundle_code = $3)
      AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM application_task t
                                       WHERE t.for_person_id = a.for_person_id AND t.application_id = a.id
                                         AND t.department_id = $4))
)
SELECT CASE a.kind WHEN 'organisation' THEN 'enterprise' ELSE 'citizen' END AS applicant,
       count(*) AS received,
       count(*) FILTER (WHERE a.status = 'completed') AS completed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.completed_at - a.submitted_at) / 3600)
           FILTER (WHERE a.status = 'completed') AS median_hours,
       count(*) FILTER (WHERE a.status <> 'withdrawn' AND a.due_at < coalesce(a.completed_at, $5)) AS overdue,
       count(a.level) AS rated,
       count(a.level) FILTER (WHERE a.level >= 4) AS satisfied,
       count(a.rect_id) FILTER (WHERE a.rect_status = 'open') AS bad_ratings_open
FROM apps a
GROUP BY 1
ORDER BY 1
"""
# The bundle whose tasks by department are the time it takes to open a business (企业开办).
OPEN_BUSINESS_BUNDLE = "open_company"


async def by_applicant(
    conn: Conn, *, start: datetime, end: datetime, bundle: str | None, department_id: UUID | None, now: datetime
) -> list[asyncpg.Record]:
    return await conn.fetch(BY_APPLICANT, start, end, bundle, department_id, now)


async def by_bundle(
    conn: Conn, *, start: datetime, end: datetime, bundle: str | None, department_id: UUID | None, now: datetime
) -> list[asyncpg.Record]:
    return await conn.fetch(BY_BUNDLE, start, end, bundle, department_id, now)


async def by_department(
    conn: Conn, *, start: datetime, end: datetime, bundle: str | None, department_id: UUID | None, now: datetime
) -> list[asyncpg.Record]:
    return await conn.fetch(BY_DEPARTMENT, start, end, bundle, department_id, now)


# The service-centre windows: visits opened in [from, to), per centre. Waiting runs from the queue ticket to the
# clerk opening the visit; handling from then to the application's submission.
BY_WINDOW = """
SELECT i.department_id, d.name AS department_name,
       count(*) AS visits,
       count(i.application_id) AS applications_taken,
       count(i.application_id) FILTER (WHERE i.delegation_id IS NOT NULL) AS taken_for_others,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.opened_at - i.ticket_issued_at) / 60)
           FILTER (WHERE i.ticket_issued_at IS NOT NULL) AS median_wait_minutes,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.submitted_at - i.opened_at) / 60)
           FILTER (WHERE i.submitted_at IS NOT NULL) AS median_handling_minutes,
       count(i.ready_at) AS ready_for_pickup,
       count(h.id) AS picked_up,
       count(i.ready_at) FILTER (WHERE h.id IS NULL) AS awaiting_pickup
FROM window_intake i
JOIN department d ON d.id = i.department_id
LEFT JOIN window_handover h ON h.application_id = i.application_id
WHERE i.opened_at >= $1 AND i.opened_at < $2 AND ($3::uuid IS NULL OR i.department_id = $3)
GROUP BY i.department_id, d.name
ORDER BY d.name
"""


async def by_window(conn: Conn, *, start: datetime, end: datetime, department_id: UUID | None) -> list[asyncpg.Record]:
    """The windows' numbers per service centre (综合受理 and 统一窗口出件)."""
    return await conn.fetch(BY_WINDOW, start, end, department_id)
