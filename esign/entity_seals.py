"""企业电子印章: business entities' e-seals, made by the platform on their behalf, and what they sign.

The platform makes an entity's seal when its 公章刻制备案 is done (the ``seal_record`` certificate issued
to it): an ES256 key held as a department seal's platform-held key is (encrypted under the master key),
and a seal certificate from the platform root naming the entity and its credit code. Its 法定代表人 may
ask for another — SM2 as well as ES256, as departments' seals allow; at most one active per algorithm —
and revoke any of them; the entity's seals are listed for those acting for it and for departments
verifying, every change audited. What it submits is signed with its newest active seal. The entity signs
what it submits — an application's id, target (bundle or matter) and form, its declarations — as
canonical JSON (sorted keys, no spaces, UTF-8); a department handling the task verifies the signature
against the seal's certificate, which must chain to the platform root and be active.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec

import auth as orgs
from api.kernel import audit
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from esign import seals
from esign.codec import keys, x509
from esign.errors import EntitySealExists, EntitySealNotFiled, EntitySealNotFound
from esign.state import EsignState
from wallet import WalletClosed

KEY_CONTEXT = "esign_entity_seal.private_key"
# The result certificate of 公章刻制备案: issuing it to an entity makes the entity's e-seal.
SEAL_RECORD_TYPE = "seal_record"
VALIDITY = timedelta(days=5 * 365)


class EntitySignature(msgspec.Struct, frozen=True, kw_only=True):
    """An entity's signature on a submission, as a department sees it after checking it."""

    signer_name: str
    signer_credit_code: str
    seal_kid: str
    algorithm: str
    valid: bool


class EntitySeal(msgspec.Struct, frozen=True, kw_only=True):
    """One of an entity's e-seals: its certificate (from the platform root) and standing."""

    seal_id: UUID
    kid: str
    name: str
    algorithm: Literal["ES256", "SM2"]
    status: Literal["active", "revoked"]
    credit_code: str
    entity_name: str
    certificate_pem: str
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str | None = None


class EntitySealList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[EntitySeal]


class EntitySealIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    algorithm: Annotated[Literal["ES256", "SM2"], msgspec.Meta(description="The seal key's algorithm.")] = "ES256"
    name: (
        Annotated[
            str,
            msgspec.Meta(min_length=1, max_length=50, description="Default: the entity's name followed by 电子公章."),
        ]
        | None
    ) = None


INSERT = """
INSERT INTO esign_entity_seal (id, org_id, name, algorithm, kid, certificate, private_key, status, valid_from,
                               valid_until, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $8)
"""
SELECT = """
SELECT s.id, s.kid, coalesce(s.name, o.name || '电子公章') AS name, s.algorithm, s.status, s.certificate, s.valid_from,
       s.valid_until, s.created_at, s.revoked_at, s.revoke_reason, o.credit_code, o.name AS entity_name
FROM esign_entity_seal s JOIN org_entity o ON o.id = s.org_id
"""


def _view(row: asyncpg.Record) -> EntitySeal:
    return EntitySeal(
        seal_id=row["id"],
        kid=row["kid"].hex(),
        name=row["name"],
        algorithm=row["algorithm"],
        status=row["status"],
        credit_code=row["credit_code"],
        entity_name=row["entity_name"],
        certificate_pem=seals.pem(row["certificate"]),
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        revoke_reason=row["revoke_reason"],
    )


async def _get(conn: Conn, seal_id: UUID) -> EntitySeal:
    row = await conn.fetchrow(SELECT + " WHERE s.id = $1", seal_id)
    assert row is not None  # the caller's transaction has just written or locked it
    return _view(row)


async def _make(
    conn: Conn, esign: EsignState, org: orgs.Org, *, algorithm: str, name: str, actor: str, now: datetime
) -> UUID:
    key = keys.generate_key(algorithm)
    start = now.replace(microsecond=0)
    cert = x509.issue_seal_certificate(
        esign.platform.root_key,
        esign.platform.root_cert,
        key.public_key(),
        department=org.name,
        credit_code=org.credit_code,
        seal_name=name,
        valid_from=start,
        valid_until=start + VALIDITY,
    )
    sealed = esign.keyring.encrypt(keys.private_key_to_der(key), context=KEY_CONTEXT)
    seal_id = uuid7()
    await conn.execute(
        INSERT, seal_id, org.id, name, algorithm, keys.kid_of(cert), cert, sealed, start, start + VALIDITY
    )
    await audit.append(
        conn,
        actor=actor,
        action="esign.entity_seal_made",
        subject=f"org:{org.id}",
        data={
            "credit_code": org.credit_code,
            "kid": keys.kid_of(cert).hex(),
            "algorithm": algorithm,
            "seal": str(seal_id),
        },
        at=now,
    )
    return seal_id


async def make_seal(conn: Conn, esign: EsignState, org_id: UUID, *, actor: str, now: datetime) -> bool:
    """公章刻制备案 done: make the entity's ES256 e-seal unless it has one; ``True`` when made. Audited."""
    org = await orgs.get_org(conn, org_id)
    if org is None or await conn.fetchval("SELECT 1 FROM esign_entity_seal WHERE org_id = $1 LIMIT 1", org_id):
        return False
    await _make(conn, esign, org, algorithm=keys.ES256, name=f"{org.name}电子公章", actor=actor, now=now)
    return True


FILED = """
SELECT EXISTS (SELECT 1 FROM esign_certificate WHERE person_id = $1 AND type_code = $2 AND status = 'valid')
    OR EXISTS (SELECT 1 FROM esign_entity_seal WHERE org_id = $1)
"""


