"""代办 authorisations: give, list, revoke, and use — each in the caller's transaction, audited.

The model is the one an enterprise's 经办人 needs too: the principal is a person *or an organisation*
(``principal_kind``), the agent always a person; the scope names matters (a bundle's code covers its
matters; ``*`` every one) and actions; the authorisation expires and can be revoked; every use — and
every refused attempt — is logged for both sides to read.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

import wallet
from api.kernel import audit
from api.kernel.crypto import Keyring, mask_id_number, mask_name
from api.kernel.db import Conn
from api.kernel.identifiers import id_number_error, normalize_id_number
from api.kernel.ids import uuid7
from api.kernel.problems import FieldError, Problem
from auth import persons
from auth.delegation import service, store
from auth.delegation.errors import (
    DelegationAgentMismatch,
    DelegationInactive,
    DelegationInvalid,
    DelegationNotFound,
)
from auth.delegation.models import (
    Agent,
    CreateDelegation,
    Delegation,
    DelegationStatus,
    DelegationUse,
    Principal,
)

# How the principal reads a use in their access log.
PURPOSES = {
    "apply": "代办人代为申请",
    "supplement": "代办人代为补正",
    "collect": "代办人代为领取",
    "act_as": "代办人切换为代您办理",
}


async def _view(conn: Conn, keyring: Keyring, row: asyncpg.Record, *, now: datetime) -> Delegation:
    principal_name = await persons.get_name(conn, keyring, row["principal_id"]) or ""
    agent_name = await persons.get_name(conn, keyring, row["agent_person_id"]) or ""
    agent_number = await persons.get_id_number(conn, keyring, row["agent_person_id"]) or ""
    return Delegation(
        id=row["id"],
        # An entity's registered name is public registry data; a person's is masked.
        principal=Principal(
            kind=row["principal_kind"],
            id=row["principal_id"],
            name_masked=principal_name if row["principal_kind"] == "organisation" else mask_name(principal_name),
        ),
        agent=Agent(
            person_id=row["agent_person_id"],
            name_masked=mask_name(agent_name),
            id_number_masked=mask_id_number(agent_number),
        ),
        matters=list(row["matters"]),
        actions=list(row["actions"]),
        note=row["note"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        status=service.status(expires_at=row["expires_at"], revoked_at=row["revoked_at"], now=now),
        uses=row["uses"],
    )


async def create(
    conn: Conn,
    keyring: Keyring,
    *,
    principal_kind: str,
    principal_id: UUID,
    actor: str,
    data: CreateDelegation,
    now: datetime,
) -> Delegation:
    """Authorise a person (found or recorded by ID number and name) to act for the principal."""
    errors = []
    if error := id_number_error(data.agent.id_number, today=now.date()):
        errors.append(FieldError("agent.id_number", error))
    if not now < data.expires_at <= now + service.MAX_LIFETIME:
        errors.append(FieldError("expires_at", "must be in the future and at most a year ahead"))
    codes = [c for c in data.matters if c != service.EVERY_MATTER]
    known = {
        r["code"]
        for r in await conn.fetch(
            "SELECT code FROM catalog_matter WHERE code = ANY($1::text[]) UNION "
            "SELECT code FROM catalog_bundle WHERE code = ANY($1::text[])",
            codes,
        )
    }
    errors += [
        FieldError(f"matters[{i}]", "no such matter or bundle")
        for i, c in enumerate(data.matters)
        if c != service.EVERY_MATTER and c not in known
    ]
    if errors:
        raise DelegationInvalid(errors=errors)
    agent = await persons.find_person_id(conn, keyring, data.agent.id_number)
    if agent is not None:
        await persons.check_person_name(conn, keyring, agent, data.agent.name, field="agent.name")
    else:
        agent = await persons.find_or_create_person(
            conn, keyring, id_number=data.agent.id_number, name=data.agent.name, now=now
        )
    if principal_kind == "person" and agent == principal_id:
        raise DelegationInvalid(errors=[FieldError("agent.id_number", "one cannot be one's own agent")])
    delegation_id = uuid7()
    await store.insert_delegation(
        conn,
        id=delegation_id,
        principal_kind=principal_kind,
        principal_id=principal_id,
        agent_person_id=agent,
        matters=sorted(set(data.matters)),
        actions=sorted(set(data.actions)),
        note=data.note,
        created_by=actor,
        created_at=now,
        expires_at=data.expires_at,
    )
    await audit.append(
        conn,
        actor=actor,
        action="delegation.created",
        subject=f"delegation:{delegation_id}",
        data={
            "principal": f"{principal_kind}:{principal_id}",
            "agent": str(agent),
            "matters": sorted(set(data.matters)),
            "actions": sorted(set(data.actions)),
            "expires_at": data.expires_at.isoformat(),
        },
        at=now,
    )
    return await get(conn, keyring, delegation_id, person_id=principal_id, now=now)


async def get(
    conn: Conn, keyring: Keyring, delegation_id: UUID, *, person_id: UUID | None, now: datetime
) -> Delegation:
    """One authorisation, for its principal or its agent (anyone else: not found)."""
    row = await store.get_delegation(conn, delegation_id)
    if row is None or person_id not in (row["principal_id"], row["agent_person_id"]):
        raise DelegationNotFound()
    return await _view(conn, keyring, row, now=now)


async def list_for_person(
    conn: Conn, keyring: Keyring, person_id: UUID, *, before: UUID | None, limit: int, now: datetime
) -> list[Delegation]:
    rows = await store.list_for_person(conn, person_id, before=before, limit=limit)
    return [await _view(conn, keyring, r, now=now) for r in rows]


async def revoke(
    conn: Conn, keyring: Keyring, delegation_id: UUID, *, person_id: UUID, actor: str, now: datetime
) -> Delegation:
    """End an authorisation at once (its principal); revoking again changes nothing."""
    row = await store.get_delegation(conn, delegation_id, principal_id=person_id, for_update=True)
    if row is None or row["principal_id"] != person_id:
        raise DelegationNotFound()
    if row["revoked_at"] is None:
        await store.revoke_delegation(conn, delegation_id, person_id, now=now)
        await audit.append(
            conn,
            actor=actor,
            action="delegation.revoked",
            subject=f"delegation:{delegation_id}",
            data={"principal": f"{row['principal_kind']}:{person_id}"},
            at=now,
        )
    return await get(conn, keyring, delegation_id, person_id=person_id, now=now)


async def uses(
    conn: Conn, delegation_id: UUID, *, person_id: UUID, before: int | None, limit: int
) -> list[tuple[int, DelegationUse]]:
    """The log of an authorisation's uses, for its principal or its agent."""
    row = await store.get_delegation(conn, delegation_id)
    if row is None or person_id not in (row["principal_id"], row["agent_person_id"]):
        raise DelegationNotFound()
    return [
        (
            r["id"],
            DelegationUse(
                at=r["at"],
                action=r["action"],
                outcome=r["outcome"],
                reason=r["reason"],
                matter_code=r["matter_code"],
                application_id=r["application_id"],
                department_id=r["department_id"],
                actor=r["actor"],
            ),
        )
        for r in await store.list_uses(conn, delegation_id, row["principal_id"], before=before, limit=limit)
    ]


