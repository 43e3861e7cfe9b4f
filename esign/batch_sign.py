"""The part of batch issuing that runs in the signing processes: specs in, sealed and signed rows out.

Everything per certificate that costs CPU happens here, off the process that talks to the
database: the licence id, the canonical record and its digest, the claims, the ``ZB1:`` token and
its signature, and the encryption of the holder's identity and sensitive fields (for the
certificate row, and for the person row should the holder be new).

A spec is a tuple of plain values (cheap to send between processes). The result per spec is a
``Signed`` tuple, or the ``EsignError`` that made that one item fail (a token over the size
limit). Seal keys arrive as PKCS#8 DER with each chunk and are kept, decoded, for the life of the
process; the keyring is made once per process by ``init_worker`` from the master key settings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

import msgspec

from api import persons
from api.config import Settings
from api.crypto import Keyring
from esign import issuing, keys, licence
from esign.errors import EsignError

NAME_CONTEXT = "esign_certificate.holder_name"
ID_CONTEXT = "esign_certificate.holder_id"
FIELDS_CONTEXT = "esign_certificate.sealed_fields"

_SIGNERS: dict[bytes, keys.LocalSigner] = {}
_KEYRING: list[Keyring] = []


class Signed(NamedTuple):
    licence_id: str
    token: str
    record_digest: bytes
    holder_name: bytes  # sealed
    holder_id: bytes | None  # sealed ID number
    holder_index: bytes | None  # blind index of the ID number
    sealed_fields: bytes | None
    person: tuple[bytes, bytes, bytes] | None  # persons.seal_person, to find or create the holder


def init_worker(master_key: str, master_key_previous: str | None) -> None:
    """Process initialiser: the keyring of the parent, rebuilt from the same master keys."""
    _KEYRING[:] = [Keyring.from_settings(Settings(master_key=master_key, master_key_previous=master_key_previous))]


def _signer(kid: bytes, key: tuple[str, bytes]) -> keys.LocalSigner:
    found = _SIGNERS.get(kid)
    if found is None:
        found = _SIGNERS[kid] = keys.LocalSigner(keys.private_key_from_der(key[1]), kid)
    return found


def _time(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def seal_fields(keyring: Keyring, sensitive: dict[str, Any]) -> bytes | None:
    if not sensitive:
        return None
    return keyring.encrypt(msgspec.json.encode(sensitive), context=FIELDS_CONTEXT)


def sign_spec(spec: tuple, signer: keys.Signer, keyring: Keyring) -> Signed:
    (cid, gb_type_code, issuer_code, serial, type_code, holder, public, sensitive, iat, start, end, list_id, index,
     _kid) = spec
    kind, name, id_number, credit_code = holder
    licence_id = licence.build_licence_id(gb_type_code, issuer_code, serial)
    draft = issuing.Draft(
        id=UUID(bytes=cid), licence_id=licence_id, type_code=type_code, gb_type_code=gb_type_code,
        issuer_code=issuer_code,
        holder=issuing.Holder(kind=kind, name=name, id_number=id_number, credit_code=credit_code),
        public_fields=public, sensitive_fields=sensitive, issued_at=_time(iat), valid_from=_time(start),  # type: ignore[arg-type]
        valid_until=_time(end), status_ref=(list_id, index),
    )
    token, record_digest = issuing.sign_draft(draft, signer)
    person = persons.seal_person(keyring, id_number, name) if id_number else None
    return Signed(
        licence_id, token, record_digest, keyring.encrypt(name, context=NAME_CONTEXT),
        keyring.encrypt(id_number, context=ID_CONTEXT) if id_number else None,
        person[0] if person else None, seal_fields(keyring, sensitive), person,
    )


def sign_specs(keys_by_kid: dict[bytes, tuple[str, bytes]], specs: list[tuple], keyring: Keyring | None = None) -> list[Any]:
    """Sign every spec with the seal its last element names; per spec a ``Signed`` or an error."""
    ring = keyring or _KEYRING[0]
    out: list[Any] = []
    for spec in specs:
        try:
            out.append(sign_spec(spec, _signer(spec[-1], keys_by_kid[spec[-1]]), ring))
        except EsignError as exc:
            out.append(exc)
    return out
