"""The part of batch issuing that runs in the signing processes: specs in, sealed and signed rows out.

Everything per certificate that costs CPU happens here, off the process that talks to the
database: the licence id, the canonical record and its digest, the claims, the ``ZB1:`` token and
its signature, the encryption of the holder's identity and sensitive fields (for the certificate
row, and for the person row should the holder be new), and the rows themselves, already in
PostgreSQL's binary COPY format (``esign.batch.rows``).

A spec is a tuple of plain values (cheap to send between processes). ``sign_specs`` gives per spec
a ``Signed`` tuple (or the ``EsignError`` that made that one item fail: a token over the size limit),
``issue_rows`` the rows a chunk writes (``batch_rows.ChunkRows``). Seal keys arrive as
PKCS#8 DER with each chunk and are kept, decoded, for the life of the process; the keyring is made
once per process by ``init_worker`` from the master key settings.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from hashlib import sha256
from typing import Any, NamedTuple

import msgspec

import auth
from api.config import Settings
from api.kernel.canonical import canonical_json
from api.kernel.crypto import Keyring, mask_id_number, mask_name, nonce_pool
from esign import service
from esign.batch import rows as batch_rows
from esign.codec import keys, licence, tokens
from esign.errors import EsignError

NAME_CONTEXT = "esign_certificate.holder_name"
ID_CONTEXT = "esign_certificate.holder_id"
FIELDS_CONTEXT = "esign_certificate.sealed_fields"

_TOKENS: dict[bytes, Callable[[bytes], str]] = {}  # a token maker per seal, its key decoded once
_KEYRING: list[Keyring] = []


class Signed(NamedTuple):
    licence_id: str
    token: str
    record_digest: bytes
    record_salt: bytes
    holder_name: bytes  # sealed
    holder_id: bytes | None  # sealed ID number
    sealed_fields: bytes | None
    name_masked: str
    id_masked: str


def init_worker(master_key: str, master_key_previous: str | None) -> None:
    """Process initialiser: the keyring of the parent, rebuilt from the same master keys.

    What the imports made lives as long as the process, out of the cycle collector's way, and young
    collections are rarer: a chunk makes some tens of thousands of short-lived objects, freed by
    their reference counts, not by the collector.
    """
    _KEYRING[:] = [Keyring.from_settings(Settings(master_key=master_key, master_key_previous=master_key_previous))]
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def seal_fields(keyring: Keyring, sensitive: dict[str, Any]) -> bytes | None:
    if not sensitive:
        return None
    return keyring.encrypt(msgspec.json.encode(sensitive), context=FIELDS_CONTEXT)


class _Sealers:
    """The encryptions and blind index of one chunk, each set up once (``Keyring.encrypter``), drawing
    their nonces from one pool read from the OS for the whole chunk."""

    def __init__(self, keyring: Keyring, count: int) -> None:
        nonces = nonce_pool(5 * count)  # at most five encryptions per certificate
        self.name = keyring.encrypter(context=NAME_CONTEXT, nonces=nonces)
        self.id = keyring.encrypter(context=ID_CONTEXT, nonces=nonces)
        self.fields = keyring.encrypter(context=FIELDS_CONTEXT, nonces=nonces)
        # What ``auth.seal_person`` writes for a new person.
        self.person_id = keyring.encrypter(context=auth.ID_NUMBER_CONTEXT, nonces=nonces)
        self.person_name = keyring.encrypter(context=auth.NAME_CONTEXT, nonces=nonces)


def _token(kid: bytes, key: tuple[str, bytes]) -> Callable[[bytes], str]:
    found = _TOKENS.get(kid)
    if found is None:
        found = _TOKENS[kid] = tokens.token_signer(keys.LocalSigner(keys.private_key_from_der(key[1]), kid))
    return found


def sign_spec(spec: tuple, token: Callable[[bytes], str], seal: _Sealers) -> Signed:
    """One certificate: what ``service.sign_draft`` makes of the same values (``tests/esign`` compares them),
    built from the spec's plain values without the ``Draft`` and ``Claims`` objects in between."""
    (
        cid,
        gb_type_code,
        issuer_code,
        serial,
        type_code,
        holder,
        public,
        sensitive,
        iat,
        start,
        end,
        list_id,
        index,
        numbers,
        _kid,
    ) = spec
    kind, name, id_number, credit_code = holder
    licence_id = licence.builder(gb_type_code, issuer_code)(serial)
    salt = os.urandom(service.SALT_BYTES)
    record = {  # service.record
        "v": 2,
        "id": batch_rows.uuid_text(cid),
        "licence_id": licence_id,
        "type": {"code": type_code, "gb_code": gb_type_code},
        "issuer": issuer_code,
        "holder": {"kind": kind, "name": name, "id": id_number or credit_code},
        "fields": {**public, **sensitive},
        "issued_at": batch_rows.rfc3339(iat),
        "valid_from": batch_rows.rfc3339(start),
        "valid_until": None if end is None else batch_rows.rfc3339(end),
        "status": [list_id, index],
        "salt": service.salt_text(salt),
    }
    record_digest = sha256(canonical_json(record)).digest()
    if kind == "person":  # service.Holder.name_masked, .id_masked
        name_masked, id_masked = mask_name(name), mask_id_number(id_number) if id_number else ""
    else:
        name_masked, id_masked = name, credit_code or ""
    payload = tokens.certificate_payload(  # service.claims
        iss=issuer_code,
        iat=iat,
        exp=end,
        nbf=start if start > iat else None,
        cti=cid,
        type_code=type_code,
        serial=serial,
        version=service.LICENCE_VERSION,
        holder_name=name_masked,
        holder_id=id_masked,
        fields={numbers[k]: v for k, v in public.items()},
        status=(list_id, index),
        digest=record_digest,
    )
    return Signed(
        licence_id,
        token(payload),
        record_digest,
        salt,
        seal.name(name),
        seal.id(id_number) if id_number else None,
        seal.fields(msgspec.json.encode(sensitive)) if sensitive else None,
        name_masked,
        id_masked,
    )


