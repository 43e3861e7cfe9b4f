"""What a batch-issued certificate writes, encoded by the signing process for binary COPY.

The same rows the single path writes (``esign.flows`` and ``esign.delivery``): the certificate and its
entry in ``esign_certificate_key`` (``esign.store.certificate``: what is unique across holders), the
holder's wallet item and its change-log entry (``api.kernel.changelog.encoded_put``), and the
``certificate.issued`` outbox event (``api.kernel.outbox.encoded_event``). The process that talks to the
database adds what only it learns in the writing transaction, the change-log version, and sends the
rows as they are (``api.kernel.pgcopy.copy_rows``). Columns whose value a
chunk shares (department, times, type, seal, validity) are encoded once and joined into each row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, NamedTuple, TypeVar

import msgspec

import auth
from api.kernel import changelog, outbox, pgcopy
from api.kernel.ids import uuid7_many
from esign import service
from esign.errors import EsignError

CERTIFICATE_COLUMNS = (
    "department_id",
    "issued_at",
    "status",
    "created_by",
    "created_at",  # the chunk's
    "type_code",
    "holder_kind",
    "seal_id",
    "valid_from",
    "valid_until",
    "status_list_id",  # mostly shared
    "id",
    "licence_id",
    "person_id",
    "holder_name",
    "holder_id",
    "holder_index",
    "holder_credit_code",
    "holder_name_masked",
    "holder_id_masked",
    "fields",
    "sealed_fields",
    "status_index",
    "record_digest",
    "token",
    "external_ref",
    "request_hash",
    "application_id",
    "record_salt",
)
KEY_COLUMNS = ("id", "person_id", "department_id", "external_ref", "licence_id", "status_list_id", "status_index")
WALLET_ITEM_COLUMNS = (
    "kind",
    "at",
    "created_at",
    "updated_at",
    "title",
    "id",
    "person_id",
    "certificate_id",
    "application_id",
    "summary",
    "data",
)


class Chunk(NamedTuple):
    """What every certificate of a chunk shares."""

    department_id: bytes
    department_name: str
    actor: str
    now: datetime
    issued_at: datetime


KNOWN_PERSON, NEW_PERSON, NEW_AGAIN = 0, 1, 2  # NEW_AGAIN: new to the batch, made by an earlier item

_T = TypeVar("_T")


def placed(value: _T | None) -> _T:
    """What reserving and placing filled in before signing (an item's id; a person holder's id and, if
    new, its blind index)."""
    if value is None:
        raise RuntimeError("an item reached signing or writing without its place")
    return value


class Place(NamedTuple):
    """Where one certificate goes, decided before signing."""

    person_id: bytes | None  # None for an organisation
    holder_index: bytes | None  # blind index of the ID number
    new_person: int  # KNOWN_PERSON, NEW_PERSON (its row is written with the certificate) or NEW_AGAIN
    type_name: str
    seal_id: bytes
    external_ref: str
    request_hash: bytes
    application_id: bytes | None


class Rows(NamedTuple):
    """What one certificate writes."""

    # A new holder's person row (auth.persons.encoded_person) or, for NEW_AGAIN, its sealed ID number and
    # name, for auth.persons.find_or_create_persons.
    person: bytes | tuple[bytes, bytes] | None
    certificate: bytes
    key: bytes  # the certificate's entry in esign_certificate_key
    wallet_item: bytes | None  # person holders only, as the two below
    change: bytes | None  # api.kernel.changelog.encoded_put
    event: bytes  # api.kernel.outbox.encoded_event


class Packed(NamedTuple):
    """One table's rows for a chunk's items, joined: item ``i``'s are ``data[ends[i - 1]:ends[i]]``, empty
    when it has none.

    One bytes object crosses back from the signing process instead of a thousand: pickling them one by
    one cost the signing process ~7 µs a certificate.
    """

    data: bytes
    ends: list[int]

    @classmethod
    def of(cls, rows: Iterable[bytes]) -> Packed:
        parts = list(rows)
        return cls(b"".join(parts), list(accumulate(map(len, parts))))

    def pick(self, positions: Iterable[int]) -> bytes:
        """The rows of the items at ``positions``, joined."""
        ends = self.ends
        return b"".join(self.data[ends[i - 1] if i else 0 : ends[i]] for i in positions)


class ChunkRows(NamedTuple):
    """What a chunk's items write, by position in the chunk (``batch_sign.issue_rows``)."""

    failed: dict[int, EsignError]  # the items that could not be signed, and why
    persons: Packed  # the NEW_PERSON rows
    again: dict[int, tuple[bytes, bytes]]  # the NEW_AGAIN holders' sealed ID number and name
    certificates: Packed
    keys: Packed
    wallet_items: Packed
    changes: list[bytes | None]  # Rows.change of each item
    events: Packed

    @classmethod
    def of(cls, rows: list[Rows | EsignError]) -> ChunkRows:
        failed = {i: r for i, r in enumerate(rows) if isinstance(r, EsignError)}
        ok = [_NONE if isinstance(r, EsignError) else r for r in rows]
        return cls(
            failed,
            Packed.of(r.person if type(r.person) is bytes else b"" for r in ok),
            {i: r.person for i, r in enumerate(ok) if type(r.person) is tuple},
            Packed.of(r.certificate for r in ok),
            Packed.of(r.key for r in ok),
            Packed.of(r.wallet_item or b"" for r in ok),
            [r.change for r in ok],
            Packed.of(r.event for r in ok),
        )


