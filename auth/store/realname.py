"""Real-name sessions and persons: SQL, and binding a verified identity to the account and its person.

The claimed name and ID number are sealed (AES-GCM, contexts below) while a session is open, and
erased when it closes; the person row keeps its own sealed copy and the blind index.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from api.kernel import audit
from api.kernel.crypto import Keyring
from api.kernel.db import Conn, one
from api.kernel.ids import uuid7
from auth import alerts, persons
from auth.errors import RealnamePersonMismatch
from auth.store import accounts as store
from auth.tokens import level_name

SESSION_NAME = "auth_realname_session.name"
SESSION_ID_NUMBER = "auth_realname_session.id_number"
PERSON_NAME = persons.NAME_CONTEXT
PERSON_ID_NUMBER = persons.ID_NUMBER_CONTEXT


class Session(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    account_id: UUID
    method: str
    nonce: str
    name: bytes | None
    id_number: bytes | None
    id_number_index: bytes
    status: str
    created_at: datetime
    expires_at: datetime
    wechat_openid: str | None
    verify_id: str | None
    out_seq_no: str | None
    login_id: UUID | None = None
    id_number_mismatches: int = 0

    def is_open(self, now: datetime) -> bool:
        return self.status == "open" and now < self.expires_at


class Verified(msgspec.Struct, frozen=True, kw_only=True):
    session_id: UUID
    assurance_level: str
    person_id: UUID
    auth_time: datetime


SESSION_COLUMNS = """id, account_id, method, nonce, name, id_number, id_number_index, status, created_at,
    expires_at, wechat_openid, verify_id, out_seq_no, login_id, id_number_mismatches"""
INSERT_SESSION = """
INSERT INTO auth_realname_session (id, account_id, method, nonce, name, id_number, id_number_index, created_at,
    expires_at, wechat_openid, verify_id, out_seq_no, login_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
"""


async def insert_session(conn: Conn, s: Session) -> None:
    await conn.execute(
        INSERT_SESSION,
        s.id,
        s.account_id,
        s.method,
        s.nonce,
        s.name,
        s.id_number,
        s.id_number_index,
        s.created_at,
        s.expires_at,
        s.wechat_openid,
        s.verify_id,
        s.out_seq_no,
        s.login_id,
    )


async def get_session(conn: Conn, session_id: UUID, *, for_update: bool = False) -> Session | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {SESSION_COLUMNS} FROM auth_realname_session WHERE id = $1{lock}", session_id)
    return None if row is None else Session(**dict(row))


async def nonce_used(conn: Conn, nonce: str) -> bool:
    """True when ``nonce`` is the nonce of a session already closed (verified or failed)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM auth_realname_session WHERE nonce = $1 AND status <> 'open')", nonce
        )
    )


FAIL_SESSION = """
UPDATE auth_realname_session
SET status = 'failed', failure_reason = $2, completed_at = $3, name = NULL, id_number = NULL
WHERE id = $1
"""


COUNT_MISMATCH = """
UPDATE auth_realname_session SET id_number_mismatches = id_number_mismatches + 1 WHERE id = $1
RETURNING id_number_mismatches
"""


async def count_id_number_mismatch(conn: Conn, session: Session) -> int:
    """One more ID number keyed in at the window that is not the session's; how many so far."""
    return int(await conn.fetchval(COUNT_MISMATCH, session.id))


async def fail_session(conn: Conn, session: Session, *, reason: str, actor: str, now: datetime) -> None:
    """Close the session as failed and audit the result (caller's transaction)."""
    await conn.execute(FAIL_SESSION, session.id, reason, now)
    await audit.append(
        conn,
        actor=actor,
        action="realname.failed",
        subject=str(session.account_id),
        data={"session": str(session.id), "method": session.method, "reason": reason},
        at=now,
    )


