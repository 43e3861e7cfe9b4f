"""Telling a person each time a login is bound to their identity, and what their "not me" does.

A login is bound to a verified identity (a person) when an account that has one logs in (SMS,
WeChat), and when a real-name proof gives an account one (window attestation, face verification,
an identity provider's assertion); a refresh binds nothing new. Each time, :func:`bound` keeps an
alert with a one-tap token (only its SHA-256 is stored; it works once, for ``ALERT_TTL``) and emits
``auth.identity_login``: the person's inbox, their SMS and WeChat, with the "not me" link. The link
is a bearer secret: the event carries it sealed (``api.kernel.crypto.PRIVATE_VALUE``), and only the sender
opens it, so neither the outbox, the event stream nor the planned text message holds it in clear.

"Not me" (:func:`report`) ends the login, and when the disputed binding was a real-name proof made
by another account than the reporter's, the proof itself: that account's logins all end and it
loses the identity (back to L1), so whoever proved as the person cannot simply log in again as
them. Either way an identity case opens for the operators.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from api.kernel import audit, outbox
from api.kernel.crypto import PRIVATE_VALUE, Keyring
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from auth.tokens import new_secret, secret_hash

ALERT_TTL = timedelta(days=7)
TOKEN_PREFIX = "zbn_"
# The methods that prove an identity (and bind it); the others are logins of an account that has one.
PROOF_METHODS = frozenset({"counter", "wechat_face", "assertion"})
PAGE_PATH = "/not-me/"


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    login_id: UUID | None
    account_id: UUID
    person_id: UUID
    method: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


class Reported(msgspec.Struct, frozen=True, kw_only=True):
    """What a "not me" did."""

    case_id: UUID
    login_id: UUID | None
    logins_ended: int
    identity_unbound: bool


INSERT_ALERT = """
INSERT INTO auth_login_alert (id, login_id, account_id, person_id, method, token_hash, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""


async def bound(
    conn: Conn,
    keyring: Keyring,
    *,
    account_id: UUID,
    person_id: UUID,
    login_id: UUID | None,
    method: str,
    base_url: str,
    now: datetime,
) -> UUID:
    """Keep an alert for a login bound to ``person_id`` and tell the person (caller's transaction)."""
    token, digest = new_secret(TOKEN_PREFIX)
    alert_id = uuid7()
    await conn.execute(INSERT_ALERT, alert_id, login_id, account_id, person_id, method, digest, now, now + ALERT_TTL)
    await outbox.enqueue(
        conn,
        "notify",
        {
            "event": "auth.identity_login",
            "person_id": str(person_id),
            "account_id": str(account_id),
            "login_id": str(login_id) if login_id else None,
            "alert_id": str(alert_id),
            "method": method,
            "not_me_url": keyring.seal_text(f"{base_url}{PAGE_PATH}{token}", context=PRIVATE_VALUE),
        },
        dedup_key=f"auth.identity_login:{alert_id}",
    )
    return alert_id


ALERT_COLUMNS = "id, login_id, account_id, person_id, method, created_at, expires_at, used_at"


# An alert is placed with its person; its link names neither, so it is found by the token's hash (on a
# cluster, one look on every shard, when a person opens the link), then read (and locked) on the person's shard.
FIND_BY_TOKEN = "SELECT person_id, id FROM auth_login_alert WHERE token_hash = $1"
GET_ALERT = f"SELECT {ALERT_COLUMNS} FROM auth_login_alert WHERE person_id = $1 AND id = $2"


async def get_alert_by_token(conn: Conn, token: str, *, for_update: bool = False) -> Alert | None:
    found = await conn.fetchrow(FIND_BY_TOKEN, secret_hash(token))
    if found is None:
        return None
    row = await conn.fetchrow(GET_ALERT + (" FOR UPDATE" if for_update else ""), found["person_id"], found["id"])
    return None if row is None else Alert(**dict(row))


LATEST_FOR_LOGIN = f"""
SELECT {ALERT_COLUMNS} FROM auth_login_alert WHERE login_id = $1 AND person_id = $2
ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE
"""


async def get_latest_alert_for_login(conn: Conn, login_id: UUID, person_id: UUID) -> Alert | None:
    """The newest alert the person got about the login (locked), or None when it never concerned them."""
    row = await conn.fetchrow(LATEST_FOR_LOGIN, login_id, person_id)
    return None if row is None else Alert(**dict(row))


REVOKE_LOGIN = """
UPDATE auth_refresh_family SET revoked_at = $2, revoked_reason = 'not_me' WHERE id = $1 AND revoked_at IS NULL
"""
REVOKE_ACCOUNT_LOGINS = """
UPDATE auth_refresh_family SET revoked_at = $2, revoked_reason = 'not_me' WHERE account_id = $1 AND revoked_at IS NULL
"""
UNBIND_ACCOUNT = """
UPDATE auth_account SET person_id = NULL, assurance_level = 1, verified_at = NULL WHERE id = $1 AND person_id = $2
"""
MARK_USED = "UPDATE auth_login_alert SET used_at = $3 WHERE person_id = $1 AND id = $2 AND used_at IS NULL"
CASE_OF_ALERT = "SELECT id, login_id, identity_unbound FROM auth_identity_case WHERE person_id = $1 AND alert_id = $2"
INSERT_CASE = """
INSERT INTO auth_identity_case (id, alert_id, person_id, account_id, login_id, method, reported_via, reported_by,
    identity_unbound, opened_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def report(
    conn: Conn,
    alert: Alert,
    *,
    via: str,
    reported_by: UUID | None,
    actor: str,
    client_address: str | None,
    now: datetime,
) -> Reported:
    """End the login of ``alert`` (and a disputed proof's binding), open a case; a second report answers the first."""
    known = await conn.fetchrow(CASE_OF_ALERT, alert.person_id, alert.id)
    if known is not None:
        return Reported(
            case_id=known["id"], login_id=known["login_id"], logins_ended=0, identity_unbound=known["identity_unbound"]
        )
    # A proof made by another account than the reporter's is what is disputed, not only one login.
    unbind = alert.method in PROOF_METHODS and reported_by != alert.account_id
    if unbind or alert.login_id is None:
        ended = _count(await conn.execute(REVOKE_ACCOUNT_LOGINS, alert.account_id, now))
    else:
        ended = _count(await conn.execute(REVOKE_LOGIN, alert.login_id, now))
    unbound = unbind and _count(await conn.execute(UNBIND_ACCOUNT, alert.account_id, alert.person_id)) == 1
    await conn.execute(MARK_USED, alert.person_id, alert.id, now)
    case_id = uuid7()
    await conn.execute(
        INSERT_CASE,
        case_id,
        alert.id,
        alert.person_id,
        alert.account_id,
        alert.login_id,
        alert.method,
        via,
        reported_by,
        unbound,
        now,
    )
    await audit.append(
        conn,
        actor=actor,
        action="auth.not_me",
        subject=str(alert.account_id),
        data={
            "case": str(case_id),
            "alert": str(alert.id),
            "login": str(alert.login_id) if alert.login_id else None,
            "method": alert.method,
            "via": via,
            "logins_ended": ended,
            "identity_unbound": unbound,
        },
        client_address=client_address,
        at=now,
    )
    await outbox.enqueue(
        conn,
        "notify",
        {"event": "identity_case.opened", "case_id": str(case_id)},
        dedup_key=f"identity_case.opened:{case_id}",
    )
    return Reported(case_id=case_id, login_id=alert.login_id, logins_ended=ended, identity_unbound=unbound)
