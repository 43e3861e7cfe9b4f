"""Phone numbers people without the app give for text messages (at a service-centre window)."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from auth import PHONE_CONTEXT

MOBILE = re.compile(r"^1[3-9]\d{9}$")

UPSERT = """
INSERT INTO notify_contact_phone (person_id, phone, given_by, given_at) VALUES ($1, $2, $3, $4)
ON CONFLICT ON CONSTRAINT notify_contact_phone_pkey
DO UPDATE SET phone = EXCLUDED.phone, given_by = EXCLUDED.given_by, given_at = EXCLUDED.given_at
"""


async def set_contact_phone(
    conn: Conn, keyring: Keyring, person_id: UUID, phone: str, *, by: str, now: datetime
) -> None:
    """Keep ``phone`` (a mainland mobile number, already checked) for text messages to a person without the app."""
    await conn.execute(UPSERT, person_id, keyring.encrypt(phone, context=PHONE_CONTEXT), by, now)


async def persons_with_phone(conn: Conn, persons: list[UUID]) -> set[UUID]:
    rows = await conn.fetch("SELECT person_id FROM notify_contact_phone WHERE person_id = ANY($1::uuid[])", persons)
    return {r["person_id"] for r in rows}


async def phones(conn: Conn, persons: list[UUID]) -> dict[UUID, bytes]:
    rows = await conn.fetch(
        "SELECT person_id, phone FROM notify_contact_phone WHERE person_id = ANY($1::uuid[])", persons
    )
    return {r["person_id"]: r["phone"] for r in rows}
