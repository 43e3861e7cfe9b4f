"""Batch issuing: up to 10,000 certificates per request, each succeeding or failing on its own.

The work is arranged for throughput while keeping the single-certificate semantics. Items go
through it a chunk (1,000) at a time, so checking the later chunks overlaps signing and writing
the earlier ones:

1. Every item is checked on its own (type, issuing right, seal, holder, fields, validity); a bad
   item becomes a ``failed`` result with its problem document, and the rest go on.
   An item held by an organisation is then issued on its own through ``esign.flows``, as a
   single issue is, so that it registers the entity (``esign.flows._organisation``).
2. ``external_ref`` replays are found with one query per chunk: the same body gives ``existing``,
   another body ``external_ref_conflict``. A ref repeated inside the batch is issued once.
3. Licence serials (one counter row per type) and status-list slots (a sequence) are reserved for
   a chunk in one short transaction, so nothing waits on them while signing runs. A reserved
   number whose item fails later stays unused, as a failed single issue leaves it. Each holder's
   person is looked up by blind index, and a holder not found gets the id its new person row will
   have, so the rows can be made whole before they are written.
4. Signing — building the canonical record, the claims and the ``ZB1:`` token, the ECDSA or SM2
   signature, sealing the personal data and encoding every row for binary COPY — runs in the
   ``executor`` the caller gives (``esign.batch.jobs``: the process pool of a ``zhangban worker``, a
   thread in ``serve``), chunk by chunk, while this process checks the next chunks and writes the
   ones already signed.
5. Each chunk is written in one transaction: new holders' persons, the certificates, wallet items,
   change-log entries, ``certificate.issued`` outbox events (each by binary COPY of the rows the
   signing made) and one audit entry naming every certificate of the chunk. If the chunk cannot
   commit (another request took one of its refs or created one of its new holders meanwhile, or
   PostgreSQL broke a deadlock with another batch), its items are issued again one by one through
   ``esign.flows``.

With a ``batch_id`` (``esign.batch.jobs``), each item's result is written in the transaction that
settles it (``record``): the chunk's, the one-by-one retry's, or a short one of its own for items
refused before signing. A batch taken up again after a crash passes what was recorded as ``done``
and goes on with the rest, so no item is issued twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

import auth
import wallet
from api.kernel import audit, changelog, outbox, pgcopy
from api.kernel.db import Conn
from api.kernel.ids import uuid7_many
from api.kernel.problems import Problem, ProblemDocument
from esign import flows, lists, service
from esign.batch import rows as batch_rows
from esign.batch import sign as batch_sign
from esign.errors import (
    CertificateStatusConflict,
    ExternalRefConflict,
    SealKeyHeldByDepartment,
)
from esign.models import BatchResult, IssueIn
from esign.service import CertType, Department, Holder
from esign.state import EsignState
from esign.store import certificate as store
from esign.store import seal as seal_store
from esign.store.seal import SealRow
from wallet import WalletClosed

CHUNK = 1000
LANES = 2
INLINE_BELOW = 500  # smaller batches are signed in this process: handing them to the pool costs more

RECORD_RESULTS = """
WITH settled AS (
    INSERT INTO esign_certificate_batch_result (batch_id, index, status, certificate_id, error)
    SELECT $1, r.index, r.status, r.certificate_id, r.error
    FROM unnest($2::int[], $3::text[], $4::uuid[], $5::json[]) AS r (index, status, certificate_id, error)
    ON CONFLICT DO NOTHING
    RETURNING status
)
UPDATE esign_certificate_batch b
SET issued = b.issued + s.issued, existing = b.existing + s.existing, failed = b.failed + s.failed
FROM (SELECT count(*) FILTER (WHERE status = 'issued') AS issued, count(*) FILTER (WHERE status = 'existing') AS existing,
             count(*) FILTER (WHERE status = 'failed') AS failed FROM settled) s
