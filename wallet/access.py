"""Whose wallet the caller may open, and how far.

- ``self``: one's own wallet;
- ``guardian``: a dependent's (an active guardianship, the child under 18 unless a department kept
  it past majority) — guardians read and act for their dependents;
- ``family``: the closed wallet of a deceased person, for the family member who applied for
  身后一件事 — read only.

Anyone else is told the wallet does not exist (404), as for any id the caller may not know.
Sensitive values are shown in full only to the holder or a guardian at L3 proven within
``RECENT_SECONDS``; writes (consents, presentations) need that too, and an open wallet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

import auth
from api.kernel.db import Conn
from auth import LEVELS, AssuranceRequired
from wallet import people_store
from wallet.errors import IdentityRequired, WalletClosed, WalletNotFound
from wallet.service import RECENT_SECONDS, SENSITIVE_LEVEL


class Actor(Protocol):
    """The principal-like values the wallet needs (``auth.guards.Principal`` is one)."""

    @property
    def account_id(self) -> UUID | None: ...
    @property
    def person_id(self) -> UUID | None: ...
    @property
    def assurance_level(self) -> int: ...
    @property
    def auth_time(self) -> datetime: ...
    @property
    def subject(self) -> str: ...


@dataclass(frozen=True)
class Access:
    """Who may open the wallet and how far. Whether it is closed is asked only where it matters
    (``act_for``, the timeline, the export), so reading one's own wallet costs no query here."""

    person_id: UUID
    role: Literal["self", "guardian", "family"]
    full_view: bool


def recently_assured(actor: Actor, now: datetime) -> bool:
    fresh = (now - actor.auth_time).total_seconds() <= RECENT_SECONDS
    return actor.assurance_level >= LEVELS[SENSITIVE_LEVEL] and fresh


def require_recent_l3(actor: Actor, now: datetime) -> None:
    """403 ``assurance_required`` unless the actor proved L3 within ``RECENT_SECONDS``."""
    if not recently_assured(actor, now):
        raise AssuranceRequired(
            f"requires assurance {SENSITIVE_LEVEL} proven within {RECENT_SECONDS}s",
            required_level=SENSITIVE_LEVEL,
            max_age_seconds=RECENT_SECONDS,
        )


def me(actor: Actor) -> UUID:
    """The actor's own person; 403 ``identity_required`` for logins without a verified identity."""
    if actor.account_id is None or actor.person_id is None:
        raise IdentityRequired("the wallet belongs to a person: complete 实人认证 first")
    return actor.person_id


async def open_wallet(conn: Conn, actor: Actor, person_id: UUID | None, *, now: datetime) -> Access:
    """The caller's access to ``person_id``'s wallet (their own when None)."""
    mine = me(actor)
    target = person_id or mine
    role: Literal["self", "guardian", "family"]
    if target == mine:
        role = "self"
    elif await auth.is_active_guardian(conn, mine, target, now=now):
        role = "guardian"
    elif await people_store.closed_at(conn, target) is not None and await people_store.is_family_reader(
        conn, target, mine
    ):
        role = "family"
    else:
        raise WalletNotFound()
    full = role != "family" and recently_assured(actor, now)
    return Access(person_id=target, role=role, full_view=full)


async def act_for(conn: Conn, actor: Actor, person_id: UUID, *, now: datetime) -> Access:
    """Access to write for ``person_id``: holder or guardian, L3 recently, the wallet open."""
    access = await open_wallet(conn, actor, person_id, now=now)
    if access.role == "family":
        raise WalletClosed("a deceased person's wallet is read only")
    require_recent_l3(actor, now)
    if await people_store.closed_at(conn, access.person_id) is not None:
        raise WalletClosed()
    return access
