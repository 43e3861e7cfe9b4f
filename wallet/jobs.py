"""The wallet's background jobs: deriving life events, coming of age, expiry reminders.

- ``wallet.derive`` reads certificates issued and bundles completed since its mark and writes the
  life events they mean (and, for 身后一件事, closes the deceased's wallet and lets the family
  member who applied read it). It re-reads ``MARGIN`` behind its mark, because a row can commit
  after a later one; events are keyed, so a row read twice writes once.
- ``wallet.majority`` gives open guardianships their end on the dependent's 18th birthday.
- ``wallet.expiry`` queues one ``certificate.expiring`` notification per certificate and threshold
  (30, 7, 1 days) on the outbox topic ``notify``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

import auth
from api.kernel import outbox
from api.kernel.db import Conn
from api.kernel.jobs import Job
from wallet import events, people_store, service

MARGIN = timedelta(minutes=10)
PAGE = 500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO = UUID(int=0)


def _clock(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


async def _mark(conn: Conn, name: str) -> datetime:
    return await conn.fetchval("SELECT position FROM wallet_job_mark WHERE name = $1", name) or EPOCH


SET_MARK = """
INSERT INTO wallet_job_mark AS m (name, position) VALUES ($1, $2)
ON CONFLICT ON CONSTRAINT wallet_job_mark_pkey DO UPDATE SET position = greatest(m.position, EXCLUDED.position)
"""


async def _sweep(pool: asyncpg.Pool, name: str, fetch: Any, handle: Any) -> int:
    """Page through rows after ``mark − MARGIN`` by ``(time, id)``; one transaction per page."""
    async with pool.acquire() as conn:
        after = (await _mark(conn, name) - MARGIN, ZERO)
    written = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await fetch(conn, after)
            for row in rows:
                written += await handle(conn, row)
            if rows:
                after = (rows[-1][0], rows[-1][1])
                await conn.execute(SET_MARK, name, after[0])
        if len(rows) < PAGE:
            return written


# --- life events from certificates -----------------------------------------------------------------------

CERTIFICATES = """
SELECT c.created_at, c.id, c.person_id, c.type_code, c.fields, c.issued_at, c.application_id
FROM esign_certificate c
WHERE (c.created_at, c.id) > ($1, $2) AND c.type_code = ANY($3::text[]) AND c.person_id IS NOT NULL
  AND c.status <> 'pending'
ORDER BY c.created_at, c.id
LIMIT $4
"""


async def _certificate_event(conn: Conn, row: asyncpg.Record, now: datetime) -> int:
    event, field = service.CERTIFICATE_EVENTS[row["type_code"]]
    item = await events.add_life_event(
        conn,
        person_id=row["person_id"],
        event=event,
        at=service.event_time(row["fields"], field, row["issued_at"]),
        source="certificate",
        source_id=str(row["id"]),
        now=now,
        certificate_id=row["id"],
        application_id=row["application_id"],
        detail={"type_code": row["type_code"]},
    )
    return item is not None


# --- life events from completed bundles --------------------------------------------------------------------

APPLICATIONS = """
SELECT a.completed_at, a.id, a.bundle_code, a.for_person_id, a.applicant_person_id, a.form, b.subject, p.born_on
FROM application a
JOIN catalog_bundle b ON b.code = a.bundle_code
JOIN person p ON p.id = a.for_person_id
WHERE a.status = 'completed' AND (a.completed_at, a.id) > ($1, $2)
  AND (a.bundle_code = ANY($3::text[]) OR b.subject = 'deceased')
