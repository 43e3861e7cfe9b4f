"""Authority (权责清单): which department may act at all, as the catalogue lists its powers.

A role or scope says what kind of act a caller may perform; authority says whether the caller's
*department* may perform it. Every department write route asks, after the role check::

    department_id = principal.require_staff("clerk", scope="records:write")
    await authority.require(db, department_id, authority.record(data.kind), actor=principal.subject)

``require`` takes the pool or a connection (inside or outside a transaction) and raises 403
``authority_required`` naming the missing power. The refusal is audited by :func:`audit_refusal`
(an ``after_exception`` hook) in a transaction of its own, so it stays when the request's rolls back.

Powers are strings:

- ``record:<kind>`` push records of this kind (社保缴费 → 人社局, 公积金 → 公积金中心 ...);
- ``life_event:<event>`` declare this life event (``died``: 公安, 卫健, 民政 ...);
- ``guardianship`` set or end guardianships (民政, 法院; 公安 as part of 出生登记);
- ``realname_proofing`` attest a real-name check at the department's windows;
- ``window_intake`` take applications for citizens at its service-centre windows (综合受理) and hand results over;
- ``certificate:<type code>`` issue and revoke certificates of the type (its ``issuer_department_ids``);
- ``certificate:*`` issue some certificate type at all (keep seals);
- ``matter:<code>`` handle the matter's tasks (the matter's department).

The first five are the department's authority document (``GET``/``PUT
/v1/admin/departments/{id}/authority``); the last three are read from the certificate types and
matters, so there is one place each is stated.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, TypeAlias
from uuid import UUID

import asyncpg
import msgspec
from litestar import Request

from api.kernel import audit
from api.kernel.client_address import client_address
from api.kernel.clock import current_time
from api.kernel.db import Conn
from api.kernel.problems import Problem

log = logging.getLogger("zhangban.authority")

GUARDIANSHIP = "guardianship"
REALNAME_PROOFING = "realname_proofing"
WINDOW_INTAKE = "window_intake"
SEALS = "certificate:*"


def record(kind: str) -> str:
    """The power to push records of ``kind``."""
    return f"record:{kind}"


def life_event(event: str) -> str:
    """The power to declare the life event ``event``."""
    return f"life_event:{event}"


def certificate(type_code: str) -> str:
    """The power to issue and revoke certificates of ``type_code``."""
    return f"certificate:{type_code}"


def matter(code: str) -> str:
    """The power to handle tasks of the matter ``code``."""
    return f"matter:{code}"


class AuthorityRequired(Problem):
    """本部门无此职权（不在权责清单内）"""

    status, slug = 403, "authority_required"

    def __init__(self, power: str, *, department_id: UUID | None, actor: str) -> None:
        super().__init__(f"the department's listed powers do not include {power}", power=power)
        # Kept for the audit entry, not shown: the caller knows its own department and name.
        self.department_id = department_id
        self.actor = actor


Kind = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,39}$")]


class Authority(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a department may do besides issuing its certificate types (权责清单)."""

    record_kinds: Annotated[
        list[Kind],
        msgspec.Meta(
            max_length=200,
            description="Kinds of record it may push into wallets.",
            examples=[["social_insurance_payment"]],
        ),
    ] = []
    life_events: Annotated[
        list[Kind], msgspec.Meta(max_length=50, description="Life events it may declare.", examples=[["married"]])
    ] = []
    guardianship: Annotated[bool, msgspec.Meta(description="May set and end guardianships.")] = False
    realname_proofing: Annotated[
        bool, msgspec.Meta(description="Its window clerks may attest real-name checks (L3).")
    ] = False
    window_intake: Annotated[
        bool,
        msgspec.Meta(
            description="A service centre: its window clerks take applications for citizens who are "
            "present (综合受理) and hand results over (统一窗口出件)."
        ),
    ] = False


NO_AUTHORITY = Authority()

GET_AUTHORITY = """
SELECT record_kinds, life_events, guardianship, realname_proofing, window_intake
FROM department_authority WHERE department_id = $1
"""

