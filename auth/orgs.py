"""Business entities (经营主体): holders of a wallet and actors, keyed by the unified social credit code.

An entity has a holder row in ``person`` (``kind = 'organisation'``, no ID number, its name sealed as a
person's is), so every domain keyed by a holder id — wallet items, consents, access log, change log,
applications — keeps an entity's things as it keeps a person's. Its registry facts live in
``org_entity``: the credit code, the name, the status (``active`` until 注销, then ``closed``) and the
blind index of its legal representative's ID number, set from the 营业执照 that 市场监管 issues or pushes.

A person is the entity's 法定代表人 when their verified identity's blind index equals that index: the
comparison happens in SQL, and the stored ID number is never decrypted for it.

A changed registry (企业信息变更: a later 营业执照) is pushed to every department that holds the entity's old
data — that issued it a certificate, put a record or event in its wallet, or was granted its consent —
as an ``organisation.changed`` event each (their webhooks subscribed to it deliver it): which fields
changed, and the new and old values of the licence's public ones. Sensitive fields are named, never
sent: a department reads them from the licence, by consent.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from api.kernel import outbox
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from api.kernel.identifiers import normalize_id_number, normalized_id_number_error
from api.kernel.ids import uuid7
from api.kernel.problems import FieldError, Problem
from auth.persons import INDEX_PURPOSE, NAME_CONTEXT

# The certificate type whose issue (or push) is the registry: it names the legal representative.
REGISTRY_TYPE = "business_license"
LEGAL_REP_FIELD = "legal_representative_id_number"
# The certificate type whose issue is 注销登记: the entity's 营业执照 is revoked and its wallet closed.
DEREGISTRATION_TYPE = "deregistration_notice"


class LegalRepInvalid(Problem):
    """法定代表人身份证号码不正确"""

    status, slug = 422, "legal_representative_invalid"


class Org(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    credit_code: str
    name: str
    status: Literal["active", "closed"]
    registered_at: datetime
    closed_at: datetime | None


COLUMNS = "id, credit_code, name, status, registered_at, closed_at"


def legal_rep_index(keyring: Keyring, id_number: str, *, today: date, field: str) -> bytes:
    """The blind index of a legal representative's ID number (422 when it fails GB 11643)."""
    number = normalize_id_number(id_number)
    problem = normalized_id_number_error(number, today=today)
    if problem:
        raise LegalRepInvalid(errors=[FieldError(field, problem)])
    return keyring.blind_index(number, purpose=INDEX_PURPOSE)


INSERT_HOLDER = "INSERT INTO person (id, name, kind, created_at) VALUES ($1, $2, 'organisation', $3)"
INSERT_ORG = """
INSERT INTO org_entity (id, credit_code, name, legal_rep_index, status, registered_at, updated_at)
VALUES ($1, $2, $3, $4, 'active', $5, $5)
ON CONFLICT ON CONSTRAINT org_entity_credit_code_key DO NOTHING
RETURNING id
"""
UPDATE_ORG = """
UPDATE org_entity SET name = $2, legal_rep_index = coalesce($3, legal_rep_index), updated_at = $4,
    legal_rep_changed_at = CASE WHEN $3 IS NOT NULL AND legal_rep_index IS DISTINCT FROM $3 THEN $4
                                ELSE legal_rep_changed_at END
WHERE credit_code = $1
RETURNING id, (xmax <> 0) AS existed
"""