async def active_grant(
    conn: Conn, *, principal_kind: str, principal_id: UUID, agent_person_id: UUID, now: datetime
) -> asyncpg.Record:
    """The agent's active authorisation from the principal; not found when there never was one,
    ``delegation_inactive`` when it expired or was revoked (the agent knows of it: it was shown to both)."""
    row = await store.latest_for_agent(conn, principal_kind, principal_id, agent_person_id, now=now)
    if row is None:
        raise DelegationNotFound()
    state = service.status(expires_at=row["expires_at"], revoked_at=row["revoked_at"], now=now)
    if state is not DelegationStatus.ACTIVE:
        raise DelegationInactive(f"the authorisation is {state}", reason=str(state))
    return row


async def use(
    conn: Conn,
    keyring: Keyring,
    delegation_id: UUID,
    *,
    principal_kind: str,
    principal_id: UUID,
    agent_id_number: str,
    action: str,
    matter_codes: list[str] | None,
    department_id: UUID | None,
    actor: str,
    application_id: UUID | None = None,
    now: datetime,
) -> Problem | None:
    """Check and log one use: None when served, else the problem to raise *after* the caller commits (the refused
    attempt stays in the log). ``agent_id_number`` is the number read from the card of the person acting."""
    row = await store.get_delegation(conn, delegation_id, principal_id=principal_id)
    if row is None or row["principal_kind"] != principal_kind or row["principal_id"] != principal_id:
        raise DelegationNotFound()
    refusal: Problem | None = None
    if persons.id_number_index(keyring, normalize_id_number(agent_id_number)) != await conn.fetchval(
        "SELECT id_number_index FROM person WHERE id = $1", row["agent_person_id"]
    ):
        refusal = DelegationAgentMismatch("the person acting is not the authorised agent")
    else:
        try:
            service.check(
                expires_at=row["expires_at"],
                revoked_at=row["revoked_at"],
                matters=list(row["matters"]),
                actions=list(row["actions"]),
                matter_codes=matter_codes,
                action=action,
                now=now,
            )
        except Problem as exc:
            refusal = exc
    await store.log_use(
        conn,
        delegation_id,
        principal_id,
        action=action,
        outcome="refused" if refusal else "served",
        reason=refusal.slug if refusal else None,
        matter_code=matter_codes[0] if matter_codes else None,
        application_id=application_id,
        department_id=department_id,
        actor=actor,
        now=now,
    )
    await _logged(
        conn,
        row,
        action=action,
        refusal=refusal,
        matter_codes=matter_codes,
        application_id=application_id,
        department_id=department_id,
        actor=actor,
        now=now,
    )
    return refusal