async def request_seal(
    conn: Conn, esign: EsignState, org_id: UUID, data: EntitySealIn, *, actor: str, now: datetime
) -> EntitySeal:
    """Another e-seal for the entity, asked for by its 法定代表人: the entity active and its 公章刻制备案 done
    (409 otherwise), no active seal of that algorithm (409 ``entity_seal_exists``). Audited."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 26))", str(org_id))
    org = await orgs.get_org(conn, org_id)
    if org is None:
        raise EntitySealNotFiled("the caller does not act for a business entity")
    if org.status != "active":
        raise WalletClosed("the entity is closed (注销): its wallet is kept read only")
    if not await conn.fetchval(FILED, org_id, SEAL_RECORD_TYPE):
        raise EntitySealNotFiled("the entity's 公章刻制备案 is not done")
    if await conn.fetchval(
        "SELECT 1 FROM esign_entity_seal WHERE org_id = $1 AND algorithm = $2 AND status = 'active'",
        org_id,
        data.algorithm,
    ):
        raise EntitySealExists(
            f"the entity has an active {data.algorithm} seal; revoke it first", algorithm=data.algorithm
        )
    name = data.name.strip() if data.name and data.name.strip() else f"{org.name}电子公章"
    seal_id = await _make(conn, esign, org, algorithm=data.algorithm, name=name, actor=actor, now=now)
    return await _get(conn, seal_id)


async def list_seals(conn: Conn, org_id: UUID) -> list[EntitySeal]:
    """The entity's seals, newest first, revoked ones too."""
    return [
        _view(r)
        for r in await conn.fetch(SELECT + " WHERE s.org_id = $1 ORDER BY s.created_at DESC, s.id DESC", org_id)
    ]


REVOKE = """
UPDATE esign_entity_seal SET status = 'revoked', revoked_at = $2, revoked_by = $3, revoke_reason = $4
"""


async def revoke_one(
    conn: Conn, org_id: UUID, seal_id: UUID, *, reason: str | None, actor: str, now: datetime
) -> EntitySeal:
    """Revoke one of the entity's seals (its 法定代表人): what it signed no longer verifies as current. Another
    entity's seal is not found; revoking again changes nothing. Audited."""
    row = await conn.fetchrow(
        "SELECT kid, status FROM esign_entity_seal WHERE id = $1 AND org_id = $2 FOR UPDATE", seal_id, org_id
    )
    if row is None:
        raise EntitySealNotFound()
    if row["status"] == "active":
        await conn.execute(REVOKE + " WHERE id = $1", seal_id, now, actor, reason)
        await audit.append(
            conn,
            actor=actor,
            action="esign.entity_seal_revoked",
            subject=f"org:{org_id}",
            data={"kid": row["kid"].hex(), "seal": str(seal_id), "reason": reason},
            at=now,
        )
    return await _get(conn, seal_id)


async def revoke_seal(conn: Conn, org_id: UUID, *, actor: str, now: datetime) -> None:
    """Revoke every active e-seal of the entity (at 注销): what they signed no longer verifies as current. Audited."""
    rows = await conn.fetch(
        REVOKE + " WHERE org_id = $1 AND status = 'active' RETURNING id, kid", org_id, now, actor, "企业注销"
    )
    for row in rows:
        await audit.append(
            conn,
            actor=actor,
            action="esign.entity_seal_revoked",
            subject=f"org:{org_id}",
            data={"kid": row["kid"].hex(), "seal": str(row["id"]), "reason": "企业注销"},
            at=now,
        )


def canonical(application_id: UUID, target: str, form: dict[str, Any]) -> bytes:
    """The bytes an entity signs for an application: its id, target and form."""
    body = {"application_id": str(application_id), "target": target, "form": form}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


async def sign_submission(conn: Conn, esign: EsignState, org_id: UUID, payload: bytes) -> dict[str, str] | None:
    """The entity's signature over ``payload`` with its newest active seal; None when it has none."""
    row = await conn.fetchrow(
        "SELECT kid, algorithm, private_key FROM esign_entity_seal WHERE org_id = $1 AND status = 'active'"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        org_id,
    )
    if row is None:
        return None
    key = keys.private_key_from_der(esign.keyring.decrypt(row["private_key"], context=KEY_CONTEXT))
    signature = keys.sign_raw(key, payload)
    return {"kid": row["kid"].hex(), "alg": row["algorithm"], "sig": base64.b64encode(signature).decode()}


async def verify_submission(
    conn: Conn,
    esign: EsignState,
    org_id: UUID,
    payload: bytes,
    signature: dict[str, str],
    *,
    now: datetime,
) -> EntitySignature:
    """Check an entity's signature: the seal is the entity's, active, chained to the root; the bytes match."""
    row = await conn.fetchrow(
        """SELECT s.certificate, s.algorithm, s.status, o.name, o.credit_code
           FROM esign_entity_seal s JOIN org_entity o ON o.id = s.org_id WHERE s.kid = $1 AND s.org_id = $2""",
        bytes.fromhex(signature["kid"]),
        org_id,
    )
    if row is None:
        org = await orgs.get_org(conn, org_id)
        return EntitySignature(
            signer_name=org.name if org else "",
            signer_credit_code=org.credit_code if org else "",
            seal_kid=signature["kid"],
            algorithm=signature.get("alg", ""),
            valid=False,
        )
    good = (
        row["status"] == "active" and x509.chain_problem(row["certificate"], esign.platform.root_cert, at=now) is None
    )
    if good:
        public = x509.read_seal_certificate(row["certificate"]).public_key
        try:
            good = keys.verify_raw(public, payload, base64.b64decode(signature["sig"]))
        except (ValueError, TypeError):
            good = False
    return EntitySignature(
        signer_name=row["name"],
        signer_credit_code=row["credit_code"],
        seal_kid=signature["kid"],
        algorithm=row["algorithm"],
        valid=good,
    )
