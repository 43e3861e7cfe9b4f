"""Who hears of a batch of events, and the names their texts need: a few set-based queries per batch.

Events carry ids only; the texts need the matter's or bundle's name, the certificate type, the
department. Those live in the tables of the domains that emitted the events; reading them here
(plain SELECTs, no imports of those domains) keeps the emitters unchanged and the payloads free of
copies that could go stale. An id that is not a UUID finds nothing rather than failing the batch.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from api.kernel.db import Conn
from notify import contacts
from notify.catalogue import Kind
from notify.models import AccountInfo, Event


@dataclass
class Context:
    """Everything planning needs to know about the recipients of one batch."""

    persons: set[UUID] = field(default_factory=set)  # the events' persons that exist
    accounts: dict[UUID, AccountInfo] = field(default_factory=dict)
    accounts_of: dict[UUID, list[UUID]] = field(default_factory=lambda: defaultdict(list))  # person -> accounts
    guardians: dict[UUID, list[UUID]] = field(default_factory=lambda: defaultdict(list))
    family: dict[UUID, list[UUID]] = field(default_factory=lambda: defaultdict(list))
    operators: list[UUID] = field(default_factory=list)
    webhooks: dict[UUID, list[tuple[UUID, frozenset[str]]]] = field(default_factory=lambda: defaultdict(list))
    # "application" -> {id: title}, "matter" -> {code: name}, "department" -> {id: name},
    # "certificate" -> {id: (type name, valid_until)}, "consent" -> {id: purpose}; keys as text.
    names: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    # Persons without an account who gave a phone for text messages (notify.contacts).
    contact_phones: set[UUID] = field(default_factory=set)


def as_uuid(value: Any) -> UUID | None:
    if not value:
        return None
    return _parse_uuid(value) if isinstance(value, str) else _parse_uuid(str(value))


@functools.lru_cache(maxsize=16_384)
def _parse_uuid(text: str) -> UUID | None:
    # The same ids come up several times per event (recipients, owners, names) and across a batch.
    try:
        return UUID(text)
    except ValueError:
        return None


def _uuids(values: Iterable[Any]) -> list[UUID]:
    return sorted({u for u in map(as_uuid, values) if u is not None})


# The notification tables keep no foreign keys (migration 0036): an event naming a person that does
# not exist reaches nobody instead of failing at the insert.
PERSONS = "SELECT id FROM person WHERE id = ANY($1::uuid[])"

GUARDIANS = """
SELECT dependent_person_id, guardian_person_id FROM guardianship
WHERE dependent_person_id = ANY($1::uuid[]) AND since <= $2 AND (until IS NULL OR until > $2)
"""

# 身后: the family of a person whose wallet closed are their guardians, their dependents and the
# relatives who applied for the after-death bundle.
FAMILY = """
SELECT dependent_person_id AS person_id, guardian_person_id AS relative FROM guardianship WHERE dependent_person_id = ANY($1::uuid[])
UNION
SELECT guardian_person_id, dependent_person_id FROM guardianship WHERE guardian_person_id = ANY($1::uuid[])
UNION
SELECT person_id, reader_person_id FROM wallet_family_reader WHERE person_id = ANY($1::uuid[])
"""

ACCOUNTS = """
SELECT a.id, a.person_id, a.wechat_openid, a.phone IS NOT NULL AS has_phone, 'operator' = ANY(a.roles) AS operator,
       coalesce(p.wechat, true) AS wechat, coalesce(p.sms, true) AS sms, p.quiet_from, p.quiet_to
