"""Holders' devices and their presentation credentials (FORMATS.md "ZB2:").

A device registers its P-256 public key after a recent L3 proof (the route checks it). Each active
device gets one credential per valid certificate of its person, signed by the presenter seal of the
certificate's algorithm (an SM2 certificate's by the SM2 presenter seal), living at most 7 days and
never past the certificate's end. Credentials reach the device by sync, as the ``device_credential``
entity in the person's change log (only the person's own devices pull it, never a guardian's): the
credential there is sealed as in its table (it discloses every field, sensitive ones included) and
opened by ``to_wire`` for the pull. ``refresh`` (a job) issues credentials to devices that lack one
and re-issues those that expire within ``REFRESH_BEFORE``, keeping their status slot; it withdraws
those of certificates no longer valid. Revoking a device sets each of its credentials' slots to
revoked in the status lists, so a copy of a credential fails ``revoked`` wherever the lists arrive.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import asyncpg
import msgspec

import wallet
from api.kernel import audit, changelog
from api.kernel.db import Conn, constraint_name
from api.kernel.ids import uuid7
from esign import ca, lists, service, views
from esign.codec import tokens, zb2
from esign.errors import DeviceKeyInvalid, DeviceKeyRegistered, DeviceNotFound
from esign.state import EsignState
from esign.store import certificate as store

LABEL_CONTEXT = "esign_device.label"
CREDENTIAL_CONTEXT = "esign_device_credential.credential"
LIFETIME = timedelta(days=7)
REFRESH_BEFORE = timedelta(days=3)
ENTITY: Final = "device_credential"
MAX_DEVICES = 10


class DeviceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    public_key: Annotated[
        str,
        msgspec.Meta(
            min_length=40,
            max_length=100,
            description="The device's P-256 public key: base64url (no padding) of its SEC 1 point, compressed (33 "
            "bytes) or not (65 bytes, as WebCrypto exports `raw`).",
        ),
    ]
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=40, description="What the holder calls the device.")]
    key_storage: Annotated[
        Literal["non_extractable", "extractable", "unknown"],
        msgspec.Meta(
            description="Whether the platform keeps the private key non-extractable (the SDK says which it got)."
        ),
    ] = "unknown"


class Device(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    label: str
    public_key: Annotated[str, msgspec.Meta(description="base64url of the compressed SEC 1 point (33 bytes).")]
    key_storage: Literal["non_extractable", "extractable", "unknown"]
    status: Literal["active", "revoked"]
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_by: Literal["holder", "operator"] | None = None
    credentials: Annotated[int, msgspec.Meta(description="Credentials currently issued to the device.")] = 0


class DeviceList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Device]


class RevokeDeviceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _point(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return zb2.compress_point(zb2.device_public_key(raw))
    except ValueError as exc:
        raise DeviceKeyInvalid("public_key must be base64url of a P-256 point (33 or 65 bytes)") from exc


# With the count of valid credentials: a join on the person, so that a person's statement is one shard's (a
# correlated subquery in the select list would send it to every shard).
SELECT_DEVICES = """
SELECT d.id, d.person_id, d.label, d.public_key, d.key_storage, d.status, d.created_at, d.revoked_at, d.revoked_by,
       count(c.id) FILTER (WHERE c.status = 'valid') AS credentials
FROM esign_device d
LEFT JOIN esign_device_credential c ON c.person_id = d.person_id AND c.device_id = d.id
"""


def _device(esign: EsignState, r: asyncpg.Record) -> Device:
    return Device(
        id=r["id"],
        label=esign.keyring.decrypt(r["label"], context=LABEL_CONTEXT).decode(),
        public_key=b64url(r["public_key"]),
        key_storage=r["key_storage"],
        status=r["status"],
        created_at=r["created_at"],
        revoked_at=r["revoked_at"],
        revoked_by=r["revoked_by"],
        credentials=r["credentials"],
    )


LIST_DEVICES = SELECT_DEVICES + " WHERE d.person_id = $1 GROUP BY d.person_id, d.id ORDER BY d.created_at, d.id"


async def list_devices(conn: Conn, esign: EsignState, person_id: UUID) -> list[Device]:
    """A person's devices, oldest first, revoked ones included."""
    rows = await conn.fetch(LIST_DEVICES, person_id)
    return [_device(esign, r) for r in rows]


# Devices and their credentials are placed with their person; an operator names a device by id alone, found
# first (on a cluster, on every shard).
DEVICE_PERSON = "SELECT person_id FROM esign_device WHERE id = $1"
GET_DEVICE = SELECT_DEVICES + " WHERE d.person_id = $2 AND d.id = $1 GROUP BY d.person_id, d.id"


async def get_device(conn: Conn, esign: EsignState, device_id: UUID, person_id: UUID) -> tuple[UUID, Device]:
    """``(person id, device)``; ``device_not_found``."""
    row = await conn.fetchrow(GET_DEVICE, device_id, person_id)
    if row is None:
        raise DeviceNotFound()
    return row["person_id"], _device(esign, row)


