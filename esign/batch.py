"""Batch issuing: up to 10,000 certificates per request, each succeeding or failing on its own.

The work is arranged for throughput while keeping the single-certificate semantics. Items go
through it a chunk (1,000) at a time, so checking the later chunks overlaps signing and writing
the earlier ones:

1. Every item is checked on its own (type, issuing right, seal, holder, fields, validity); a bad
   item becomes a ``failed`` result with its problem document, and the rest go on.
2. ``external_ref`` replays are found with one query per chunk: the same body gives ``existing``,
   another body ``external_ref_conflict``. A ref repeated inside the batch is issued once.
3. Licence serials (one counter row per type) and status-list slots (a sequence) are reserved for
   a chunk in one short transaction, so nothing waits on them while signing runs. A reserved
   number whose item fails later stays unused, as a failed single issue leaves it.
4. Signing — building the canonical record, the claims and the ``ZB1:`` token, the ECDSA or SM2
   signature — runs in a process pool (one process per core) for large batches, chunk by chunk,
   while this process checks the next chunks and writes the ones already signed.
5. Each chunk is written in one transaction: holders' persons, the certificates (binary COPY),
   wallet items, change-log entries, ``certificate.issued`` outbox events and one audit entry naming
   every certificate of the chunk. If the chunk cannot commit (another request took one of its
   refs meanwhile, or PostgreSQL broke a deadlock with another batch), its items are issued again
   one by one through ``esign.service``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api import persons
from api.ids import uuid7_many
from api.problems import Problem, ProblemDocument
from api.wallet import closure
from api.wallet.errors import WalletClosed
from esign import batch_sign, batch_store, issuing, lists, seal_store, service
from esign import certificate_store as store
from esign.certificate_store import CertificateRow, CertificateView
from esign.errors import (
    CertificateStatusConflict,
    ExternalRefConflict,
    SealKeyHeldByDepartment,
)
from esign.issuing import CertType, Department, Holder
from esign.models import BatchResult, IssueIn
from esign.seal_store import SealRow
from esign.state import EsignState

CHUNK = 1000
LANES = 2
INLINE_BELOW = 500  # smaller batches are signed in this process: starting the pool costs more


def failed(index: int, exc: Problem) -> BatchResult:
    doc = ProblemDocument(type=exc.slug, title=exc.__doc__ or exc.slug, status=exc.status, detail=exc.detail,
                          errors=exc.errors)
    return BatchResult(index=index, status="failed", error=doc)


@dataclass(slots=True)
class Checked:
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
    id: UUID | None = None
    serial: str = ""
    slot: tuple[int, int] = (0, 0)


class _Context:
    """What the items of one batch share, looked up once each."""

    def __init__(self, conn: asyncpg.Connection, department_id: UUID, now: datetime) -> None:
        self.conn, self.department_id, self.now = conn, department_id, now
        self.issued_at = now.astimezone(UTC).replace(microsecond=0)
        self.today = now.astimezone(issuing.CHINA).date()
        self.types: dict[str, CertType | Problem] = {}
        self.seals: dict[UUID | None, SealRow | Problem] = {}
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
            ctype = await self._cached(self.types, item.type_code,
                                       lambda: service.load_type(self.conn, item.type_code, self.department_id))
        seal = self.seals.get(item.seal_id)
        if not isinstance(seal, SealRow):
            seal = await self._cached(self.seals, item.seal_id,
                                      lambda: service.pick_seal(self.conn, self.department_id, item.seal_id, now=self.now))
        if seal.key_custody != "platform":
            raise SealKeyHeldByDepartment("issue certificates of a department-held seal one at a time")
        holder = issuing.check_holder(ctype, item.holder, today=self.today)
        public, sensitive = issuing.check_fields(ctype, item.fields)
        key = (ctype.code, item.valid_from, item.valid_until)
        validity = self.validity.get(key)
        if validity is None:
            validity = self.validity[key] = issuing.check_validity(ctype, item.valid_from, item.valid_until,
                                                                   issued_at=self.issued_at)
        start, end = validity
        return Checked(index, item, issuing.request_hash(item), ctype, seal, holder, public, sensitive, start, end)


async def _reserve(conn: asyncpg.Connection, department_id: UUID, checked: list[Checked], now: datetime) -> None:
    """Serials per type and status slots for every item, committed at once (see the module docstring)."""
    year = issuing.serial_year(now)
    by_type: dict[str, list[Checked]] = {}
    for c in checked:
        by_type.setdefault(c.ctype.code, []).append(c)
    async with conn.transaction():
        for code, group in sorted(by_type.items()):
            first = await store.next_serials(conn, code, department_id, year, len(group))
            for offset, c in enumerate(group):
                c.serial = issuing.serial_text(year, first + offset)
        slots = await lists.allocate_slots(conn, len(checked))
    for c, slot, cid in zip(checked, slots, uuid7_many(len(checked)), strict=True):
        c.id, c.slot = cid, slot


def _specs(checked: Sequence[Checked], department: Department, issued_at: datetime) -> list[tuple]:
    iat = int(issued_at.timestamp())
    return [
        (
            c.id.bytes, c.ctype.gb_type_code, department.credit_code, c.serial, c.ctype.code,  # type: ignore[union-attr]
            (c.holder.kind, c.holder.name, c.holder.id_number, c.holder.credit_code), c.public, c.sensitive, iat,
            int(c.valid_from.timestamp()), int(c.valid_until.timestamp()) if c.valid_until else None,
            c.slot[0], c.slot[1], c.seal.kid,
        )
        for c in checked
    ]


def _row(
    c: Checked, signed: batch_sign.Signed, department: Department, person_id: UUID | None, *, actor: str,
    now: datetime, issued_at: datetime,
) -> CertificateRow:
    return CertificateRow(
        id=c.id, department_id=department.id, type_code=c.ctype.code, licence_id=signed.licence_id,  # type: ignore[arg-type]
        holder_kind=c.holder.kind, person_id=person_id, holder_name=signed.holder_name, holder_id=signed.holder_id,
        holder_index=signed.holder_index, holder_credit_code=c.holder.credit_code,
        holder_name_masked=c.holder.name_masked, holder_id_masked=c.holder.id_masked, fields=c.public,
        sealed_fields=signed.sealed_fields, seal_id=c.seal.id, issued_at=issued_at, valid_from=c.valid_from,
        valid_until=c.valid_until, status="valid", status_reason=None, status_changed_at=None,
        status_list_id=c.slot[0], status_index=c.slot[1], record_digest=signed.record_digest, to_be_signed=None,
        token=signed.token, external_ref=c.item.external_ref, request_hash=c.rhash,
        application_id=c.item.application_id, created_by=actor, created_at=now,
    )


async def _write_chunk(
    conn: asyncpg.Connection, department: Department, chunk: list[Checked], signed: list[Any], *,
    actor: str, now: datetime, issued_at: datetime,
) -> list[BatchResult]:
    """One transaction: persons, certificates, wallet items, change log, outbox, one audit entry."""
    results = [failed(c.index, s) for c, s in zip(chunk, signed, strict=True) if isinstance(s, Problem)]
    kept = [(c, s) for c, s in zip(chunk, signed, strict=True) if not isinstance(s, Problem)]
    people = [s.person for _, s in kept if s.person is not None]
    async with conn.transaction():
        person_ids = await persons.find_or_create_persons(conn, people, now=now) if people else {}
        closed = await closure.closed_among(conn, list(person_ids.values())) if person_ids else set()
        if closed:
            gone = [(c, s) for c, s in kept if s.holder_index and person_ids[s.holder_index] in closed]
            results += [failed(c.index, WalletClosed("the holder's wallet was closed at their death")) for c, _ in gone]
            kept = [(c, s) for c, s in kept if not (s.holder_index and person_ids[s.holder_index] in closed)]
        rows = [
            _row(c, s, department, person_ids[s.holder_index] if s.holder_index else None, actor=actor, now=now,
                 issued_at=issued_at)
            for c, s in kept
        ]
        await store.insert_certificates(conn, rows)
        await batch_store.deliver_many(conn, chunk_views(rows, [c for c, _ in kept], department), actor=actor,
                                       now=now)
    results += [BatchResult(index=c.index, status="issued", certificate_id=c.id) for c, _ in kept]
    return results


def chunk_views(rows: list[CertificateRow], kept: list[Checked], department: Department) -> list[CertificateView]:
    return [
        CertificateView(row=r, type_name=c.ctype.name, gb_type_code=c.ctype.gb_type_code,
                        department_name=department.name, department_credit_code=department.credit_code,
                        seal_kid=c.seal.kid, seal_algorithm=c.seal.algorithm)
        for r, c in zip(rows, kept, strict=True)
    ]


async def _one_by_one(
    conn: asyncpg.Connection, esign: EsignState, department_id: UUID, chunk: list[Checked], *, actor: str, now: datetime
) -> list[BatchResult]:
    results = []
    for c in chunk:
        try:
            async with conn.transaction():
                done = await service.issue_certificate(conn, esign, department_id=department_id, item=c.item,
                                                       actor=actor, now=now)
            status = "issued" if done.outcome == "issued" else "existing"
            results.append(BatchResult(index=c.index, status=status, certificate_id=done.certificate_id))
        except Problem as exc:
            results.append(failed(c.index, exc))
    return results


def _replayed(c: Checked, known: asyncpg.Record) -> BatchResult:
    if known["request_hash"] != c.rhash:
        return failed(c.index, ExternalRefConflict("this external_ref was used with another body"))
    if known["status"] == "pending":
        return failed(c.index, CertificateStatusConflict("this certificate waits for the department's signature"))
    return BatchResult(index=c.index, status="existing", certificate_id=known["id"])


async def issue_batch(
    pool: asyncpg.Pool, esign: EsignState, *, department_id: UUID, items: Sequence[IssueIn], actor: str,
    now: datetime, executor: Executor | None = None, chunk: int = CHUNK,
) -> list[BatchResult]:
    """Issue ``items`` for the department; one result per item, in order (see the module docstring).

    ``executor`` signs the chunks; by default the state's process pool for batches of
    ``INLINE_BELOW`` items or more, and this process for smaller ones.

    The items are checked, looked up and reserved a chunk at a time, and each chunk goes to signing
    as soon as it is ready, so checking the rest of a large batch overlaps signing and writing.
    """
    if executor is None and len(items) >= INLINE_BELOW:
        executor = await esign.executor()
    results: dict[int, BatchResult] = {}
    first_of: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    keys: dict[bytes, tuple[str, bytes]] = {}
    ready: asyncio.Queue[tuple[list[Checked], Any] | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    department: Department | None = None
    ctx: _Context | None = None

    async def produce(conn: asyncpg.Connection) -> None:
        nonlocal department, ctx
        department = await seal_store.get_department(conn, department_id)
        assert department is not None
        ctx = _Context(conn, department_id, now)
        for start in range(0, len(items), chunk):
            checked = []
            for i in range(start, min(start + chunk, len(items))):
                item = items[i]
                if item.external_ref in first_of:
                    repeats.append((i, first_of[item.external_ref]))
                    continue
                first_of[item.external_ref] = i
                try:
                    checked.append(await ctx.check(i, item))
                except Problem as exc:
                    results[i] = failed(i, exc)
            known = await store.find_external_refs(conn, department_id, [c.item.external_ref for c in checked])
            fresh = []
            for c in checked:
                if c.item.external_ref in known:
                    results[c.index] = _replayed(c, known[c.item.external_ref])
                else:
                    fresh.append(c)
            if not fresh:
                continue
            await _reserve(conn, department_id, fresh, now)
            for c in fresh:
                if c.seal.kid not in keys:
                    keys[c.seal.kid] = (c.seal.algorithm, await esign.private_key_der(conn, c.seal))
            job = None
            if executor is not None:
                job = loop.run_in_executor(executor, batch_sign.sign_specs, dict(keys),
                                           _specs(fresh, department, ctx.issued_at))
            ready.put_nowait((fresh, job))

    async def lane(conn: asyncpg.Connection) -> None:
        # Two lanes, each with its own connection: while one waits for PostgreSQL to take a chunk,
        # the other builds the next one.
        while (entry := await ready.get()) is not None:
            part, job = entry
            assert department is not None and ctx is not None
            if job is None:
                signed = batch_sign.sign_specs(keys, _specs(part, department, ctx.issued_at), esign.keyring)
            else:
                signed = await job
            try:
                done = await _write_chunk(conn, department, part, signed, actor=actor, now=now,
                                          issued_at=ctx.issued_at)
            except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
                done = await _one_by_one(conn, esign, department_id, part, actor=actor, now=now)
            results.update((r.index, r) for r in done)

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
    if issuing.request_hash(item) != issuing.request_hash(first_item):
        return failed(index, ExternalRefConflict("this external_ref was used with another body"))
    if first.status == "failed":
        return msgspec.structs.replace(first, index=index)
    return BatchResult(index=index, status="existing", certificate_id=first.certificate_id)