FROM auth_account a LEFT JOIN notify_preference p ON p.account_id = a.id
WHERE a.person_id = ANY($1::uuid[]) OR a.id = ANY($2::uuid[]) OR ($3 AND 'operator' = ANY(a.roles))
"""

# Templates an account may receive now: a long-term grant, or one-time credits left.
GRANTS = """
SELECT account_id, template_key FROM notify_wechat_grant
WHERE account_id = ANY($1::uuid[]) AND opted_out_at IS NULL AND (long_term OR credits > 0)
"""

WEBHOOKS = """
SELECT id, department_id, events FROM notify_webhook WHERE department_id = ANY($1::uuid[]) AND disabled_at IS NULL
"""

# Whose each application is, from the ids' keys (on the coordinator of a cluster); then the titles on those
# persons' shards.
APPLICATION_PERSONS = "SELECT for_person_id, id FROM application_key WHERE id = ANY($1::uuid[])"
APPLICATION_TITLES = """
SELECT a.id::text, coalesce(b.name, m.name) AS title
FROM application a LEFT JOIN catalog_bundle b ON b.code = a.bundle_code LEFT JOIN catalog_matter m ON m.code = a.matter_code
WHERE a.for_person_id = ANY($1::uuid[]) AND (a.for_person_id, a.id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
"""

CONSENTS = "SELECT id::text, purpose FROM wallet_consent WHERE id = ANY($1::uuid[])"

CERTIFICATES = """
SELECT c.id::text, t.name, c.valid_until FROM esign_certificate c JOIN certificate_type t ON t.code = c.type_code
WHERE c.id = ANY($1::uuid[])
"""


async def load(conn: Conn, batch: list[tuple[Event, Kind]], *, now: datetime) -> Context:
    """Recipients, their preferences and grants, subscribed webhooks and names for ``batch``."""
    ctx = Context()
    persons, accounts, closed, departments, wanted = set(), set(), set(), set(), defaultdict(set)
    need_operators = False
    for event, kind in batch:
        p = event.payload
        audiences = kind.audiences
        if "person" in audiences:
            persons.add(p.get(kind.person_key))
        if "account" in audiences:
            accounts.add(p.get("account_id"))
        if "family" in audiences:
            closed.add(p.get("person_id"))
        if "department" in audiences or "webhook" in audiences:
            departments.add(p.get("department_id"))
        need_operators = need_operators or "operators" in audiences
        for table, key, needed in _names_needed(kind, p):
            if needed and p.get(key):
                wanted[table].add(str(p[key]))

    people = _uuids(persons)
    if people:
        ctx.persons = {r["id"] for r in await conn.fetch(PERSONS, people)}
        for r in await conn.fetch(GUARDIANS, people, now):
            ctx.guardians[r["dependent_person_id"]].append(r["guardian_person_id"])
    if closed:
        for r in await conn.fetch(FAMILY, _uuids(closed)):
            ctx.family[r["person_id"]].append(r["relative"])
    everyone = (
        set(people) | {g for gs in ctx.guardians.values() for g in gs} | {f for fs in ctx.family.values() for f in fs}
    )
    account_ids = _uuids(accounts)
    if everyone or account_ids or need_operators:
        rows = await conn.fetch(ACCOUNTS, sorted(everyone), account_ids, need_operators)
        with_openid = [r["id"] for r in rows if r["wechat_openid"]]
        templates: dict[UUID, set[str]] = defaultdict(set)
        if with_openid:
            for g in await conn.fetch(GRANTS, with_openid):
                templates[g["account_id"]].add(g["template_key"])
        for r in rows:
            ctx.accounts[r["id"]] = AccountInfo(
                id=r["id"],
                person_id=r["person_id"],
                openid=r["wechat_openid"],
                has_phone=r["has_phone"],
                wechat=r["wechat"],
                sms=r["sms"],
                quiet_from=r["quiet_from"],
                quiet_to=r["quiet_to"],
                templates=frozenset(templates.get(r["id"], ())),
            )
            if r["person_id"] is not None:
                ctx.accounts_of[r["person_id"]].append(r["id"])
            if r["operator"]:
                ctx.operators.append(r["id"])
    without_account = sorted(p for p in everyone if p not in ctx.accounts_of)
    if without_account:
        ctx.contact_phones = await contacts.persons_with_phone(conn, without_account)
    if departments:
        for r in await conn.fetch(WEBHOOKS, _uuids(departments)):
            ctx.webhooks[r["department_id"]].append((r["id"], frozenset(r["events"])))
    await _load_names(conn, ctx, wanted)
    return ctx


def _names_needed(kind: Kind, p: dict[str, Any]) -> tuple[tuple[str, str, bool], ...]:
    # Look a name up only when the texts show it and the payload does not carry it already.
    certificate = (kind.uses("type_name") and "type_name" not in p) or (
        kind.uses("valid_until") and "valid_until" not in p
    )
    return (
        ("application", "application_id", kind.uses("matter") and not p.get("matter_code")),
        ("matter", "matter_code", kind.uses("matter")),
        ("department", "department_id", kind.uses("department")),
        ("certificate", "certificate_id", certificate),
        ("consent", "consent_id", kind.uses("purpose") and "purpose" not in p),
    )


async def _load_names(conn: Conn, ctx: Context, wanted: dict[str, set[str]]) -> None:
    if wanted["application"]:
        keys = await conn.fetch(APPLICATION_PERSONS, _uuids(wanted["application"]))
        titles = await conn.fetch(APPLICATION_TITLES, [k[0] for k in keys], [k[1] for k in keys]) if keys else []
        ctx.names["application"] = {r["id"]: r["title"] for r in titles}
    if wanted["matter"]:
        rows = await conn.fetch(
            "SELECT code, name FROM catalog_matter WHERE code = ANY($1::text[])", sorted(wanted["matter"])
        )
        ctx.names["matter"] = {r["code"]: r["name"] for r in rows}
    if wanted["department"]:
        rows = await conn.fetch(
            "SELECT id::text, name FROM department WHERE id = ANY($1::uuid[])", _uuids(wanted["department"])
        )
        ctx.names["department"] = {r["id"]: r["name"] for r in rows}
    if wanted["certificate"]:
        rows = await conn.fetch(CERTIFICATES, _uuids(wanted["certificate"]))
        ctx.names["certificate"] = {r["id"]: (r["name"], r["valid_until"]) for r in rows}
    if wanted["consent"]:
        ctx.names["consent"] = {r["id"]: r["purpose"] for r in await conn.fetch(CONSENTS, _uuids(wanted["consent"]))}
