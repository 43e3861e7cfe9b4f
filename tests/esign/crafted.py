"""Certificates the platform would never make, for the chain checks: a seal that claims to be a CA, a
seal certificate issued by such a seal (a root substitute), seals without the key usage to sign, a
root that is not a CA. Each is a real X.509 certificate signed by the key named."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from esign.codec import keys
from tests.esign import helpers

NOW = helpers.NOW
SIGNS = cx509.KeyUsage(True, True, False, False, False, False, False, False, False)  # as the platform's seals
CA_USAGE = cx509.KeyUsage(True, False, False, False, False, True, True, False, False)  # as the platform's root


def _name(common: str, credit_code: str) -> cx509.Name:
    return cx509.Name(
        [
            cx509.NameAttribute(NameOID.COMMON_NAME, common),
            cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "吉林省民政厅"),
            cx509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, credit_code),
        ]
    )


def certificate(
    subject: cx509.Name,
    key: ec.EllipticCurvePublicKey,
    issuer: cx509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool | None,
    usage: cx509.KeyUsage | None,
    days: int = 365,
) -> bytes:
    """A certificate with BasicConstraints ``ca`` (None: none) and ``usage`` (None: no KeyUsage)."""
    builder = (
        cx509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(cx509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=days))
        .not_valid_after(NOW + timedelta(days=days))
    )
    if ca is not None:
        builder = builder.add_extension(cx509.BasicConstraints(ca=ca, path_length=None if not ca else 0), critical=True)
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(Encoding.DER)


@dataclasses.dataclass
class Root:
    key: ec.EllipticCurvePrivateKey
    cert: bytes
    name: cx509.Name


def root(*, ca: bool | None = True, usage: cx509.KeyUsage | None = CA_USAGE) -> Root:
    key = keys.generate_key("ES256")
    name = _name("掌办电子证照根CA", helpers.PLATFORM_CODE)
    return Root(key, certificate(name, key.public_key(), name, key, ca=ca, usage=usage, days=400), name)


def seal(
    issuer: Root,
    *,
    ca: bool | None = False,
    usage: cx509.KeyUsage | None = SIGNS,
    name: str = "电子证照专用章",
) -> tuple[helpers.Seal, ec.EllipticCurvePrivateKey]:
    """An ES256 seal of ISSUER_CODE certified by ``issuer`` (its signer and key)."""
    key = keys.generate_key("ES256")
    cert = certificate(_name(name, helpers.ISSUER_CODE), key.public_key(), issuer.name, issuer.key, ca=ca, usage=usage)
    return helpers.Seal(keys.LocalSigner(key, keys.kid_of(cert)), cert), key
