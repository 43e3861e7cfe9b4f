"""Persons and guardianship: shared by identity, certificates, applications and the wallet.

A person's ID number and name are encrypted at rest (contexts ``person.id_number``,
``person.name``) and found through the blind index (purpose ``id_number``). A newborn is a
person without an ID number until 出生登记 assigns one.

The blind index is kept unique in ``person_id_number`` (index → person), a table of its own: on a Citus
cluster the person rows are spread over the shards by id, and this one stays on the coordinator, so
finding a person by ID number is one primary-key read there, and claiming an ID number for a new person
(inserting there first) is where two transactions creating the same person meet.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from uuid import UUID

import asyncpg
import msgspec

from api.kernel import pgcopy
from api.kernel.crypto import Keyring, mask_id_number, mask_name
from api.kernel.db import Conn
from api.kernel.identifiers import normalize_id_number
from api.kernel.ids import uuid7, uuid7_many
from api.kernel.problems import FieldError, Problem

INDEX_PURPOSE = "id_number"
# The associated data of the encrypted columns: a value sealed for one column does not open in another.
ID_NUMBER_CONTEXT = "person.id_number"
NAME_CONTEXT = "person.name"


class HolderMismatch(Problem):
    """姓名与身份证号码登记的人员不符"""

    status, slug = 422, "holder_mismatch"


def same_name(a: str, b: str) -> bool:
    """Whether two spellings are the same name: compatibility forms and spaces aside (全角, 「 」 ...)."""

    def plain(v: str) -> str:
        return "".join(unicodedata.normalize("NFKC", v).split()).casefold()

    return plain(a) == plain(b)


def check_holder_name(keyring: Keyring, sealed_name: bytes | None, name: str, *, field: str) -> None:
    """422 ``holder_mismatch`` unless ``name`` is the stored one; the stored name is never told."""
    if sealed_name is not None and not same_name(keyring.decrypt_str(sealed_name, context=NAME_CONTEXT), name):
        raise HolderMismatch(
            "the name is not the one of the person with this ID number",
            errors=[FieldError(field, "does not match the person with this ID number")],
        )


async def check_person_name(conn: Conn, keyring: Keyring, person_id: UUID, name: str, *, field: str) -> None:
    """:func:`check_holder_name` for a stored person."""
    blob = await conn.fetchval("SELECT name FROM person WHERE id = $1", person_id)
    check_holder_name(keyring, blob, name, field=field)


async def find_person_names(conn: Conn, indexes: list[bytes]) -> dict[bytes, tuple[UUID, bytes]]:
    """The persons among these blind indexes that exist: blind index → (person, sealed name)."""
    ids = await find_person_ids(conn, indexes)
    if not ids:
        return {}
    rows = await conn.fetch("SELECT id, name FROM person WHERE id = ANY($1::uuid[])", list(ids.values()))
    names: dict[UUID, bytes] = {r["id"]: r["name"] for r in rows}
    return {index: (person_id, names[person_id]) for index, person_id in ids.items()}


class PersonView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name_masked: str
    id_number_masked: str | None


def id_number_index(keyring: Keyring, id_number: str) -> bytes:
    return keyring.blind_index(normalize_id_number(id_number), purpose=INDEX_PURPOSE)


FIND_BY_INDEX = "SELECT person_id FROM person_id_number WHERE id_number_index = $1"


async def find_person_id(conn: Conn, keyring: Keyring, id_number: str) -> UUID | None:
    return await conn.fetchval(FIND_BY_INDEX, id_number_index(keyring, id_number))


CLAIM_ID_NUMBER = """
INSERT INTO person_id_number (id_number_index, person_id) VALUES ($1, $2)
ON CONFLICT ON CONSTRAINT person_id_number_pkey DO NOTHING
RETURNING person_id
"""
INSERT_PERSON = """
INSERT INTO person (id, id_number, id_number_index, name, born_on, sex, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


async def find_or_create_person(conn: Conn, keyring: Keyring, *, id_number: str, name: str, now: datetime) -> UUID:
    """The person with this ID number, created if new (race-safe on the blind index)."""
    number = normalize_id_number(id_number)
    index = id_number_index(keyring, number)
    person_id = uuid7()
    if await conn.fetchval(CLAIM_ID_NUMBER, index, person_id) is None:
        return await conn.fetchval(FIND_BY_INDEX, index)
    await conn.execute(
        INSERT_PERSON,
        person_id,
        keyring.encrypt(number, context=ID_NUMBER_CONTEXT),
        index,
        keyring.encrypt(name, context=NAME_CONTEXT),
        None,
        None,
        now,
    )
    return person_id


async def create_newborn(
    conn: Conn, keyring: Keyring, *, name: str, born_on: date, sex: str | None, now: datetime
) -> UUID:
    """A person with no ID number yet (出生一件事)."""
    person_id = uuid7()
    await conn.execute(
        INSERT_PERSON, person_id, None, None, keyring.encrypt(name, context=NAME_CONTEXT), born_on, sex, now
    )
    return person_id


class IdNumberTaken(Exception):
    """Another person already holds this ID number."""


async def assign_id_number(conn: Conn, keyring: Keyring, person_id: UUID, id_number: str) -> None:
    """Record the ID number public security assigned; the person is then found by it like anyone else."""
    number = normalize_id_number(id_number)
    index = id_number_index(keyring, number)
    await conn.execute("DELETE FROM person_id_number WHERE person_id = $1", person_id)
    try:
        await conn.execute(
            "INSERT INTO person_id_number (id_number_index, person_id) VALUES ($1, $2)", index, person_id
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "person_id_number_pkey":
            raise
        raise IdNumberTaken() from exc
    await conn.execute(
        "UPDATE person SET id_number = $2, id_number_index = $3 WHERE id = $1",
        person_id,
        keyring.encrypt(number, context=ID_NUMBER_CONTEXT),
        index,
    )


async def get_person_view(conn: Conn, keyring: Keyring, person_id: UUID) -> PersonView | None:
    row = await conn.fetchrow("SELECT id, name, id_number FROM person WHERE id = $1", person_id)
    if row is None:
        return None
    number = keyring.decrypt_str(row["id_number"], context=ID_NUMBER_CONTEXT) if row["id_number"] else None
    return PersonView(
        id=row["id"],
        name_masked=mask_name(keyring.decrypt_str(row["name"], context=NAME_CONTEXT)),
        id_number_masked=mask_id_number(number) if number else None,
    )


async def get_id_number(conn: Conn, keyring: Keyring, person_id: UUID) -> str | None:
    blob = await conn.fetchval("SELECT id_number FROM person WHERE id = $1", person_id)
    return keyring.decrypt_str(blob, context=ID_NUMBER_CONTEXT) if blob else None


async def get_name(conn: Conn, keyring: Keyring, person_id: UUID) -> str | None:
    blob = await conn.fetchval("SELECT name FROM person WHERE id = $1", person_id)
    return keyring.decrypt_str(blob, context=NAME_CONTEXT) if blob else None


class Person(msgspec.Struct, frozen=True, kw_only=True):
    id_number: str | None
    name: str
    born_on: date | None
    sex: str | None


async def get_person(conn: Conn, keyring: Keyring, person_id: UUID) -> Person | None:
    """The person's ID number (None until assigned), name, date of birth and sex, as stored."""
    row = await conn.fetchrow("SELECT id_number, name, born_on, sex FROM person WHERE id = $1", person_id)
    if row is None:
        return None
    return Person(
        id_number=keyring.decrypt_str(row["id_number"], context=ID_NUMBER_CONTEXT) if row["id_number"] else None,
        name=keyring.decrypt_str(row["name"], context=NAME_CONTEXT),
        born_on=row["born_on"],
        sex=row["sex"],
    )


async def get_birth(conn: Conn, person_id: UUID) -> tuple[date | None, str | None] | None:
    """The person's date of birth and sex, each None when unknown (None when there is no such person)."""
    row = await conn.fetchrow("SELECT born_on, sex FROM person WHERE id = $1", person_id)
    return None if row is None else (row["born_on"], row["sex"])


# --- guardianship ------------------------------------------------------------------------------

# A guardianship is placed with its guardian and carries the dependent's birth date (auth.guardianship).
ADD_GUARDIAN = """
INSERT INTO guardianship (guardian_person_id, dependent_person_id, source, since, dependent_born_on)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT ON CONSTRAINT guardianship_pkey DO UPDATE SET until = NULL, source = EXCLUDED.source,
    dependent_born_on = EXCLUDED.dependent_born_on
"""


async def add_guardian(conn: Conn, guardian: UUID, dependent: UUID, *, source: str, now: datetime) -> None:
    born_on = await conn.fetchval("SELECT born_on FROM person WHERE id = $1", dependent)
    await conn.execute(ADD_GUARDIAN, guardian, dependent, source, now, born_on)


IS_GUARDIAN = """
SELECT EXISTS (
    SELECT 1 FROM guardianship
    WHERE guardian_person_id = $1 AND dependent_person_id = $2 AND since <= $3 AND (until IS NULL OR until > $3)
)
"""


async def is_guardian(conn: Conn, guardian: UUID, dependent: UUID, *, now: datetime) -> bool:
    return await conn.fetchval(IS_GUARDIAN, guardian, dependent, now)


DEPENDENTS = """
SELECT dependent_person_id FROM guardianship
WHERE guardian_person_id = $1 AND since <= $2 AND (until IS NULL OR until > $2)
ORDER BY since
"""


async def dependents_of(conn: Conn, guardian: UUID, *, now: datetime) -> list[UUID]:
    return [r["dependent_person_id"] for r in await conn.fetch(DEPENDENTS, guardian, now)]


async def ever_dependents_of(conn: Conn, guardian: UUID) -> list[UUID]:
    """Everyone the person is or was guardian of (a guardianship that ends keeps its row, with ``until``)."""
    return [
        r[0]
        for r in await conn.fetch(
            "SELECT dependent_person_id FROM guardianship WHERE guardian_person_id = $1 ORDER BY since", guardian
        )
    ]


async def family(conn: Conn, person: UUID) -> list[UUID]:
    """The person and everyone they are or were guardian of: whom the person may have applied for."""
    return [person, *await ever_dependents_of(conn, person)]


async def guardians_of(conn: Conn, dependent: UUID, *, now: datetime) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT guardian_person_id FROM guardianship WHERE dependent_person_id = $1 AND (until IS NULL OR until > $2)",
        dependent,
        now,
    )
    return [r["guardian_person_id"] for r in rows]


# --- many at once (batch issuing) ----------------------------------------------------------------


def seal_person(keyring: Keyring, id_number: str, name: str) -> tuple[bytes, bytes, bytes]:
    """``(blind index, sealed ID number, sealed name)`` of a person to find or create in bulk."""
    number = normalize_id_number(id_number)
    return (
        id_number_index(keyring, number),
        keyring.encrypt(number, context=ID_NUMBER_CONTEXT),
        keyring.encrypt(name, context=NAME_CONTEXT),
    )


CLAIM_ID_NUMBERS = """
INSERT INTO person_id_number (id_number_index, person_id) SELECT * FROM unnest($1::bytea[], $2::uuid[])
ON CONFLICT ON CONSTRAINT person_id_number_pkey DO NOTHING
RETURNING id_number_index, person_id
"""
INSERT_PERSONS = """
INSERT INTO person (id, id_number_index, id_number, name, created_at)
SELECT *, $4::timestamptz FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $5::bytea[])
"""


async def find_or_create_persons(
    conn: Conn,
    people: list[tuple[bytes, bytes, bytes]],
    *,
    now: datetime,
    ids: dict[bytes, UUID] | None = None,
) -> dict[bytes, UUID]:
    """``find_or_create_person`` for many ``seal_person`` triples: blind index → person.

    One statement when every person is new, a second one for those that already existed (or that another
    transaction, which this one then waited for, created meanwhile). ``ids`` gives the id a new person
    gets, by blind index (batch issuing decides them before signing); the others get fresh ones.
    """
    unique = {index: (number, name) for index, number, name in people}
    # In index order, so that two transactions creating some of the same persons wait for each other
    # on the first shared one instead of deadlocking.
    indexes = sorted(unique)
    given = ids or {}
    fresh = iter(uuid7_many(sum(i not in given for i in indexes)))
    new_ids = [given.get(i) or next(fresh) for i in indexes]
    found: dict[bytes, UUID] = {
        r["id_number_index"]: r["person_id"] for r in await conn.fetch(CLAIM_ID_NUMBERS, indexes, new_ids)
    }
    claimed = [i for i in indexes if i in found]
    if claimed:
        await conn.execute(
            INSERT_PERSONS,
            [found[i] for i in claimed],
            claimed,
            [unique[i][0] for i in claimed],
            now,
            [unique[i][1] for i in claimed],
        )
    known = [i for i in indexes if i not in found]
    if known:
        found.update(await find_person_ids(conn, known))
    return found


PERSON_COLUMNS = ("id", "id_number", "id_number_index", "name", "created_at")
_PERSON_COUNT = pgcopy.count(len(PERSON_COLUMNS))


def encoded_person(
    person_id: bytes, sealed_id_number: bytes, index: bytes, sealed_name: bytes, created_at: bytes
) -> bytes:
    """A new person (``seal_person``'s values, ``created_at`` by ``pgcopy.timestamptz``) as a binary COPY
    row for :func:`insert_encoded`."""
    return _PERSON_COUNT + pgcopy.fields(person_id, sealed_id_number, index, sealed_name) + created_at


CLAIM_COLUMNS = ("id_number_index", "person_id")
_CLAIM_COUNT = pgcopy.count(len(CLAIM_COLUMNS))


def encoded_claim(index: bytes, person_id: bytes) -> bytes:
    """A new person's entry in the ID-number index, as a binary COPY row for :func:`insert_encoded`."""
    return _CLAIM_COUNT + pgcopy.fields(index, person_id)


async def insert_encoded(conn: Conn, claims: list[bytes], rows: list[bytes]) -> None:
    """New persons by binary COPY, in the caller's transaction: for blind indexes just looked up and not
    found; ``claims`` (:func:`encoded_claim`) their entries in the ID-number index, ``rows``
    (:func:`encoded_person`) the persons. Unlike :func:`find_or_create_persons`, one that another
    transaction created meanwhile is an error (``UniqueViolationError``), not a find; claims in blind
    index order wait for such a transaction rather than deadlock with it."""
    await pgcopy.copy_rows(conn, "person_id_number", CLAIM_COLUMNS, claims)
    await pgcopy.copy_rows(conn, "person", PERSON_COLUMNS, rows)


async def find_person_ids(conn: Conn, indexes: list[bytes]) -> dict[bytes, UUID]:
    """The persons among these blind indexes that exist: blind index → person."""
    return {
        index: person_id
        for index, person_id in await conn.fetch(
            "SELECT id_number_index, person_id FROM person_id_number WHERE id_number_index = ANY($1::bytea[])",
            indexes,
        )
    }