# The ID number is claimed in its index first (auth.persons says why); a known person takes the proven name.
CLAIM_ID_NUMBER = """
INSERT INTO person_id_number (id_number_index, person_id) VALUES ($1, $2)
ON CONFLICT ON CONSTRAINT person_id_number_pkey DO NOTHING
RETURNING person_id
"""
INSERT_PERSON = "INSERT INTO person (id, id_number, id_number_index, name, created_at) VALUES ($1, $2, $3, $4, $5)"
LINK_ACCOUNT = """
UPDATE auth_account
SET person_id = $2,
    verified_at = CASE WHEN $3 >= assurance_level THEN $4 ELSE verified_at END,
    assurance_level = GREATEST(assurance_level, $3)
WHERE id = $1
RETURNING assurance_level, verified_at
"""
VERIFY_SESSION = """
UPDATE auth_realname_session
SET status = 'verified', completed_at = $2, assurance_level = $3, person_id = $4, attested_by = $5,
    attested_department_id = $6, name = NULL, id_number = NULL
WHERE id = $1
"""


async def find_person_id(conn: Conn, id_number_index: bytes) -> UUID | None:
    return await conn.fetchval("SELECT person_id FROM person_id_number WHERE id_number_index = $1", id_number_index)


async def verify_session(
    conn: Conn,
    keyring: Keyring,
    session: Session,
    *,
    level: int,
    actor: str,
    now: datetime,
    login_id: UUID | None,
    base_url: str,
    attested_by: UUID | None = None,
    department_id: UUID | None = None,
) -> Verified:
    """Bind the proven identity: one ID number = one person; raise the account's level; close and audit.

    ``session`` must have been read ``FOR UPDATE`` in this transaction and still be open. The person
    is told that ``login_id`` (the login the proof was made from) is now bound to them, the first
    time too: whoever proved may not be them.
    """
    assert session.name is not None and session.id_number is not None
    name = keyring.decrypt_str(session.name, context=SESSION_NAME)
    id_number = keyring.decrypt_str(session.id_number, context=SESSION_ID_NUMBER)
    account = await store.get_account(conn, session.account_id, for_update=True)
    assert account is not None
    known = await find_person_id(conn, session.id_number_index)
    if account.person_id is not None and account.person_id != known:
        raise RealnamePersonMismatch("this account already proved another identity")
    sealed_name = keyring.encrypt(name, context=PERSON_NAME)
    person_id = await conn.fetchval(CLAIM_ID_NUMBER, session.id_number_index, uuid7())
    if person_id is not None:
        sealed_number = keyring.encrypt(id_number, context=PERSON_ID_NUMBER)
        await conn.execute(INSERT_PERSON, person_id, sealed_number, session.id_number_index, sealed_name, now)
    else:
        person_id = await find_person_id(conn, session.id_number_index)
        await conn.execute("UPDATE person SET name = $2 WHERE id = $1", person_id, sealed_name)
    # The account was locked above.
    row = one(await conn.fetchrow(LINK_ACCOUNT, account.id, person_id, level, now), "linked account")
    await conn.execute(VERIFY_SESSION, session.id, now, level, person_id, attested_by, department_id)
    await audit.append(
        conn,
        actor=actor,
        action="realname.verified",
        subject=str(account.id),
        data={
            "session": str(session.id),
            "method": session.method,
            "level": level_name(level),
            "person": str(person_id),
            "new_person": known is None,
        },
        at=now,
    )
    await alerts.bound(
        conn,
        keyring,
        account_id=account.id,
        person_id=person_id,
        login_id=login_id,
        method=session.method,
        base_url=base_url,
        now=now,
    )
    return Verified(
        session_id=session.id,
        assurance_level=level_name(row["assurance_level"]),
        person_id=person_id,
        auth_time=row["verified_at"],
    )


async def get_person(conn: Conn, person_id: UUID) -> tuple[bytes, bytes] | None:
    """(sealed name, sealed ID number) of a person."""
    row = await conn.fetchrow("SELECT name, id_number FROM person WHERE id = $1", person_id)
    return None if row is None else (row["name"], row["id_number"])