INSERT_DEVICE = """
INSERT INTO esign_device (id, person_id, account_id, label, public_key, key_storage, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


async def register(
    conn: Conn,
    esign: EsignState,
    *,
    person_id: UUID,
    account_id: UUID,
    body: DeviceIn,
    actor: str,
    now: datetime,
) -> Device:
    """Register a device key and issue it a credential for each valid certificate of the person."""
    point = _point(body.public_key)
    active = await conn.fetchval(
        "SELECT count(*) FROM esign_device WHERE person_id = $1 AND status = 'active'", person_id
    )
    if active >= MAX_DEVICES:
        raise DeviceKeyInvalid(f"at most {MAX_DEVICES} active devices: revoke one first")
    device_id = uuid7()
    label = esign.keyring.encrypt(body.label, context=LABEL_CONTEXT)
    try:
        await conn.execute(INSERT_DEVICE, device_id, person_id, account_id, label, point, body.key_storage, now)
    except asyncpg.UniqueViolationError as exc:
        if constraint_name(exc) != "esign_device_public_key_key":
            raise
        raise DeviceKeyRegistered() from exc
    for certificate_id in await conn.fetch(VALID_CERTIFICATES, person_id, now):
        await issue(conn, esign, device_id, person_id, point, certificate_id[0], now=now)
    await audit.append(
        conn,
        actor=actor,
        action="esign.device_registered",
        subject=f"device:{device_id}",
        data={"key_storage": body.key_storage},
        at=now,
    )
    return (await get_device(conn, esign, device_id, person_id))[1]


VALID_CERTIFICATES = """
SELECT id FROM esign_certificate
WHERE person_id = $1 AND status = 'valid' AND token IS NOT NULL AND (valid_until IS NULL OR valid_until > $2)
ORDER BY issued_at
"""
UPSERT_CREDENTIAL = """
INSERT INTO esign_device_credential AS c (id, device_id, certificate_id, person_id, status_list_id, status_index, cti,
    credential, issued_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT ON CONSTRAINT esign_device_credential_device_id_certificate_id_key
DO UPDATE SET cti = EXCLUDED.cti, credential = EXCLUDED.credential, issued_at = EXCLUDED.issued_at,
    expires_at = EXCLUDED.expires_at
WHERE c.status = 'valid'
RETURNING id, status_list_id, status_index
"""


async def issue(
    conn: Conn,
    esign: EsignState,
    device_id: UUID,
    person_id: UUID,
    point: bytes,
    certificate_id: UUID,
    *,
    now: datetime,
) -> None:
    """Issue (or re-issue) the credential of one certificate to one device, and log it for the person's sync;
    nothing for a device revoked meanwhile (the lock waits for a revocation in flight)."""
    status = await conn.fetchval(
        "SELECT status FROM esign_device WHERE person_id = $2 AND id = $1 FOR SHARE", device_id, person_id
    )
    if status != "active":
        return
    v = await store.get_certificate(conn, certificate_id, person_id=person_id)
    assert v is not None and v.row.token is not None
    shown = views.render(esign, v, now=now)  # every field, sensitive ones opened
    ctype = await store.get_type(conn, v.row.type_code)
    assert ctype is not None
    numbers = service.field_numbers(ctype)
    token = tokens.decode_token(v.row.token)
    c = token.claims
    existing = await conn.fetchrow(
        "SELECT status_list_id, status_index FROM esign_device_credential"
        " WHERE person_id = $3 AND device_id = $1 AND certificate_id = $2",
        device_id,
        certificate_id,
        person_id,
    )
    slot = (existing[0], existing[1]) if existing else (await lists.allocate_slots(conn, 1))[0]
    iat = int(now.timestamp())
    end = now + LIFETIME if v.row.valid_until is None else min(now + LIFETIME, v.row.valid_until)
    claims = zb2.CredentialClaims(
        iss=c.iss,
        iat=iat,
        exp=max(int(end.timestamp()), iat + 1),
        cti=uuid7().bytes,
        device_key=point,
        type_code=c.type_code,
        serial=c.serial,
        version=c.version,
        holder_name=c.holder_name,
        holder_id=c.holder_id,
        digest=c.digest,
        status=c.status,
        credential_status=slot,
    )
    signer = esign.platform.presenter
    if token.sign1.alg != signer.alg:
        signer = await ca.sm2_presenter(conn, esign.keyring, esign.platform, now=now)
    fields = {numbers[k]: value for k, value in shown.fields.items() if k in numbers}
    credential = zb2.issue_credential(claims, fields, signer)
    sealed = esign.keyring.encrypt(credential, context=CREDENTIAL_CONTEXT)
    row = await conn.fetchrow(
        UPSERT_CREDENTIAL,
        uuid7(),
        device_id,
        certificate_id,
        person_id,
        slot[0],
        slot[1],
        claims.cti,
        sealed,
        now,
        datetime.fromtimestamp(claims.exp, now.tzinfo),
    )
    if row is None:  # revoked: a revoked credential is never issued again
        return
    item = await wallet.get_certificate_item_id(conn, certificate_id, person_id)
    data = {
        "device_id": str(device_id),
        "certificate_id": str(certificate_id),
        "wallet_item_id": str(item) if item else None,
        "type_code": c.type_code,
        "alg": signer.alg,
        "issued_at": _iso(now),
        "expires_at": _iso(datetime.fromtimestamp(claims.exp, now.tzinfo)),
        "status_ref": {"list_id": row["status_list_id"], "index": row["status_index"]},
        "sealed_credential": base64.b64encode(sealed).decode(),
    }
    await changelog.record_change(conn, person_id, ENTITY, row["id"], "put", data)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def to_wire(keyring: Any, data: dict[str, Any]) -> dict[str, Any]:
    """A stored ``device_credential`` entry → what the person's devices get: ``credential``, base64url of the
    issued SD-CWT (CBOR) with every disclosure."""
    out = {k: v for k, v in data.items() if k != "sealed_credential"}
    sealed = base64.b64decode(data["sealed_credential"])
    out["credential"] = b64url(keyring.decrypt(sealed, context=CREDENTIAL_CONTEXT))
    return out


async def revoke(
    conn: Conn,
    esign: EsignState,
    device_id: UUID,
    *,
    by: Literal["holder", "operator"],
    actor: str,
    reason: str | None,
    now: datetime,
    person_id: UUID | None = None,
) -> Device:
    """Revoke a device (the holder's own: ``person_id`` given, else an operator's) and its credentials' slots.
    Revoking it again changes nothing."""
    owner = person_id if person_id is not None else await conn.fetchval(DEVICE_PERSON, device_id)
    row = None
    if owner is not None:
        row = await conn.fetchrow(
            "SELECT person_id, status FROM esign_device WHERE person_id = $2 AND id = $1 FOR UPDATE", device_id, owner
        )
    if row is None:
        raise DeviceNotFound()
    owner = row["person_id"]
    if row["status"] == "active":
        await conn.execute(
            "UPDATE esign_device SET status = 'revoked', revoked_at = $3, revoked_by = $4 WHERE person_id = $2 AND id = $1",
            device_id,
            owner,
            now,
            by,
        )
        revoked = await conn.fetch(
            "UPDATE esign_device_credential SET status = 'revoked'"
            " WHERE person_id = $2 AND device_id = $1 AND status = 'valid' RETURNING id, status_list_id",
            device_id,
            owner,
        )
        for list_id in sorted({r["status_list_id"] for r in revoked}):
            await lists.status_changed(conn, list_id)
        for r in revoked:
            await changelog.record_change(conn, row["person_id"], ENTITY, r["id"], "del")
        await audit.append(
            conn,
            actor=actor,
            action="esign.device_revoked",
            subject=f"device:{device_id}",
            data={"by": by, "reason": reason, "credentials": len(revoked)},
            at=now,
        )
    return (await get_device(conn, esign, device_id, owner))[1]


DUE = """
SELECT d.id AS device_id, d.person_id, d.public_key, c.id AS certificate_id
FROM esign_device d
JOIN esign_certificate c ON c.person_id = d.person_id AND c.status = 'valid' AND c.token IS NOT NULL
    AND (c.valid_until IS NULL OR c.valid_until > $1)
LEFT JOIN esign_device_credential k ON k.person_id = d.person_id AND k.device_id = d.id AND k.certificate_id = c.id
WHERE d.status = 'active' AND (k.id IS NULL OR (k.status = 'valid' AND k.expires_at < $2))
ORDER BY d.person_id
LIMIT $3
"""
WITHDRAWN = """
DELETE FROM esign_device_credential k USING esign_certificate c
WHERE c.person_id = k.person_id AND k.certificate_id = c.id AND k.status = 'valid'
  AND (c.status <> 'valid' OR (c.valid_until IS NOT NULL AND c.valid_until <= $1))
RETURNING k.id, k.person_id
"""


async def refresh(conn: Conn, esign: EsignState, *, now: datetime, limit: int = 200) -> int:
    """Issue missing credentials, re-issue those expiring within ``REFRESH_BEFORE``, withdraw those of
    certificates no longer valid (their devices delete them on the next pull); how many changed."""
    gone = await conn.fetch(WITHDRAWN, now)
    for r in gone:
        await changelog.record_change(conn, r["person_id"], ENTITY, r["id"], "del")
    due = await conn.fetch(DUE, now, now + REFRESH_BEFORE, limit)
    for r in due:
        await issue(conn, esign, r["device_id"], r["person_id"], r["public_key"], r["certificate_id"], now=now)
    return len(gone) + len(due)


credential_to_wire = to_wire  # esign's surface: sync opens a device_credential entry for the pull
