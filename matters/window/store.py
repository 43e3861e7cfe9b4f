"""SQL of window intakes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from api.kernel.db import Conn

INSERT_INTAKE = """
INSERT INTO window_intake (id, department_id, window_label, clerk_account_id, person_id, delegation_id,
                           agent_person_id, ticket_issued_at, opened_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""


async def insert_intake(conn: Conn, **row: Any) -> None:
    await conn.execute(
        INSERT_INTAKE,
        row["id"],
        row["department_id"],
        row["window_label"],
        row["clerk_account_id"],
        row["person_id"],
        row["delegation_id"],
        row["agent_person_id"],
        row["ticket_issued_at"],
        row["opened_at"],
    )


GET_INTAKE = """
SELECT i.*, d.name AS department_name,
       EXISTS (SELECT 1 FROM auth_account a WHERE a.person_id = i.person_id) AS has_app
FROM window_intake i JOIN department d ON d.id = i.department_id
WHERE i.id = $1
"""


async def get_intake(conn: Conn, intake_id: UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    if for_update:
        await conn.execute("SELECT 1 FROM window_intake WHERE id = $1 FOR UPDATE", intake_id)
    return await conn.fetchrow(GET_INTAKE, intake_id)


async def set_consent(conn: Conn, intake_id: UUID, consent_id: UUID | None, *, now: datetime) -> None:
    await conn.execute(
        "UPDATE window_intake SET consent_id = $2, consented_at = $3 WHERE id = $1", intake_id, consent_id, now
    )


async def set_application(conn: Conn, intake_id: UUID, person: UUID, application_id: UUID, *, now: datetime) -> None:
    """The application the visit took, named with the person it is for."""
    await conn.execute(
        "UPDATE window_intake SET for_person_id = $2, application_id = $3, submitted_at = $4 WHERE id = $1",
        intake_id,
        person,
        application_id,
        now,
    )


async def intake_of_application(conn: Conn, application_id: UUID) -> asyncpg.Record | None:
    """The window visit that took this application, if one did."""
    return await conn.fetchrow("SELECT id FROM window_intake WHERE application_id = $1", application_id)