_NONE = Rows(None, b"", b"", None, None, b"")
_KEY_COUNT = pgcopy.count(len(KEY_COLUMNS))


_json = msgspec.json.Encoder().encode


def uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_RFC3339: dict[int, str] = {}


def rfc3339(seconds: int) -> str:
    """``service.rfc3339`` of whole seconds; a batch shares a handful of times, so each is made once."""
    text = _RFC3339.get(seconds)
    if text is None:
        if len(_RFC3339) > 4096:
            _RFC3339.clear()
        text = _RFC3339[seconds] = service.rfc3339(datetime.fromtimestamp(seconds, UTC))
    return text


class Encoder:
    """The rows of one chunk's certificates (``__call__`` per certificate)."""

    def __init__(self, chunk: Chunk, count: int) -> None:
        c = chunk
        self.chunk = chunk
        self.department_text = uuid_text(c.department_id)
        issued_at, self.created_at = pgcopy.timestamptz(c.issued_at), pgcopy.timestamptz(c.now)
        self.certificate_head = b"".join(
            (
                pgcopy.count(len(CERTIFICATE_COLUMNS)),
                pgcopy.uuid(c.department_id),
                issued_at,
                pgcopy.text("valid"),
                pgcopy.text(c.actor),
                self.created_at,
            )
        )
        self.item_head = (
            pgcopy.count(len(WALLET_ITEM_COLUMNS)) + pgcopy.text("certificate") + issued_at + self.created_at * 2
        )
        self.shared: dict[tuple, bytes] = {}  # a type, holder kind, seal and validity: their columns, encoded once
        self.item_ids = iter(uuid7_many(count))

    def _shared(self, type_code: str, kind: str, seal_id: bytes, start: int, end: int | None, list_id: int) -> bytes:
        key = (type_code, kind, seal_id, start, end, list_id)
        found = self.shared.get(key)
        if found is None:
            found = self.shared[key] = b"".join(
                (
                    pgcopy.text(type_code),
                    pgcopy.text(kind),
                    pgcopy.uuid(seal_id),
                    pgcopy.timestamptz_seconds(start),
                    pgcopy.NULL if end is None else pgcopy.timestamptz_seconds(end),
                    pgcopy.int4(list_id),
                )
            )
        return found

    def __call__(self, spec: tuple, place: Place, signed: Any, person: tuple[bytes, bytes] | None) -> Rows:
        """The rows of one certificate; ``person`` is the sealed ID number and name of a new holder."""
        (
            cid,
            _gb,
            _issuer,
            _serial,
            type_code,
            holder,
            public,
            _sensitive,
            _iat,
            start,
            end,
            list_id,
            index,
            _numbers,
            _kid,
        ) = spec
        kind, _name, _id_number, credit_code = holder
        fields = _json(public)
        certificate = b"".join(
            (
                self.certificate_head,
                self._shared(type_code, kind, place.seal_id, start, end, list_id),
                pgcopy.fields(
                    cid,
                    signed.licence_id,
                    place.person_id,
                    signed.holder_name,
                    signed.holder_id,
                    place.holder_index,
                    credit_code,
                    signed.name_masked,
                    signed.id_masked,
                    pgcopy.JSONB_VERSION + fields,
                    signed.sealed_fields,
                    index.to_bytes(4, "big"),
                    signed.record_digest,
                    signed.token,
                    place.external_ref,
                    place.request_hash,
                    place.application_id,
                    signed.record_salt,
                ),
            )
        )
        key = _KEY_COUNT + pgcopy.fields(
            cid,
            place.person_id,
            self.chunk.department_id,
            place.external_ref,
            signed.licence_id,
            list_id.to_bytes(4, "big"),
            index.to_bytes(4, "big"),
        )
        certificate_id = uuid_text(cid)
        application = None if place.application_id is None else uuid_text(place.application_id)
        person_text = None if place.person_id is None else uuid_text(place.person_id)
        event = {  # esign.delivery.issued_event
            "certificate_id": certificate_id,
            "department_id": self.department_text,
            "type_code": type_code,
            "type_name": place.type_name,
            "licence_id": signed.licence_id,
            "person_id": person_text,
            "application_id": application,
        }
        event_row = outbox.encoded_event(
            "certificate.issued",
            _json(event),
            dedup_key=f"certificate.issued:{certificate_id}",
            partition_key=self.department_text,
        )
        person_row: bytes | tuple[bytes, bytes] | None = person
        if person is not None and place.new_person == NEW_PERSON:
            person_row = auth.encoded_person(
                placed(place.person_id), person[0], placed(place.holder_index), person[1], self.created_at
            )
        if place.person_id is None:
            return Rows(person_row, certificate, key, None, None, event_row)
        item_id = next(self.item_ids)
        summary = _json(
            {  # esign.delivery.wallet_summary
                "type_code": type_code,
                "type_name": place.type_name,
                "licence_id": signed.licence_id,
                "issuer_name": self.chunk.department_name,
                "status": "valid",
                "valid_until": None if end is None else rfc3339(end),
            }
        )
        data = _json(
            {  # esign.delivery.wallet_data
                "certificate_id": certificate_id,
                "fields": msgspec.Raw(fields),
                "status": "valid",
                "valid_from": rfc3339(start),
                "status_ref": [list_id, index],
            }
        )
        item = self.item_head + pgcopy.fields(
            place.type_name,
            item_id.bytes,
            place.person_id,
            cid,
            place.application_id,
            summary,
            data,
        )
        synced = _json(
            {  # esign.delivery.synced_data of the item: its data with the token
                "id": item_id,
                "person_id": person_text,
                "kind": "certificate",
                "title": place.type_name,
                "at": self.chunk.issued_at,
                "summary": msgspec.Raw(summary),
                "certificate_id": certificate_id,
                "application_id": application,
                "bundle_code": None,
                "data": msgspec.Raw(data[:-1] + b',"token":' + _json(signed.token) + b"}"),
                "created_at": self.chunk.now,
                "updated_at": self.chunk.now,
            }
        )
        return Rows(
            person_row, certificate, key, item, changelog.encoded_put("wallet_item", item_id.bytes, synced), event_row
        )
