"""The platform root CA and its presentation seal: made once, on the first start, then loaded.

The root key is P-256 (``esign.codec.x509``), sealed with the keyring in the single ``esign_platform``
row. Several workers may start together against an empty database: a transaction-scoped advisory
lock makes them take turns, so exactly one creates the root and the others load it (the row's
``id = true`` primary key would refuse a second root even without the lock).

The presentation seal (role ``presenter``) signs the short-lived tokens a holder shows (亮证); it
belongs to the platform, not to a department, and is made together with the root.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from api.kernel import audit
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from esign.codec import keys, x509

# The platform operator as it appears in the root and presentation-seal certificates. The credit
# code is only a name here (tokens carry the issuing department's code, never this one).
PLATFORM_NAME = "掌办平台运营中心"
PLATFORM_CREDIT_CODE = "12430200MB00019903"
ROOT_YEARS = 20
PRESENTER_NAME = "电子证照亮证专用章"
PRESENTER_YEARS = 5
ROOT_CONTEXT = "esign_platform.root_key"
SEAL_CONTEXT = "esign_seal.private_key"
LOCK = int.from_bytes(hashlib.sha256(b"zhangban.esign.platform").digest()[:8], "big", signed=True)


@dataclass(frozen=True, repr=False)
class Platform:
    """The loaded root (key and certificate) and the presentation seal's signer."""

    root_key: ec.EllipticCurvePrivateKey
    root_cert: bytes
    presenter: keys.LocalSigner
    presenter_cert: bytes

    @property
    def root_kid(self) -> str:
        return keys.kid_of(self.root_cert).hex()

    def __repr__(self) -> str:
        return f"Platform(root_kid={self.root_kid!r}, presenter={self.presenter!r})"


INSERT_ROOT = """
INSERT INTO esign_platform (id, root_certificate, root_key, created_at) VALUES (true, $1, $2, $3)
"""
INSERT_PRESENTER = """
INSERT INTO esign_seal (id, department_id, role, name, kind, algorithm, kid, certificate, private_key, key_custody,
    valid_from, valid_until, created_at)
VALUES ($1, NULL, 'presenter', $2, 'presentation', $9, $3, $4, $5, 'platform', $6, $7, $8)
"""
BUMP_TRUST_LIST = "UPDATE esign_trust_list SET version = version + 1 WHERE id"


def _seal_window(now: datetime, years: int) -> tuple[datetime, datetime]:
    # A minute of back-dating absorbs clock differences between workers: a token signed right
    # after the seal was made must not predate its certificate.
    start = now.replace(microsecond=0) - timedelta(minutes=1)
    return start, start + timedelta(days=365 * years)


async def _create_presenter(
    conn: Conn,
    keyring: Keyring,
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: bytes,
    now: datetime,
    alg: str = keys.ES256,
) -> tuple[keys.LocalSigner, bytes]:
    key = keys.generate_key(alg)
    valid_from, valid_until = _seal_window(now, PRESENTER_YEARS)
    cert = x509.issue_seal_certificate(
        root_key,
        root_cert,
        key.public_key(),
        department=PLATFORM_NAME,
        credit_code=PLATFORM_CREDIT_CODE,
        seal_name=PRESENTER_NAME,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    seal_id, kid = uuid7(), keys.kid_of(cert)
    sealed = keyring.encrypt(keys.private_key_to_der(key), context=SEAL_CONTEXT)
    await conn.execute(INSERT_PRESENTER, seal_id, PRESENTER_NAME, kid, cert, sealed, valid_from, valid_until, now, alg)
    await conn.execute(BUMP_TRUST_LIST)
    await audit.append(
        conn,
        actor="system",
        action="esign.seal_created",
        subject=str(seal_id),
        data={"kid": kid.hex(), "role": "presenter", "algorithm": alg},
        at=now,
    )
    return keys.LocalSigner(key, kid), cert


async def ensure_platform(conn: Conn, keyring: Keyring, *, now: datetime) -> bool:
    """Create the root and the presentation seal if missing (caller's transaction); True when made."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
    row = await conn.fetchrow("SELECT root_certificate, root_key FROM esign_platform")
    created = row is None
    if row is None:
        root_key = ec.generate_private_key(ec.SECP256R1())  # the root is ES256, as make_root_certificate wants
        root_cert = x509.make_root_certificate(
            root_key, organization=PLATFORM_NAME, credit_code=PLATFORM_CREDIT_CODE, now=now, years=ROOT_YEARS
        )
        sealed = keyring.encrypt(keys.private_key_to_der(root_key), context=ROOT_CONTEXT)
        await conn.execute(INSERT_ROOT, root_cert, sealed, now)
        await audit.append(
            conn, actor="system", action="esign.root_created", subject=keys.kid_of(root_cert).hex(), at=now
        )
    else:
        root_cert = row["root_certificate"]
        stored = keys.private_key_from_der(keyring.decrypt(row["root_key"], context=ROOT_CONTEXT))
        if not isinstance(stored, ec.EllipticCurvePrivateKey):  # only ever made above, as ES256
            raise RuntimeError("the platform root key is not an ES256 key")
        root_key = stored
    has_presenter = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM esign_seal WHERE role = 'presenter' AND status = 'active' AND algorithm = 'ES256')"
    )
    if not has_presenter:
        await _create_presenter(conn, keyring, root_key, root_cert, now)
    return created


SELECT_PRESENTER = """
SELECT certificate, private_key FROM esign_seal WHERE role = 'presenter' AND status = 'active' AND algorithm = 'ES256'
"""


async def load_platform(conn: Conn, keyring: Keyring) -> Platform:
    """The root and the presentation seal, decrypted; ``ensure_platform`` must have run."""
    row = await conn.fetchrow("SELECT root_certificate, root_key FROM esign_platform")
    seal = await conn.fetchrow(SELECT_PRESENTER)
    if row is None or seal is None:
        raise RuntimeError("no platform CA: run ensure_platform first")
    root_key = keys.private_key_from_der(keyring.decrypt(row["root_key"], context=ROOT_CONTEXT))
    presenter_key = keys.private_key_from_der(keyring.decrypt(seal["private_key"], context=SEAL_CONTEXT))
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    return Platform(
        root_key=root_key,
        root_cert=row["root_certificate"],
        presenter=keys.LocalSigner(presenter_key, keys.kid_of(seal["certificate"])),
        presenter_cert=seal["certificate"],
    )


async def sm2_presenter(conn: Conn, keyring: Keyring, platform: Platform, *, now: datetime) -> keys.LocalSigner:
    """The SM2 presentation seal (it signs SM2 certificates' presentation credentials), made on first use."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
    row = await conn.fetchrow(SELECT_PRESENTER.replace("'ES256'", "'SM2'"))
    if row is not None:
        key = keys.private_key_from_der(keyring.decrypt(row["private_key"], context=SEAL_CONTEXT))
        return keys.LocalSigner(key, keys.kid_of(row["certificate"]))
    signer, _ = await _create_presenter(conn, keyring, platform.root_key, platform.root_cert, now, keys.SM2)
    return signer