async def _logged(
    conn: Conn,
    row: asyncpg.Record,
    *,
    action: str,
    refusal: Problem | None,
    matter_codes: list[str] | None,
    application_id: UUID | None,
    department_id: UUID | None,
    actor: str,
    now: datetime,
) -> None:
    """Audit a use (or a refused attempt) and show it in a person principal's access log."""
    await audit.append(
        conn,
        actor=actor,
        action="delegation.used" if refusal is None else "delegation.refused",
        subject=f"delegation:{row['id']}",
        data={
            "action": action,
            "matters": matter_codes,
            "reason": refusal.slug if refusal else None,
            "application": str(application_id) if application_id else None,
        },
        at=now,
    )
    if row["principal_kind"] == "person":
        what = PURPOSES.get(action, action) + (f"（{matter_codes[0]}）" if matter_codes and matter_codes[0] else "")
        await wallet.record_agent_use(
            conn,
            person_id=row["principal_id"],
            delegation_id=row["id"],
            department_id=department_id,
            actor=actor,
            purpose=what,
            outcome="refused" if refusal else "served",
            reason=refusal.slug if refusal else None,
            now=now,
        )


async def switch(
    conn: Conn, *, principal_kind: str, principal_id: UUID, agent_person_id: UUID, actor: str, now: datetime
) -> tuple[asyncpg.Record | None, Problem | None]:
    """A 代办人 switches to acting for the principal in the app: the active authorisation, or the problem to raise
    *after* the caller commits (an expired or revoked one: the refused attempt stays in the logs). Logged as a use
    (``act_as``) either way; none at all → not found."""
    row = await store.latest_for_agent(conn, principal_kind, principal_id, agent_person_id, now=now)
    if row is None:
        raise DelegationNotFound()
    state = service.status(expires_at=row["expires_at"], revoked_at=row["revoked_at"], now=now)
    refusal = (
        None
        if state is DelegationStatus.ACTIVE
        else DelegationInactive(f"the authorisation is {state}", reason=str(state))
    )
    await store.log_use(
        conn,
        row["id"],
        principal_id,
        action="act_as",
        outcome="refused" if refusal else "served",
        reason=refusal.slug if refusal else None,
        matter_code=None,
        application_id=None,
        department_id=None,
        actor=actor,
        now=now,
    )
    await _logged(
        conn,
        row,
        action="act_as",
        refusal=refusal,
        matter_codes=None,
        application_id=None,
        department_id=None,
        actor=actor,
        now=now,
    )
    return (None if refusal else row), refusal
