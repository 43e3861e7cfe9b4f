"""Ended logins and revoked department clients: their access tokens stop working within seconds.

An access token is a signed JWT, checked without a database read for its 15 minutes. A login ends
when its refresh family is revoked (logout, or a refresh token presented twice: someone else holds
a copy). Each server process keeps the set of families revoked within the last access-token
lifetime (a week for operator logins, whose tokens live that long) and refuses their tokens. It reads the set from PostgreSQL again at most every
``REFRESH`` seconds, so another process's logout takes effect within that, and at once after one
this process handled (``stale``).

A 经办人's token acting for a business entity names the authorisation it rests on (``dlg``); the same
set holds the authorisations revoked within an access token's life, so revoking one ends its agent's
acting token as fast as a logout ends a login's — without a database read per request, which an
authorisation row looked up on every use of an entity's routes would cost.

A 法定代表人's acting token rests on the registry naming them; when a later 营业执照 names another
(``org_entity.legal_rep_changed_at``), the set holds the entity for an access token's life, and a legal
representative's token for it is checked against the registry again — one read, for those entities only — so the
one named before is refused from their next request on, while the new one is served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from auth.keys import ACCESS_TTL
from auth.operator import MAX_TTL as OPERATOR_MAX_TTL
from auth.tokens import LEEWAY

log = logging.getLogger("zhangban.auth")

REFRESH = 2.0
# Logins ended within an access token's life, and operator logins ended within an operator token's
# longer life (auth/operator.py; few, with their own partial index).
RECENT = """
SELECT id FROM auth_refresh_family WHERE revoked_at > $1
UNION
SELECT id FROM auth_refresh_family WHERE method = 'operator' AND revoked_at > $2
"""
# Department clients revoked within an access token's life: their client-credentials tokens.
RECENT_CLIENTS = "SELECT id FROM auth_client WHERE revoked_at > $1"
# 经办人 authorisations revoked within an access token's life (partial index delegation_revoked_at_idx).
RECENT_DELEGATIONS = "SELECT id FROM delegation WHERE revoked_at > $1"
# Entities whose registry named another legal representative within an access token's life.
RECENT_REP_CHANGES = "SELECT id FROM org_entity WHERE legal_rep_changed_at > $1"
STILL_LEGAL_REP = """
SELECT 1 FROM org_entity o JOIN person_id_number n ON n.id_number_index = o.legal_rep_index
WHERE o.id = $1 AND n.person_id = $2
"""


class RevokedLogins:
    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.ids: frozenset[UUID] = frozenset()
        self.clients: frozenset[UUID] = frozenset()
        self.delegations: frozenset[UUID] = frozenset()
        self.rep_changes: frozenset[UUID] = frozenset()
        self.loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def stale(self) -> None:
        """Read the set again before the next check (this process just revoked a login)."""
        self.loaded_at = float("-inf")

    async def contains(self, family_id: UUID, *, now: datetime) -> bool:
        if time.monotonic() - self.loaded_at > REFRESH:
            await self._reload(now)
        return family_id in self.ids

    async def contains_client(self, client_id: UUID, *, now: datetime) -> bool:
        """Whether the department client was revoked (its tokens are refused)."""
        if time.monotonic() - self.loaded_at > REFRESH:
            await self._reload(now)
        return client_id in self.clients

    async def contains_delegation(self, delegation_id: UUID, *, now: datetime) -> bool:
        """Whether the authorisation a 经办人's token rests on was revoked (the token is refused)."""
        if time.monotonic() - self.loaded_at > REFRESH:
            await self._reload(now)
        return delegation_id in self.delegations

    async def contains_former_legal_rep(self, org_id: UUID, person_id: UUID | None, *, now: datetime) -> bool:
        """Whether the registry no longer names ``person_id`` as the entity's legal representative; read only for
        entities whose legal representative changed recently (the token is then refused)."""
        if time.monotonic() - self.loaded_at > REFRESH:
            await self._reload(now)
        if org_id not in self.rep_changes:
            return False
        async with self.pool.acquire() as conn:
            return await conn.fetchval(STILL_LEGAL_REP, org_id, person_id) is None

    async def _reload(self, now: datetime) -> None:
        async with self._lock:
            if time.monotonic() - self.loaded_at <= REFRESH:
                return  # another request read it while this one waited
            since = now - timedelta(seconds=ACCESS_TTL + LEEWAY)
            operators_since = now - timedelta(seconds=OPERATOR_MAX_TTL + LEEWAY)
            try:
                async with self.pool.acquire() as conn:
                    rows = await conn.fetch(RECENT, since, operators_since)
                    clients = await conn.fetch(RECENT_CLIENTS, since)
                    delegations = await conn.fetch(RECENT_DELEGATIONS, since)
                    rep_changes = await conn.fetch(RECENT_REP_CHANGES, since)
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                # The database is away: keep the last set rather than refuse every request.
                log.warning(
                    "could not read revoked logins (%s); keeping the last %d", type(exc).__name__, len(self.ids)
                )
            else:
                self.ids = frozenset(r["id"] for r in rows)
                self.clients = frozenset(r["id"] for r in clients)
                self.delegations = frozenset(r["id"] for r in delegations)
                self.rep_changes = frozenset(r["id"] for r in rep_changes)
            self.loaded_at = time.monotonic()
