"""The per-person change log that offline clients pull (FORMATS.md §sync).

Every write to something a person's devices mirror calls :func:`record_change` inside the writing
transaction. The version comes from the person's ``sync_head`` row, bumped with an upsert that holds
the row lock until commit, so versions commit in order and a reader paging by version never skips
a row that commits later with a smaller number (a plain sequence can commit out of order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any, Literal
from uuid import UUID

import msgspec

from api.kernel import pgcopy
from api.kernel.db import Conn, json_text

Entity = Literal["wallet_item", "application", "draft", "notification", "consent", "device_credential"]


class Change(msgspec.Struct, frozen=True, kw_only=True):
    person_id: UUID
    version: int
    entity: str
    entity_id: UUID
    op: Literal["put", "del"]
    data: Any = None


BUMP_HEAD = """
INSERT INTO sync_head AS h (person_id, version, updated_at) VALUES ($1, 1, now())
ON CONFLICT (person_id) DO UPDATE SET version = h.version + 1, updated_at = EXCLUDED.updated_at
RETURNING version
"""

INSERT_CHANGE = """
INSERT INTO sync_change (person_id, version, entity, entity_id, op, data)
VALUES ($1, $2, $3, $4, $5, $6)
"""


async def record_change(
    conn: Conn,
    person_id: UUID,
    entity: Entity,
    entity_id: UUID,
    op: Literal["put", "del"],
    data: Any = None,
) -> int:
    """Append one change for ``person_id`` and return its version. Call inside a transaction."""
    if not conn.is_in_transaction():
        raise RuntimeError("record_change must run inside the writing transaction")
    version = await conn.fetchval(BUMP_HEAD, person_id)
    await conn.execute(
        INSERT_CHANGE, person_id, version, entity, entity_id, op, json_text(data) if op == "put" else None
    )
    return version


async def record_change_each(
    conn: Conn,
    persons: Collection[UUID],
    entity: Entity,
    entity_id: UUID,
    op: Literal["put", "del"],
    data: Any = None,
) -> None:
    """:func:`record_change` for each of ``persons`` (an application's applicant and the person it is for).

    In sorted person order, as :func:`reserve_versions` bumps heads: a department's decision on a family's
    application and the inbox writer telling that family lock the same heads in one order, so neither
    waits on the other in a cycle (which PostgreSQL ends as a deadlock, failing one of them).
    """
    for person in sorted(set(persons)):
        await record_change(conn, person, entity, entity_id, op, data)


async def lock_heads(conn: Conn, persons: Collection[UUID]) -> None:
    """Take the ``sync_head`` row locks of ``persons`` now, in sorted order, without bumping a version.

    For a transaction that will lock other rows (an application) and then record changes: taking the
    heads first keeps every writer's order heads → rows, whatever it records later.
    """
    people = sorted(set(persons))
    await conn.execute(BUMP_HEADS, people, [0] * len(people))


LIST_CHANGES = """
SELECT person_id, version, entity, entity_id, op, data::json AS data
FROM sync_change
WHERE person_id = $1 AND version > $2
ORDER BY version
LIMIT $3
"""


async def list_changes(conn: Conn, person_id: UUID, after: int, limit: int) -> list[Change]:
    """Changes of one person with a version above ``after``, oldest first."""
    rows = await conn.fetch(LIST_CHANGES, person_id, after, limit)
    return [Change(**dict(r)) for r in rows]


async def head_version(conn: Conn, person_id: UUID) -> int:
    """The person's latest committed version (0 when nothing was ever written)."""
    return await conn.fetchval("SELECT version FROM sync_head WHERE person_id = $1", person_id) or 0


BUMP_HEADS = """
INSERT INTO sync_head AS h (person_id, version, updated_at)
SELECT p, v, now() FROM unnest($1::uuid[], $2::bigint[]) AS u (p, v)
ON CONFLICT (person_id) DO UPDATE SET version = h.version + EXCLUDED.version, updated_at = EXCLUDED.updated_at
RETURNING person_id, version
"""


async def reserve_versions(conn: Conn, owners: list[UUID]) -> tuple[list[int], dict[UUID, int]]:
    """Versions for many changes at once, one per entry of ``owners`` (in order per person).

    The bulk form of the head bump in :func:`record_change`, with the same guarantee: each person's
    ``sync_head`` row stays locked until commit. Heads are bumped in sorted person order, so two
    batches touching the same persons cannot deadlock. Returns the versions and each person's new head;
    the caller inserts the ``sync_change`` rows in the same transaction.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("reserve_versions must run inside the writing transaction")
    counts = Counter(owners)
    people = sorted(counts)
    heads = {r["person_id"]: r["version"] for r in await conn.fetch(BUMP_HEADS, people, [counts[p] for p in people])}
    following = {p: heads[p] - counts[p] + 1 for p in people}
    versions = []
    for person in owners:
        versions.append(following[person])
        following[person] += 1
    return versions, heads


CHANGE_COLUMNS = ("person_id", "version", "entity", "entity_id", "op", "data")


async def record_puts(conn: Conn, changes: list[tuple[UUID, Entity, UUID, Any]]) -> dict[UUID, int]:
    """:func:`record_change` ``put`` for many rows at once ``(person_id, entity, entity_id, data)``: versions
    in list order per person, the rows by binary COPY. Returns each person's new head version.

    ``data`` may be JSON text already (``msgspec.Raw``), which is written as it is.
    """
    if not changes:
        return {}
    versions, heads = await reserve_versions(conn, [person for person, _, _, _ in changes])
    await conn.copy_records_to_table(
        "sync_change",
        columns=CHANGE_COLUMNS,
        records=[
            (person, version, entity, entity_id, "put", json_text(data))
            for (person, entity, entity_id, data), version in zip(changes, versions, strict=True)
        ],
    )
    return heads


_CHANGE_COUNT = pgcopy.count(len(CHANGE_COLUMNS))


def encoded_put(entity: Entity, entity_id: bytes, data: bytes) -> bytes:
    """A ``put`` for :func:`record_encoded_puts`: the change's fields after person and version, as binary
    COPY; ``data`` is the JSON text."""
    return pgcopy.fields(entity, entity_id, "put", data)


HEAD_COLUMNS = ("person_id", "version")
_HEAD_COUNT = pgcopy.count(len(HEAD_COLUMNS))


async def record_encoded_puts(
    conn: Conn,
    changes: list[tuple[UUID, bytes]],
    *,
    new_persons: Collection[UUID] = (),
) -> dict[UUID, int]:
    """:func:`record_puts` of ``(person_id, encoded_put)`` pairs, rows encoded ahead (``api.kernel.pgcopy``).

    ``new_persons`` were created in this transaction and have no head yet: theirs are written by COPY,
    their versions counting from 1, instead of bumped. The new head rows stay locked until commit as
    bumped ones do, and a head that exists after all fails the COPY (``UniqueViolationError``).
    """
    if not changes:
        return {}
    owners = [person for person, _ in changes]
    fresh = Counter(person for person in owners if person in new_persons) if new_persons else Counter()
    if fresh:
        await pgcopy.copy_rows(
            conn,
            "sync_head",
            HEAD_COLUMNS,
            [_HEAD_COUNT + pgcopy.uuid(person.bytes) + pgcopy.int8(count) for person, count in sorted(fresh.items())],
        )
    others = [person for person in owners if person not in fresh]
    bumped, heads = await reserve_versions(conn, others) if others else ([], {})
    heads.update(fresh)
    following, bumped_next, versions = dict.fromkeys(fresh, 1), iter(bumped), []
    for person in owners:
        if person in following:
            versions.append(following[person])
            following[person] += 1
        else:
            versions.append(next(bumped_next))
    await pgcopy.copy_rows(
        conn,
        "sync_change",
        CHANGE_COLUMNS,
        [
            _CHANGE_COUNT + pgcopy.uuid(person.bytes) + pgcopy.int8(version) + put
            for (person, put), version in zip(changes, versions, strict=True)
        ],
    )
    return heads
