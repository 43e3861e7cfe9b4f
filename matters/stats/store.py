"""Statistics queries over applications, tasks, ratings and rectifications."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from api.kernel.db import Conn

# Applications received in [from, to), grouped by bundle (single matters under a null bundle).
BY_BUNDLE = """
WITH apps AS (
    SELECT a.* FROM application a
    WHERE a.submitted_at >= $1 AND a.submitted_at < $2
      AND ($3::text IS NULL OR a.bundle_code = $3)
      AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM application_task t WHERE t.application_id = a.id AND t.department_id = $4))
)
SELECT a.bundle_code, b.name AS bundle_name,
       count(*) AS received,
       count(*) FILTER (WHERE a.status = 'completed') AS completed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.completed_at - a.submitted_at) / 3600)
           FILTER (WHERE a.status = 'completed') AS median_hours,
       count(*) FILTER (WHERE a.status <> 'withdrawn' AND (a.due_at < coalesce(a.completed_at, $5) OR EXISTS (
           SELECT 1 FROM application_task t WHERE t.application_id = a.id AND t.overdue_flagged_at IS NOT NULL))) AS overdue,
       count(e.level) AS rated,
       count(e.level) FILTER (WHERE e.level >= 4) AS satisfied,
       count(r.id) FILTER (WHERE r.status = 'open') AS bad_ratings_open
FROM apps a
LEFT JOIN catalog_bundle b ON b.code = a.bundle_code
LEFT JOIN evaluation e ON e.application_id = a.id
LEFT JOIN rectification r ON r.application_id = a.id
GROUP BY a.bundle_code, b.name
ORDER BY a.bundle_code NULLS LAST
"""

# Tasks started or created for applications received in [from, to), by department.
BY_DEPARTMENT = """
WITH tasks AS (
    SELECT t.*, a.id AS app_id FROM application_task t JOIN application a ON a.id = t.application_id
    WHERE a.submitted_at >= $1 AND a.submitted_at < $2
      AND ($3::text IS NULL OR a.bundle_code = $3)
      AND ($4::uuid IS NULL OR t.department_id = $4)
      AND t.status <> 'cancelled'
)
SELECT d.id AS department_id, d.name AS department_name,
       count(*) AS received,
       count(*) FILTER (WHERE t.status IN ('approved', 'rejected')) AS completed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.decided_at - t.started_at) / 3600)
           FILTER (WHERE t.decided_at IS NOT NULL AND t.started_at IS NOT NULL) AS median_hours,
       count(*) FILTER (WHERE t.overdue_flagged_at IS NOT NULL OR t.due_at < coalesce(t.decided_at, $5)) AS overdue,
       count(DISTINCT t.app_id) FILTER (WHERE e.level IS NOT NULL) AS rated,
       count(DISTINCT t.app_id) FILTER (WHERE e.level >= 4) AS satisfied,
       (SELECT count(*) FROM rectification r WHERE r.department_id = d.id AND r.status = 'open') AS bad_ratings_open
FROM tasks t
JOIN department d ON d.id = t.department_id
LEFT JOIN evaluation e ON e.application_id = t.app_id
GROUP BY d.id, d.name
ORDER BY d.name
"""


# The same figures by who the applications were for: citizens, or business entities (经营主体, those with an
# org_entity row; read there rather than from the person, which a cluster keeps on another node).
BY_APPLICANT = """
WITH apps AS (
    SELECT a.*, CASE WHEN o.id IS NULL THEN 'person' ELSE 'organisation' END AS kind
    FROM application a LEFT JOIN org_entity o ON o.id = a.for_person_id
    WHERE a.submitted_at >= $1 AND a.submitted_at < $2
      AND ($3::text IS NULL OR a.bundle_code = $3)
      AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM application_task t WHERE t.application_id = a.id AND t.department_id = $4))
)
SELECT CASE a.kind WHEN 'organisation' THEN 'enterprise' ELSE 'citizen' END AS applicant,
       count(*) AS received,
       count(*) FILTER (WHERE a.status = 'completed') AS completed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.completed_at - a.submitted_at) / 3600)
           FILTER (WHERE a.status = 'completed') AS median_hours,
       count(*) FILTER (WHERE a.status <> 'withdrawn' AND a.due_at < coalesce(a.completed_at, $5)) AS overdue,
       count(e.level) AS rated,
       count(e.level) FILTER (WHERE e.level >= 4) AS satisfied,
       count(r.id) FILTER (WHERE r.status = 'open') AS bad_ratings_open
FROM apps a
LEFT JOIN evaluation e ON e.application_id = a.id
LEFT JOIN rectification r ON r.application_id = a.id
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