PUT_AUTHORITY = """
INSERT INTO department_authority (department_id, record_kinds, life_events, guardianship, realname_proofing,
                                  window_intake, updated_at)
VALUES ($1, $2, $3, $4, $5, $7, $6)
ON CONFLICT (department_id) DO UPDATE SET record_kinds = EXCLUDED.record_kinds, life_events = EXCLUDED.life_events,
    guardianship = EXCLUDED.guardianship, realname_proofing = EXCLUDED.realname_proofing,
    window_intake = EXCLUDED.window_intake,
    updated_at = EXCLUDED.updated_at
RETURNING (xmax = 0) AS created
"""

# One query answers every kind of power; the certificate and matter ones are read where they are stated.
HOLDS = """
SELECT CASE split_part($2, ':', 1)
    WHEN 'record' THEN EXISTS (SELECT 1 FROM department_authority
                               WHERE department_id = $1 AND substr($2, 8) = ANY (record_kinds))
    WHEN 'life_event' THEN EXISTS (SELECT 1 FROM department_authority
                                   WHERE department_id = $1 AND substr($2, 12) = ANY (life_events))
    WHEN 'guardianship' THEN EXISTS (SELECT 1 FROM department_authority WHERE department_id = $1 AND guardianship)
    WHEN 'realname_proofing' THEN EXISTS (SELECT 1 FROM department_authority
                                          WHERE department_id = $1 AND realname_proofing)
    WHEN 'window_intake' THEN EXISTS (SELECT 1 FROM department_authority WHERE department_id = $1 AND window_intake)
    WHEN 'certificate' THEN CASE WHEN $2 = 'certificate:*'
        THEN EXISTS (SELECT 1 FROM certificate_type WHERE $1 = ANY (issuer_department_ids))
        ELSE EXISTS (SELECT 1 FROM certificate_type WHERE code = substr($2, 13) AND $1 = ANY (issuer_department_ids))
    END
    WHEN 'matter' THEN EXISTS (SELECT 1 FROM catalog_matter WHERE code = substr($2, 8) AND department_id = $1)
    ELSE false
END
"""

Executor: TypeAlias = "asyncpg.Pool | Conn"


async def holds(db: Executor, department_id: UUID | None, power: str) -> bool:
    """Whether the catalogue lists ``power`` among the department's powers."""
    if department_id is None:
        return False
    return bool(await db.fetchval(HOLDS, department_id, power))


async def require(db: Executor, department_id: UUID | None, power: str, *, actor: str) -> None:
    """Raise 403 ``authority_required`` unless the department holds ``power``; ``actor`` names the caller."""
    if not await holds(db, department_id, power):
        raise AuthorityRequired(power, department_id=department_id, actor=actor)


async def get_authority(conn: Executor, department_id: UUID) -> Authority:
    """The department's authority document (all empty when none was ever stated)."""
    row = await conn.fetchrow(GET_AUTHORITY, department_id)
    if row is None:
        return NO_AUTHORITY
    return Authority(
        record_kinds=list(row["record_kinds"]),
        life_events=list(row["life_events"]),
        guardianship=row["guardianship"],
        realname_proofing=row["realname_proofing"],
        window_intake=row["window_intake"],
    )


async def put_authority(conn: Conn, department_id: UUID, value: Authority, *, now: datetime) -> bool:
    """Replace the department's authority document; True when it had none."""
    return bool(
        await conn.fetchval(
            PUT_AUTHORITY,
            department_id,
            sorted(set(value.record_kinds)),
            sorted(set(value.life_events)),
            value.guardianship,
            value.realname_proofing,
            now,
            value.window_intake,
        )
    )


async def audit_refusal(exc: BaseException, scope: Any) -> None:
    """``after_exception`` hook: audit a refused authority check in its own transaction, with the client address."""
    if not isinstance(exc, AuthorityRequired):
        return
    state = scope["app"].state
    data = {
        "power": exc.context["power"],
        "department": str(exc.department_id) if exc.department_id else None,
        "route": f"{scope.get('method', '')} {scope.get('path', '')}",
    }
    try:
        await audit.append_separately(
            state.pool,
            actor=exc.actor,
            action="authority.refused",
            subject=f"department:{exc.department_id}",
            data=data,
            client_address=client_address(Request(scope)),
            at=current_time(state),
        )
    except (OSError, asyncpg.PostgresError):
        # The refusal itself stands; losing its audit entry must not turn the 403 into a 500.
        log.exception("could not audit a refused authority check")
