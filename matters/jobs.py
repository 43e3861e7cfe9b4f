"""电子监察: the periodic sweep that flags tasks past their promised time limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.kernel import outbox
from api.kernel.jobs import Job
from matters.applications import store


async def flag_overdue(state: Any, *, now: datetime | None = None) -> int:
    """Flag each open task past its due time once, tell its department and the operators."""
    now = now or datetime.now(UTC)
    async with state.pool.acquire() as conn, conn.transaction():
        flagged = await store.flag_overdue(conn, now=now)
        for t in flagged:
            await store.add_event(
                conn,
                t["for_person_id"],
                t["application_id"],
                at=now,
                event="task_overdue",
                actor="system",
                detail={"matter_code": t["matter_code"], "due_at": t["due_at"].isoformat()},
            )
            await outbox.enqueue(
                conn,
                "notify",
                {
                    "event": "task.overdue",
                    "task_id": str(t["id"]),
                    "application_id": str(t["application_id"]),
                    "matter_code": t["matter_code"],
                    "department_id": str(t["department_id"]),
                    "due_at": t["due_at"].isoformat(),
                },
                dedup_key=f"task.overdue:{t['id']}",
                partition_key=str(t["department_id"]),
            )
    return len(flagged)


JOBS = [Job("matters.flag_overdue", flag_overdue, every=60)]