def sign_specs(
    keys_by_kid: dict[bytes, tuple[str, bytes]],
    specs: list[tuple],
    keyring: Keyring | None = None,
    seal: _Sealers | None = None,
) -> list[Any]:
    """Sign every spec with the seal its last element names; per spec a ``Signed`` or an error."""
    seal = seal or _Sealers(keyring or _KEYRING[0], len(specs))
    out: list[Any] = []
    for spec in specs:
        try:
            out.append(sign_spec(spec, _token(spec[-1], keys_by_kid[spec[-1]]), seal))
        except EsignError as exc:
            out.append(exc)
    return out


def issue_rows(
    keys_by_kid: dict[bytes, tuple[str, bytes]],
    chunk: batch_rows.Chunk,
    items: list[tuple[tuple, batch_rows.Place]],
    keyring: Keyring | None = None,
) -> batch_rows.ChunkRows:
    """``sign_specs`` of each ``(spec, place)``, then what the items write, by position in ``items``.

    A new holder (``place.new_person``) also gets the sealed ID number and name of their person row
    (``auth.seal_person``; ``service.check_holder`` has normalised the number): the row itself for
    the batch's first item of that holder, the two values for the others (``batch_rows.NEW_AGAIN``).
    """
    seal = _Sealers(keyring or _KEYRING[0], len(items))
    encode = batch_rows.Encoder(chunk, len(items))
    out: list[Any] = []
    for (spec, place), signed in zip(
        items, sign_specs(keys_by_kid, [spec for spec, _ in items], seal=seal), strict=True
    ):
        if isinstance(signed, EsignError):
            out.append(signed)
            continue
        holder = spec[5]
        person = (seal.person_id(holder[2]), seal.person_name(holder[1])) if place.new_person else None
        out.append(encode(spec, place, signed, person))
    return batch_rows.ChunkRows.of(out)