async def register(
    conn: Conn, keyring: Keyring, *, credit_code: str, name: str, legal_rep: bytes | None, now: datetime
) -> tuple[UUID, bool]:
    """The entity with this credit code, made on first sight; ``(id, created)``.

    A later registry certificate (a changed licence) updates the name and, when it names one, the legal
    representative; naming another one stamps ``legal_rep_changed_at``, which ends the acting tokens of the one
    named before (``auth.revocation``). The caller's transaction owns all of it.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 25))", credit_code)
    row = await conn.fetchrow("SELECT id FROM org_entity WHERE credit_code = $1", credit_code)
    if row is not None:
        await conn.execute(UPDATE_ORG, credit_code, name, legal_rep, now)
        return row["id"], False
    org_id = uuid7()
    await conn.execute(INSERT_HOLDER, org_id, keyring.encrypt(name, context=NAME_CONTEXT), now)
    await conn.execute(INSERT_ORG, org_id, credit_code, name, legal_rep, now)
    return org_id, True


async def get_org(conn: Conn, org_id: UUID) -> Org | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM org_entity WHERE id = $1", org_id)
    return Org(**row) if row else None


async def get_org_by_credit_code(conn: Conn, credit_code: str) -> Org | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM org_entity WHERE credit_code = $1", credit_code)
    return Org(**row) if row else None


IS_LEGAL_REP = """
SELECT EXISTS (
    SELECT 1 FROM org_entity o JOIN person_id_number n ON n.id_number_index = o.legal_rep_index
    WHERE o.id = $1 AND n.person_id = $2
)
"""


async def is_legal_rep(conn: Conn, org_id: UUID, person_id: UUID) -> bool:
    """Whether the registry names this verified person as the entity's legal representative."""
    return bool(await conn.fetchval(IS_LEGAL_REP, org_id, person_id))


REPRESENTED = f"""
SELECT {", ".join("o." + c.strip() for c in COLUMNS.split(","))}
FROM org_entity o JOIN person_id_number n ON n.id_number_index = o.legal_rep_index
WHERE n.person_id = $1
ORDER BY o.registered_at, o.id
"""


async def list_represented(conn: Conn, person_id: UUID) -> list[Org]:
    """The entities whose registry names this person as legal representative."""
    return [Org(**r) for r in await conn.fetch(REPRESENTED, person_id)]


async def close_org(conn: Conn, org_id: UUID, *, now: datetime) -> bool:
    """Mark the entity closed (注销); ``False`` when it already was."""
    done = await conn.fetchval(
        "UPDATE org_entity SET status = 'closed', closed_at = $2, updated_at = $2 WHERE id = $1 AND status = 'active'"
        " RETURNING true",
        org_id,
        now,
    )
    return bool(done)


async def is_org(conn: Conn, holder_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM org_entity WHERE id = $1)", holder_id))


# Departments holding the entity's data: certificates they issued it, what they put in its wallet (records,
# life events), consents it granted them.
HOLDERS = """
SELECT department_id FROM esign_certificate WHERE person_id = $1
UNION SELECT department_id FROM wallet_item WHERE person_id = $1 AND department_id IS NOT NULL
UNION SELECT grantee_department_id FROM wallet_consent WHERE person_id = $1
"""


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The registry fields whose value the new licence changes (a field it leaves out is unchanged)."""
    return sorted(k for k, v in new.items() if old.get(k) != v)


async def tell_holders(
    conn: Conn,
    org_id: UUID,
    *,
    credit_code: str,
    name: str,
    old: dict[str, Any],
    new: dict[str, Any],
    public: frozenset[str],
    source_department_id: UUID,
    ref: str,
    now: datetime,
) -> list[UUID]:
    """Queue ``organisation.changed`` for every department holding the entity's old data but the one that
    changed it, in the caller's transaction; the departments told (none when nothing changed)."""
    changed = changes(old, new)
    if not changed:
        return []
    told = sorted(
        r["department_id"] for r in await conn.fetch(HOLDERS, org_id) if r["department_id"] != source_department_id
    )
    shown = [k for k in changed if k in public]
    for department_id in told:
        await outbox.enqueue(
            conn,
            "notify",
            {
                "event": "organisation.changed",
                "department_id": str(department_id),
                "org_id": str(org_id),
                "credit_code": credit_code,
                "entity_name": name,
                "changed": changed,
                "fields": {k: new[k] for k in shown},
                "previous": {k: old.get(k) for k in shown},
                "changed_by_department_id": str(source_department_id),
                "changed_at": now.isoformat(),
            },
            dedup_key=f"organisation.changed:{ref}:{department_id}",
            partition_key=str(department_id),
        )
    return told