ORDER BY a.completed_at, a.id
LIMIT $4
"""


async def _bundle_event(conn: Conn, state: Any, row: asyncpg.Record, now: datetime) -> int:
    common = {
        "source": "bundle",
        "source_id": str(row["id"]),
        "now": now,
        "application_id": row["id"],
        "bundle_code": row["bundle_code"],
    }
    if row["subject"] == "deceased":
        return await _death(conn, state, row, common)
    event = service.BUNDLE_EVENTS[row["bundle_code"]]
    born: date | None = row["born_on"]
    at = service.day_start(born) if event == "born" and born else row["completed_at"]
    return await events.add_life_event(conn, person_id=row["for_person_id"], event=event, at=at, **common) is not None


async def _death(conn: Conn, state: Any, row: asyncpg.Record, common: dict[str, Any]) -> int:
    """身后一件事 completed: the deceased (named in the form) dies in the wallet; the applicant may read it."""
    form = msgspec.json.decode(state.keyring.decrypt(row["form"], context="application.form"))
    number = form.get("deceased_id_number")
    deceased = await auth.find_person_id(conn, state.keyring, number) if isinstance(number, str) and number else None
    if deceased is None or deceased == row["applicant_person_id"]:
        return 0
    died_on = form.get("died_on")
    at = service.event_time({"died_on": died_on}, "died_on", row["completed_at"])
    item = await events.add_life_event(conn, person_id=deceased, event="died", at=at, **common)
    await events.close(conn, deceased, source=f"bundle:{row['id']}", now=common["now"])
    await people_store.add_family_reader(
        conn, deceased, row["applicant_person_id"], application_id=row["id"], now=common["now"]
    )
    return item is not None


async def derive(state: Any, *, now: datetime | None = None) -> int:
    """One sweep over new certificates and completed bundles; the number of events written."""
    now = _clock(now)
    cert_types = sorted(service.CERTIFICATE_EVENTS)
    bundles = sorted(service.BUNDLE_EVENTS)

    async def certificates(conn: Conn, after: tuple[datetime, UUID]) -> list[asyncpg.Record]:
        return await conn.fetch(CERTIFICATES, *after, cert_types, PAGE)

    async def applications(conn: Conn, after: tuple[datetime, UUID]) -> list[asyncpg.Record]:
        return await conn.fetch(APPLICATIONS, *after, bundles, PAGE)

    written = await _sweep(state.pool, "certificates", certificates, lambda c, r: _certificate_event(c, r, now))
    return written + await _sweep(
        state.pool, "applications", applications, lambda c, r: _bundle_event(c, state, r, now)
    )


async def majority(state: Any, *, now: datetime | None = None) -> int:
    """End guardianships on the dependents' 18th birthdays; how many got their end."""
    async with state.pool.acquire() as conn, conn.transaction():
        return len(await auth.end_guardianships_at_majority(conn))


# --- expiry reminders -----------------------------------------------------------------------------------------

# Certificates (and closures) are placed with their holder, reminders stay on the coordinator: the page is
# read from the holders' shards, and a reminder already queued is skipped where it is marked (MARK_REMINDED).
EXPIRING = """
SELECT c.id, c.person_id, c.type_code, t.name AS type_name, c.valid_until
FROM esign_certificate c JOIN certificate_type t ON t.code = c.type_code
WHERE c.status = 'valid' AND c.valid_until IS NOT NULL
  AND c.valid_until > $1 AND c.valid_until <= $1 + interval '30 days'
  AND ($3::timestamptz IS NULL OR (c.valid_until, c.id) > ($3, $4::uuid))
  AND NOT EXISTS (SELECT 1 FROM wallet_closure w WHERE w.person_id = c.person_id)
ORDER BY c.valid_until, c.id
LIMIT $2
"""

MARK_REMINDED = """
INSERT INTO wallet_expiry_reminder (certificate_id, days, queued_at) VALUES ($1, $2, $3)
ON CONFLICT ON CONSTRAINT wallet_expiry_reminder_pkey DO NOTHING
RETURNING days
"""


async def expiry(state: Any, *, now: datetime | None = None) -> int:
    """Queue reminders for certificates that reached a threshold; how many were queued."""
    now = _clock(now)
    queued = 0
    after: tuple[datetime | None, UUID | None] = (None, None)
    while True:
        async with state.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(EXPIRING, now, PAGE, *after)
            if rows:
                after = (rows[-1]["valid_until"], rows[-1]["id"])
            for r in rows:
                days = service.expiry_threshold(r["valid_until"], now)
                if days is None or await conn.fetchval(MARK_REMINDED, r["id"], days, now) is None:
                    continue
                payload = {
                    "event": "certificate.expiring",
                    "certificate_id": str(r["id"]),
                    "person_id": str(r["person_id"]),
                    "guardian_person_ids": [str(g) for g in await auth.active_guardians(conn, r["person_id"], now=now)],
                    "type_code": r["type_code"],
                    "type_name": r["type_name"],
                    "days": days,
                    "valid_until": r["valid_until"].astimezone(UTC).isoformat(),
                }
                await outbox.enqueue(
                    conn,
                    "notify",
                    payload,
                    dedup_key=f"certificate.expiring:{r['id']}:{days}",
                    partition_key=str(r["person_id"]),
                )
                queued += 1
        if len(rows) < PAGE:
            return queued


JOBS = [
    Job("wallet.derive", derive, every=30),
    Job("wallet.majority", majority, every=3600),
    Job("wallet.expiry", expiry, every=900),
]
