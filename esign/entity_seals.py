"""企业电子印章: business entities' e-seals, made by the platform on their behalf, and what they sign.

The platform makes an entity's seal when its 公章刻制备案 is done (the ``seal_record`` certificate issued
to it): an ES256 key held as a department seal's platform-held key is (encrypted under the master key),
and a seal certificate from the platform root naming the entity and its credit code. The entity signs
what it submits — an application's id, target (bundle or matter) and form, its declarations — as
canonical JSON (sorted keys, no spaces, UTF-8); a department handling the task verifies the signature
against the seal's certificate, which must chain to the platform root and be active.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from api.kernel.db import Conn
import msgspec

from api.kernel import audit
import auth as orgs
from api.kernel.ids import uuid7
from esign.codec import keys, x509
from esign.state import EsignState

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


INSERT = """
INSERT INTO esign_entity_seal (id, org_id, algorithm, kid, certificate, private_key, status, valid_from, valid_until,
                               created_at)
VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $7)
ON CONFLICT ON CONSTRAINT esign_entity_seal_org_id_key DO NOTHING
"""


async def make_seal(conn: Conn, esign: EsignState, org_id: UUID, *, actor: str, now: datetime) -> bool:
    """Make the entity's e-seal unless it has one; ``True`` when made. Audited."""
    org = await orgs.get_org(conn, org_id)
    if org is None or await conn.fetchval("SELECT 1 FROM esign_entity_seal WHERE org_id = $1", org_id):
        return False
    key = keys.generate_key(keys.ES256)
    start = now.replace(microsecond=0)
    cert = x509.issue_seal_certificate(
        esign.platform.root_key, esign.platform.root_cert, key.public_key(), department=org.name,
        credit_code=org.credit_code, seal_name=f"{org.name}电子公章", valid_from=start, valid_until=start + VALIDITY,
    )
    sealed = esign.keyring.encrypt(keys.private_key_to_der(key), context=KEY_CONTEXT)
    await conn.execute(INSERT, uuid7(), org_id, keys.ES256, keys.kid_of(cert), cert, sealed, start, start + VALIDITY)
    await audit.append(conn, actor=actor, action="esign.entity_seal_made", subject=f"org:{org_id}",
                       data={"credit_code": org.credit_code, "kid": keys.kid_of(cert).hex()}, at=now)
    return True


async def revoke_seal(conn: Conn, org_id: UUID, *, actor: str, now: datetime) -> None:
    """Revoke the entity's e-seal (at 注销): what it signed no longer verifies as current. Audited."""
    kid = await conn.fetchval(
        "UPDATE esign_entity_seal SET status = 'revoked' WHERE org_id = $1 AND status = 'active' RETURNING kid", org_id)
    if kid is not None:
        await audit.append(conn, actor=actor, action="esign.entity_seal_revoked", subject=f"org:{org_id}",
                           data={"kid": kid.hex()}, at=now)


def canonical(application_id: UUID, target: str, form: dict[str, Any]) -> bytes:
    """The bytes an entity signs for an application: its id, target and form."""
    body = {"application_id": str(application_id), "target": target, "form": form}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


async def sign_submission(conn: Conn, esign: EsignState, org_id: UUID, payload: bytes) -> dict[str, str] | None:
    """The entity's signature over ``payload`` with its active seal; None when it has none yet."""
    row = await conn.fetchrow(
        "SELECT kid, algorithm, private_key FROM esign_entity_seal WHERE org_id = $1 AND status = 'active'", org_id)
    if row is None:
        return None
    key = keys.private_key_from_der(esign.keyring.decrypt(row["private_key"], context=KEY_CONTEXT))
    signature = keys.sign_raw(key, payload)
    return {"kid": row["kid"].hex(), "alg": row["algorithm"], "sig": base64.b64encode(signature).decode()}


async def verify_submission(
    conn: Conn, esign: EsignState, org_id: UUID, payload: bytes, signature: dict[str, str], *,
    now: datetime,
) -> EntitySignature:
    """Check an entity's signature: the seal is the entity's, active, chained to the root; the bytes match."""
    row = await conn.fetchrow(
        """SELECT s.certificate, s.algorithm, s.status, o.name, o.credit_code
           FROM esign_entity_seal s JOIN org_entity o ON o.id = s.org_id WHERE s.kid = $1 AND s.org_id = $2""",
        bytes.fromhex(signature["kid"]), org_id)
    if row is None:
        org = await orgs.get_org(conn, org_id)
        return EntitySignature(signer_name=org.name if org else "", signer_credit_code=org.credit_code if org else "",
                               seal_kid=signature["kid"], algorithm=signature.get("alg", ""), valid=False)
    good = row["status"] == "active" and x509.chain_problem(row["certificate"], esign.platform.root_cert, at=now) is None
    if good:
        public = x509.load_certificate(row["certificate"]).public_key()
        try:
            good = keys.verify_raw(public, payload, base64.b64decode(signature["sig"]))  # type: ignore[arg-type]
        except (ValueError, TypeError):
            good = False
    return EntitySignature(signer_name=row["name"], signer_credit_code=row["credit_code"], seal_kid=signature["kid"],
                           algorithm=row["algorithm"], valid=good)
