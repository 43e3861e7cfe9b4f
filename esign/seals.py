"""Departments' seals: made with a server-held key or from a department's CSR, rotated, revoked.

- A server-made key is PKCS#8 DER sealed with the keyring (``esign_seal.private_key``); it never
  leaves the server decrypted except to the signing processes of the same host.
- With ``csr_pem`` the key stays with the department: the CSR proves it holds the key, and the
  certificate names the department from the platform's own records (``esign.codec.csr``). Certificates
  issued with such a seal wait for the department's signature (``esign.flows``).
- Rotation makes a new seal and retires the old one: the old one signs nothing more, but stays in
  the trust list (valid until the moment it was retired), so what it signed stays valid.
- Revocation says the key can no longer be trusted: every certificate it signed then fails
  verification (``seal_revoked``). Departments should rotate, and revoke only a compromised key.

Every key operation writes an audit entry; every change of the set of seals marks the trust list
for re-signing.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from uuid import UUID

from api.kernel import audit
from api.kernel.db import Conn, one_of
from api.kernel.ids import uuid7
from esign import ca
from esign.codec import csr, keys, x509
from esign.errors import InvalidCsr, SealNotActive, SealNotFound
from esign.models import Seal
from esign.service import Department
from esign.state import EsignState
from esign.store import seal as seal_store
from esign.store.seal import SealRow

SEAL_YEARS = 5


def pem(der: bytes) -> str:
    b64 = base64.b64encode(der).decode("ascii")
    return (
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
        + ("\n-----END CERTIFICATE-----\n")
    )


def image_url(esign: EsignState, seal: SealRow) -> str:
    return f"{esign.base_url}/v1/seals/{seal.kid.hex()}/image.svg"


def view(esign: EsignState, seal: SealRow) -> Seal:
    assert seal.department_id is not None
    return Seal(
        seal_id=seal.id,
        kid=seal.kid.hex(),
        certificate_pem=pem(seal.certificate),
        status=one_of(seal.status, ("active", "retired", "revoked")),
        name=seal.name,
        kind=one_of(seal.kind, ("official", "business")),
        algorithm=one_of(seal.algorithm, ("ES256", "SM2")),
        key_custody=one_of(seal.key_custody, ("platform", "department")),
        department_id=seal.department_id,
        valid_from=seal.valid_from,
        valid_until=seal.valid_until,
        created_at=seal.created_at,
        retired_at=seal.retired_at,
        revoked_at=seal.revoked_at,
        replaces=seal.replaces_id,
        image_url=image_url(esign, seal),
    )


async def create_seal(
    conn: Conn,
    esign: EsignState,
    department: Department,
    *,
    name: str,
    kind: str,
    algorithm: str | None,
    csr_pem: str | None,
    actor: str,
    now: datetime,
    replaces: SealRow | None = None,
) -> SealRow:
    """Make a seal and its certificate (caller's transaction); raises ``invalid_csr``.

    ``algorithm`` defaults to ES256 for a server-made key and to the CSR's key for a CSR.
    """
    start = now.replace(microsecond=0) - timedelta(minutes=1)  # see esign.ca._seal_window
    until = start + timedelta(days=365 * SEAL_YEARS)
    names = {"department": department.name, "credit_code": department.credit_code, "seal_name": name}
    platform = esign.platform
    if csr_pem is not None:
        public = csr.csr_public_key(csr_pem)
        private_der = None
        if algorithm is not None and keys.algorithm_of(public) != algorithm:
            raise InvalidCsr(f"the CSR holds a {keys.algorithm_of(public)} key, not {algorithm}")
    else:
        key = keys.generate_key(algorithm or keys.ES256)
        public, private_der = key.public_key(), keys.private_key_to_der(key)
    cert = x509.issue_seal_certificate(
        platform.root_key, platform.root_cert, public, valid_from=start, valid_until=until, **names
    )
    seal = SealRow(
        id=uuid7(),
        department_id=department.id,
        role="issuer",
        name=name,
        kind=kind,
        algorithm=keys.algorithm_of(public),
        kid=keys.kid_of(cert),
        certificate=cert,
        key_custody="platform" if private_der else "department",
        status="active",
        valid_from=start,
        valid_until=until,
        created_at=now,
        retired_at=None,
        revoked_at=None,
        replaces_id=replaces.id if replaces else None,
    )
    sealed = esign.keyring.encrypt(private_der, context=ca.SEAL_CONTEXT) if private_der else None
    await seal_store.insert_seal(conn, seal, sealed_key=sealed)
    await seal_store.trust_list_changed(conn)
    await audit.append(
        conn,
        actor=actor,
        action="esign.seal_created",
        subject=str(seal.id),
        data={
            "department": str(department.id),
            "kid": seal.kid.hex(),
            "algorithm": seal.algorithm,
            "kind": kind,
            "key_custody": seal.key_custody,
            "replaces": str(replaces.id) if replaces else None,
        },
        at=now,
    )
    return seal


async def department_seal(conn: Conn, department_id: UUID, seal_id: UUID, *, for_update: bool) -> SealRow:
    """The seal, if it belongs to this department (404 ``seal_not_found`` otherwise)."""
    seal = await seal_store.get_seal(conn, seal_id, for_update=for_update)
    if seal.department_id != department_id:
        raise SealNotFound()
    return seal


async def rotate_seal(
    conn: Conn,
    esign: EsignState,
    department: Department,
    old: SealRow,
    *,
    name: str | None,
    algorithm: str | None,
    csr_pem: str | None,
    actor: str,
    now: datetime,
) -> SealRow:
    """A new seal replacing ``old`` (read ``FOR UPDATE``), which is retired."""
    if old.status != "active":
        raise SealNotActive(f"the seal is {old.status}", seal_status=old.status)
    new = await create_seal(
        conn,
        esign,
        department,
        name=name or old.name,
        kind=old.kind,
        algorithm=algorithm or (None if csr_pem else old.algorithm),
        csr_pem=csr_pem,
        actor=actor,
        now=now,
        replaces=old,
    )
    await seal_store.retire_seal(conn, old.id, now=now)
    await audit.append(
        conn,
        actor=actor,
        action="esign.seal_retired",
        subject=str(old.id),
        data={"kid": old.kid.hex(), "replaced_by": str(new.id)},
        at=now,
    )
    return new


async def revoke_seal(conn: Conn, seal: SealRow, *, reason: str | None, actor: str, now: datetime) -> None:
    """Revoke ``seal`` (read ``FOR UPDATE``): everything it signed stops verifying."""
    if seal.status == "revoked":
        raise SealNotActive("the seal is already revoked", seal_status=seal.status)
    await seal_store.revoke_seal(conn, seal.id, reason=reason, now=now)
    await seal_store.trust_list_changed(conn)
    await audit.append(
        conn,
        actor=actor,
        action="esign.seal_revoked",
        subject=str(seal.id),
        data={"kid": seal.kid.hex(), "reason": reason},
        at=now,
    )