WHERE b.id = $1
"""


COUNT_RESULTS = """
UPDATE esign_certificate_batch SET issued = issued + $2, existing = existing + $3, failed = failed + $4 WHERE id = $1
"""
RESULT_COLUMNS = ("batch_id", "index", "status", "certificate_id", "error")


async def record(conn: Conn, batch_id: UUID | None, results: Sequence[BatchResult], *, fresh: bool = False) -> None:
    """Write ``results`` as the batch's settled items and count them, in the caller's transaction.

    An item settled already (by a worker whose lease ran out while it was still at work) keeps its
    first result and is not counted again. ``fresh``: the items are known to be settled by no one
    else (a chunk that has just issued them): they go by COPY, and one settled after all breaks the
    transaction (``UniqueViolationError``).
    """
    if batch_id is None or not results:
        return
    if not fresh:
        await conn.execute(
            RECORD_RESULTS,
            batch_id,
            [r.index for r in results],
            [r.status for r in results],
            [r.certificate_id for r in results],
            [r.error for r in results],
        )
        return
    await conn.copy_records_to_table(
        "esign_certificate_batch_result",
        columns=RESULT_COLUMNS,
        records=[(batch_id, r.index, r.status, r.certificate_id, r.error) for r in results],
    )
    statuses = [r.status for r in results]
    await conn.execute(
        COUNT_RESULTS, batch_id, statuses.count("issued"), statuses.count("existing"), statuses.count("failed")
    )


def failed(index: int, exc: Problem) -> BatchResult:
    doc = ProblemDocument(
        type=exc.slug, title=exc.__doc__ or exc.slug, status=exc.status, detail=exc.detail, errors=exc.errors
    )
    return BatchResult(index=index, status="failed", error=doc)


class Checked(msgspec.Struct, gc=False):
    """An item that passed its checks; ``_reserve`` and ``_Context.place_holders`` fill in the rest.

    Untracked by the cycle collector, as the request's items: it refers to them and to the type and
    seal the batch shares, never back to itself.
    """

    index: int
    item: IssueIn
    rhash: bytes
    ctype: CertType
    seal: SealRow
    holder: Holder
    public: dict[str, Any]
    sensitive: dict[str, Any]
    valid_from: datetime
    valid_until: datetime | None
    holder_index: bytes | None = None
    id: UUID | None = None
    serial: str = ""
    slot: tuple[int, int] = (0, 0)
    person_id: UUID | None = None
    new_person: int = batch_rows.KNOWN_PERSON


class _Context:
    """What the items of one batch share, looked up once each."""

    def __init__(self, conn: Conn, esign: EsignState, department_id: UUID, now: datetime, *, actor: str) -> None:
        self.conn, self.department_id, self.now, self.actor = conn, department_id, now, actor
        self.keyring = esign.keyring
        self.index = esign.keyring.indexer(purpose=auth.INDEX_PURPOSE)  # auth.id_number_index
        self.new_persons: dict[bytes, UUID] = {}  # blind index → id, for holders new to this batch
        self.issued_at = now.astimezone(UTC).replace(microsecond=0)
        self.today = now.astimezone(service.CHINA).date()
        self.types: dict[str, CertType | Problem] = {}
        self.seals: dict[UUID | None, SealRow | Problem] = {}
        self.fields_checkers: dict[str, Any] = {}
        # Items mostly share their validity: one pair of datetimes for them all, whose hashes (later
        # used as keys) are then computed once.
        self.validity: dict[tuple, tuple[datetime, datetime | None]] = {}

    async def _cached(self, cache: dict, key: Any, load: Any) -> Any:
        if key not in cache:
            try:
                cache[key] = await load()
            except Problem as exc:
                cache[key] = exc
        value = cache[key]
        if isinstance(value, Problem):
            raise value
        return value

    async def check(self, index: int, item: IssueIn) -> Checked:
        # A batch names one or two types and seals: after the first item, straight from the caches.
        ctype = self.types.get(item.type_code)
        if not isinstance(ctype, CertType):
            ctype = await self._cached(
                self.types,
                item.type_code,
                lambda: flows.load_type(self.conn, item.type_code, self.department_id, actor=self.actor),
            )
        seal = self.seals.get(item.seal_id)
        if not isinstance(seal, SealRow):
            seal = await self._cached(
                self.seals,
                item.seal_id,
                lambda: flows.pick_seal(self.conn, self.department_id, item.seal_id, now=self.now),
            )
        if seal.key_custody != "platform":
            raise SealKeyHeldByDepartment("issue certificates of a department-held seal one at a time")
        holder = service.check_holder(ctype, item.holder, today=self.today)
        check_fields = self.fields_checkers.get(ctype.code)
        if check_fields is None:
            check_fields = self.fields_checkers[ctype.code] = service.fields_checker(ctype)
        public, sensitive = check_fields(item.fields)
        key = (ctype.code, item.valid_from, item.valid_until)
        validity = self.validity.get(key)
        if validity is None:
            validity = self.validity[key] = service.check_validity(
                ctype, item.valid_from, item.valid_until, issued_at=self.issued_at
            )
        start, end = validity
        return Checked(
            index,
            item,
            service.request_hash(item),
            ctype,
            seal,
            holder,
            public,
            sensitive,
            start,
            end,
            self.index(holder.id_number) if holder.id_number else None,
        )

    async def place_holders(self, checked: list[Checked]) -> dict[int, Problem]:
        """Each person holder's id: the person's who has the ID number, or the one a new person will get.

        A holder new to an earlier chunk of the batch keeps the id given there (that chunk may not be
        written yet); the writing transaction makes sure no one else created the person meanwhile.
        Answers the items whose holder is known under another name (``holder_mismatch``), by index.
        """
        wanted = [
            c.holder_index for c in checked if c.holder_index is not None and c.holder_index not in self.new_persons
        ]
        existing = await auth.find_person_names(self.conn, wanted) if wanted else {}
        fresh = iter(uuid7_many(len(wanted) - len(existing)))
        refused: dict[int, Problem] = {}
        for c in checked:
            if c.holder_index is None:
                continue
            known = existing.get(c.holder_index)
            c.person_id = known[0] if known else None
            if known is not None:
                try:
                    auth.check_holder_name(self.keyring, known[1], c.holder.name, field="holder.name")
                except Problem as exc:
                    refused[c.index] = exc
            if c.person_id is None:
                c.person_id = self.new_persons.get(c.holder_index)
                if c.person_id is None:
                    c.new_person, c.person_id = batch_rows.NEW_PERSON, next(fresh)
                    self.new_persons[c.holder_index] = c.person_id
                else:
                    c.new_person = batch_rows.NEW_AGAIN
        return refused


async def _reserve(conn: Conn, department_id: UUID, checked: list[Checked], now: datetime) -> None:
    """Serials per type and status slots for every item, committed at once (see the module docstring)."""
    year = service.serial_year(now)
    by_type: dict[str, list[Checked]] = {}
    for c in checked:
        by_type.setdefault(c.ctype.code, []).append(c)
    async with conn.transaction():
        for code, group in sorted(by_type.items()):
            first = await store.next_serials(conn, code, department_id, year, len(group))
            for offset, c in enumerate(group):
                c.serial = service.serial_text(year, first + offset)
        slots = await lists.allocate_slots(conn, len(checked))
    for c, slot, cid in zip(checked, slots, uuid7_many(len(checked)), strict=True):
        c.id, c.slot = cid, slot


def _items(
    checked: Sequence[Checked], department: Department, issued_at: datetime
) -> list[tuple[tuple, batch_rows.Place]]:
    """What the signing processes get per item: the signing spec (``batch_sign.sign_spec``) and its place."""
    iat = int(issued_at.timestamp())
    return [
        (
            (
                batch_rows.placed(c.id).bytes,
                c.ctype.gb_type_code,
                department.credit_code,
                c.serial,
                c.ctype.code,
                (c.holder.kind, c.holder.name, c.holder.id_number, c.holder.credit_code),
                c.public,
                c.sensitive,
                iat,
                int(c.valid_from.timestamp()),
                int(c.valid_until.timestamp()) if c.valid_until else None,
                c.slot[0],
                c.slot[1],
                service.field_numbers(c.ctype),
                c.seal.kid,
            ),
            batch_rows.Place(
                c.person_id.bytes if c.person_id else None,
                c.holder_index,
                c.new_person,
                c.ctype.name,
                c.seal.id.bytes,
                c.item.external_ref,
                c.rhash,
                c.item.application_id.bytes if c.item.application_id else None,
            ),
        )
        for c in checked
    ]


class _HolderTaken(Exception):
    """Another writer created a person this chunk took for new, under another id."""


async def _write_chunk(
    conn: Conn,
    department: Department,
    chunk: list[Checked],
    rows: batch_rows.ChunkRows,
    *,
    actor: str,
    now: datetime,
    batch_id: UUID | None = None,
    early: Sequence[BatchResult] = (),
) -> list[BatchResult]:
    """One transaction: persons, certificates, wallet items, change log, outbox, one audit entry, and
    the results of the chunk's items (with ``early``, those refused before signing)."""
    results = [failed(chunk[i].index, exc) for i, exc in rows.failed.items()]
    kept = [i for i in range(len(chunk)) if i not in rows.failed] if rows.failed else list(range(len(chunk)))
    async with conn.transaction():
        # The batch's first item of a new holder writes the person, by COPY: someone else who created it
        # meanwhile breaks the chunk (UniqueViolationError). Later items of that holder find it, or
        # create it should that item's chunk not be written.
        first = sorted(
            (i for i in kept if chunk[i].new_person == batch_rows.NEW_PERSON),
            key=lambda i: batch_rows.placed(chunk[i].holder_index),
        )
        claims = [
            auth.encoded_claim(batch_rows.placed(chunk[i].holder_index), batch_rows.placed(chunk[i].person_id).bytes)
            for i in first
        ]
        await auth.insert_encoded(conn, claims, [rows.persons.pick(first)])
        again = [i for i in kept if i in rows.again]
        if again:
            ids = {batch_rows.placed(chunk[i].holder_index): batch_rows.placed(chunk[i].person_id) for i in again}
            found = await auth.find_or_create_persons(
                conn, [(batch_rows.placed(chunk[i].holder_index), *rows.again[i]) for i in again], now=now, ids=ids
            )
            if any(found[index] != person for index, person in ids.items()):
                raise _HolderTaken()
        holders = [person for i in kept if (person := chunk[i].person_id) is not None]
        closed = await wallet.closed_among(conn, holders) if holders else set()
        if closed:
            results += [
                failed(chunk[i].index, WalletClosed("the holder's wallet was closed at their death"))
                for i in kept
                if chunk[i].person_id in closed
            ]
            kept = [i for i in kept if chunk[i].person_id not in closed]
        whole = len(kept) == len(chunk)  # as good as always: then the rows go as the signing joined them
        for table, columns, packed in (
            ("esign_certificate_key", batch_rows.KEY_COLUMNS, rows.keys),
            ("esign_certificate", batch_rows.CERTIFICATE_COLUMNS, rows.certificates),
            ("wallet_item", batch_rows.WALLET_ITEM_COLUMNS, rows.wallet_items),
        ):
            await pgcopy.copy_rows(conn, table, columns, [packed.data if whole else packed.pick(kept)])
        await changelog.record_encoded_puts(
            conn,
            [(batch_rows.placed(chunk[i].person_id), change) for i in kept if (change := rows.changes[i]) is not None],
            new_persons={batch_rows.placed(chunk[i].person_id) for i in first},
        )
        await outbox.enqueue_encoded(conn, [rows.events.data if whole else rows.events.pick(kept)])
        if kept:
            certificate_ids = [str(chunk[i].id) for i in kept]
            await audit.append(
                conn,
                actor=actor,
                action="esign.certificates_issued",
                subject=str(department.id),
                data={"count": len(certificate_ids), "certificates": certificate_ids},
                at=now,
            )
        results += [BatchResult(index=chunk[i].index, status="issued", certificate_id=chunk[i].id) for i in kept]
        # By COPY: a chunk whose items another worker settled meanwhile has broken already (their
        # external_refs), and should it not have, this breaks it, to be redone one by one.
        await record(conn, batch_id, [*early, *results], fresh=True)
    return results


async def _one_by_one(
    conn: Conn,
    esign: EsignState,
    department_id: UUID,
    chunk: list[Checked],
    *,
    actor: str,
    now: datetime,
    batch_id: UUID | None = None,
    early: Sequence[BatchResult] = (),
) -> list[BatchResult]:
    if early:
        async with conn.transaction():
            await record(conn, batch_id, early)
    results = []
    for c in chunk:
        try:
            async with conn.transaction():
                done = await flows.issue_certificate(
                    conn, esign, department_id=department_id, item=c.item, actor=actor, now=now
                )
                result = BatchResult(
                    index=c.index,
                    status="issued" if done.outcome == "issued" else "existing",
                    certificate_id=done.certificate_id,
                )
                await record(conn, batch_id, [result])
        except Problem as exc:
            result = failed(c.index, exc)
            async with conn.transaction():
                await record(conn, batch_id, [result])
        results.append(result)
    return results


def _replayed(c: Checked, known: asyncpg.Record) -> BatchResult:
    if known["request_hash"] != c.rhash:
        return failed(c.index, ExternalRefConflict("this external_ref was used with another body"))
    if known["status"] == "pending":
        return failed(c.index, CertificateStatusConflict("this certificate waits for the department's signature"))
    return BatchResult(index=c.index, status="existing", certificate_id=known["id"])


async def issue_batch(
    pool: asyncpg.Pool,
    esign: EsignState,
    *,
    department_id: UUID,
    items: Sequence[IssueIn],
    actor: str,
    now: datetime,
    executor: Executor | None = None,
    chunk: int = CHUNK,
    batch_id: UUID | None = None,
    done: dict[int, BatchResult] | None = None,
) -> list[BatchResult]:
    """Issue ``items`` for the department; one result per item, in order (see the module docstring).

    ``executor`` signs the chunks; without one they are signed in this process, between the writes
    (``esign.batch.jobs`` hands a process pool only batches of ``INLINE_BELOW`` items or more). ``done``: the items settled before (by index),
    which are not issued again; their results are part of the answer. With ``batch_id`` every other
    result is recorded as it is settled, except those of items repeating an earlier item's
    ``external_ref``, which the caller records (they follow from the first's).

    The items are checked, looked up and reserved a chunk at a time, and each chunk goes to signing
    as soon as it is ready, so checking the rest of a large batch overlaps signing and writing.
    """
    results: dict[int, BatchResult] = dict(done or {})
    first_of: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    keys: dict[bytes, tuple[str, bytes]] = {}
    ready: asyncio.Queue[tuple[list[Checked], Any, list[BatchResult]] | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    department: Department | None = None
    ctx: _Context | None = None
    shared: batch_rows.Chunk | None = None

    async def produce(conn: Conn) -> None:
        nonlocal department, ctx, shared
        department = await seal_store.get_department(conn, department_id)
        assert department is not None
        ctx = _Context(conn, esign, department_id, now, actor=actor)
        shared = batch_rows.Chunk(department_id.bytes, department.name, actor, now, ctx.issued_at)
        for start in range(0, len(items), chunk):
            checked = []
            early: list[BatchResult] = []  # settled before signing: recorded with the chunk
            for i in range(start, min(start + chunk, len(items))):
                item = items[i]
                if item.external_ref in first_of:
                    if i not in results:
                        repeats.append((i, first_of[item.external_ref]))
                    continue
                first_of[item.external_ref] = i
                if i in results:
                    continue
                try:
                    checked.append(await ctx.check(i, item))
                except Problem as exc:
                    early.append(failed(i, exc))
            # An organisation's certificate is issued as a single one is (``esign.flows``): it registers
            # the entity (its wallet; a 营业执照 its 法定代表人 and life event, 公章刻制备案 its e-seal). Few
            # per batch, they do not need the chunk's bulk path.
            entities = [c for c in checked if c.holder.kind == "organisation"]
            if entities:
                checked = [c for c in checked if c.holder.kind != "organisation"]
                results.update(
                    (r.index, r)
                    for r in await _one_by_one(
                        conn, esign, department_id, entities, actor=actor, now=now, batch_id=batch_id
                    )
                )
            known = (
                await store.find_external_refs(conn, department_id, [c.item.external_ref for c in checked])
                if checked
                else {}
            )
            fresh = []
            for c in checked:
                if c.item.external_ref in known:
                    early.append(_replayed(c, known[c.item.external_ref]))
                else:
                    fresh.append(c)
            if fresh:
                refused = await ctx.place_holders(fresh)
                if refused:
                    early += [failed(i, exc) for i, exc in refused.items()]
                    fresh = [c for c in fresh if c.index not in refused]
            results.update((r.index, r) for r in early)
            if not fresh:
                if early and batch_id is not None:
                    async with conn.transaction():
                        await record(conn, batch_id, early)
                continue
            await _reserve(conn, department_id, fresh, now)
            for c in fresh:
                if c.seal.kid not in keys:
                    keys[c.seal.kid] = (c.seal.algorithm, await esign.private_key_der(conn, c.seal))
            job = None
            if executor is not None:
                # A signing process has the keyring its initialiser made; a thread shares this one.
                keyring = None if isinstance(executor, ProcessPoolExecutor) else esign.keyring
                job = loop.run_in_executor(
                    executor,
                    batch_sign.issue_rows,
                    dict(keys),
                    shared,
                    _items(fresh, department, ctx.issued_at),
                    keyring,
                )
            ready.put_nowait((fresh, job, early))

    async def lane(conn: Conn) -> None:
        # Two lanes, each with its own connection: while one waits for PostgreSQL to take a chunk,
        # the other builds the next one.
        while (entry := await ready.get()) is not None:
            part, job, early = entry
            assert department is not None and ctx is not None and shared is not None
            if job is None:
                rows = batch_sign.issue_rows(keys, shared, _items(part, department, ctx.issued_at), esign.keyring)
            else:
                rows = await job
            try:
                written = await _write_chunk(
                    conn, department, part, rows, actor=actor, now=now, batch_id=batch_id, early=early
                )
            except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError, _HolderTaken):
                written = await _one_by_one(
                    conn, esign, department_id, part, actor=actor, now=now, batch_id=batch_id, early=early
                )
            results.update((r.index, r) for r in written)

    async def second_lane() -> None:
        async with pool.acquire() as conn:
            await lane(conn)

    # One connection checks and reserves, then writes as the first lane; the second lane writes
    # from the first chunk on. Extra lanes for a batch of one chunk would only hold a connection.
    others = [asyncio.ensure_future(second_lane()) for _ in range(min(LANES, -(-len(items) // chunk)) - 1)]
    try:
        async with pool.acquire() as conn:
            await produce(conn)
            for _ in range(len(others) + 1):
                ready.put_nowait(None)
            await lane(conn)
        await asyncio.gather(*others)
    finally:
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        while not ready.empty():  # after a failure: chunks nobody will write need no signing
            entry = ready.get_nowait()
            if entry is not None and entry[1] is not None:
                entry[1].cancel()
    for i, first in repeats:
        results[i] = _repeat(results[first], items[i], items[first], i)
    return [results[i] for i in range(len(items))]


def _repeat(first: BatchResult, item: IssueIn, first_item: IssueIn, index: int) -> BatchResult:
    """The outcome of an item whose ``external_ref`` came earlier in the same batch."""
    if service.request_hash(item) != service.request_hash(first_item):
        return failed(index, ExternalRefConflict("this external_ref was used with another body"))
    if first.status == "failed":
        return msgspec.structs.replace(first, index=index)
    return BatchResult(index=index, status="existing", certificate_id=first.certificate_id)
