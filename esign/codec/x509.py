"""The platform root CA and the seal certificates it issues, for ES256 and SM2 seal keys.

The root is a self-signed ECDSA P-256 certificate; it signs seal certificates with
ecdsa-with-SHA256, whatever the seal's own algorithm, so one chain check serves both.

Subjects name the department: ``C=CN, O=<department>, CN=<seal name>`` and its unified social
credit code in ``organizationIdentifier`` (2.5.4.97). That attribute was made (X.520, used so by
ETSI EN 319 412-1) for the registration number of a legal person; ``serialNumber`` (2.5.4.5) is
the subject's own serial and is commonly a person's or a device's number, so it would be read
wrongly. The raw 18-character code is stored, without ETSI's ``NTRCN-`` prefix, so it compares
equal to the ``iss`` of a token.

SM2 seal keys: ``cryptography`` has no SM2 key type, so ``CertificateBuilder`` cannot place one.
A certificate for an SM2 key is built by ``CertificateBuilder`` around a placeholder P-256 key
(names, validity, extensions all encoded by ``cryptography``), then the TBSCertificate is opened
with ``asn1crypto``, its SubjectPublicKeyInfo replaced by the SM2 one (id-ecPublicKey with the
named curve sm2p256v1, 1.2.156.10197.1.301, as GM/T 0015 has it), and the new TBS is signed by the
root. The placeholder's signature is discarded; the subject key identifier is computed from the
real key. ``cryptography`` reads such a certificate (it parses the key lazily), so
``verify_directly_issued_by`` checks the root's signature for both algorithms.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from esign.codec.keys import PublicKey, algorithm_of, kid_of, public_key_from_spki, public_key_to_spki
from esign.errors import InvalidCertificate


def _name(common_name: str, organization: str, credit_code: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, credit_code),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ski(spki_der: bytes) -> x509.SubjectKeyIdentifier:
    # RFC 5280 method 1: SHA-1 of the subjectPublicKey bits; computed by hand so SM2 keys get one too.
    point = asn1_keys.PublicKeyInfo.load(spki_der)["public_key"].contents[1:]
    return x509.SubjectKeyIdentifier(hashlib.sha1(point).digest())


def make_root_certificate(
    key: ec.EllipticCurvePrivateKey,
    *,
    organization: str,
    credit_code: str,
    now: datetime,
    common_name: str = "掌办电子证照根CA",
    years: int = 20,
) -> bytes:
    """A self-signed P-256 root certificate (DER) valid from ``now`` for ``years``."""
    if algorithm_of(key) != "ES256":
        raise InvalidCertificate("the root key must be P-256")
    name = _name(common_name, organization, credit_code)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )  # digitalSignature (trust and status lists), keyCertSign, cRLSign
        .add_extension(_ski(public_key_to_spki(key.public_key())), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


def issue_seal_certificate(
    root_key: ec.EllipticCurvePrivateKey,
    root_der: bytes,
    public_key: PublicKey,
    *,
    department: str,
    credit_code: str,
    seal_name: str,
    valid_from: datetime,
    valid_until: datetime,
) -> bytes:
    """A seal certificate (DER) for an ES256 or SM2 ``public_key``, signed by the root."""
    root = load_certificate(root_der)
    spki = public_key_to_spki(public_key)
    is_sm2 = algorithm_of(public_key) == "SM2"
    # For SM2 a throwaway P-256 key holds the place of the real one until _resign_with_spki.
    placeholder = (
        public_key
        if isinstance(public_key, ec.EllipticCurvePublicKey)
        else (ec.generate_private_key(ec.SECP256R1()).public_key())
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(seal_name, department, credit_code))
        .issuer_name(root.subject)
        .public_key(placeholder)
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(valid_from)
        .not_valid_after(valid_until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )  # digitalSignature, nonRepudiation (contentCommitment): a seal's signature binds the issuer
        .add_extension(_ski(spki), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    der = builder.sign(root_key, hashes.SHA256()).public_bytes(Encoding.DER)
    return _resign_with_spki(der, spki, root_key) if is_sm2 else der


def _resign_with_spki(der: bytes, spki: bytes, root_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Swap the SubjectPublicKeyInfo of a certificate and sign its TBS again with the root."""
    cert = asn1_x509.Certificate.load(der)
    tbs = cert["tbs_certificate"]
    tbs["subject_public_key_info"] = asn1_keys.PublicKeyInfo.load(spki)
    tbs_der = tbs.dump(force=True)
    signature = root_key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    rebuilt = asn1_x509.Certificate(
        {
            "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": cert["signature_algorithm"],
            "signature_value": signature,
        }
    )
    return rebuilt.dump()


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse DER; raises ``InvalidCertificate``."""
    try:
        return x509.load_der_x509_certificate(der)
    except (ValueError, TypeError) as exc:
        raise InvalidCertificate("not a DER X.509 certificate") from exc


@dataclass(frozen=True, slots=True)
class SealCertificate:
    """What a seal certificate says, read from its DER."""

    kid: bytes
    alg: str
    public_key: PublicKey
    department: str
    credit_code: str
    seal_name: str
    not_before: datetime
    not_after: datetime


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if len(values) == 1 else ""


def read_seal_certificate(der: bytes) -> SealCertificate:
    """The key, department and validity of a seal certificate; raises ``InvalidCertificate``."""
    cert = load_certificate(der)
    try:
        spki = asn1_x509.Certificate.load(der)["tbs_certificate"]["subject_public_key_info"].dump()
        public_key = public_key_from_spki(spki)
    except Exception as exc:  # asn1crypto and the key readers raise several types on odd input
        raise InvalidCertificate("certificate key is not P-256 or SM2") from exc
    return SealCertificate(
        kid=kid_of(der),
        alg=algorithm_of(public_key),
        public_key=public_key,
        department=_attribute(cert.subject, NameOID.ORGANIZATION_NAME),
        credit_code=_attribute(cert.subject, NameOID.ORGANIZATION_IDENTIFIER),
        seal_name=_attribute(cert.subject, NameOID.COMMON_NAME),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def chain_problem(seal_der: bytes, root_der: bytes, *, at: datetime) -> str | None:
    """Why the seal certificate is not a valid end-entity of the root at ``at``, or None when it is."""
    try:
        seal, root = load_certificate(seal_der), load_certificate(root_der)
        root_ca = root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        seal_ca = seal.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (InvalidCertificate, x509.ExtensionNotFound, ValueError) as exc:
        return f"unreadable certificate: {exc}"
    if not root_ca or seal_ca:
        return "the root must be a CA and the seal must not be"
    # The root signs certificates (keyCertSign, where it says what its key is for); the seal signs
    # tokens (digitalSignature, which its certificate must say: ours always do).
    try:
        seal_usage = seal.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return "the seal certificate must say its key signs (keyUsage digitalSignature)"
    if not seal_usage.digital_signature:
        return "the seal certificate must say its key signs (keyUsage digitalSignature)"
    try:
        if not root.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            return "the root certificate must say its key signs certificates (keyUsage keyCertSign)"
    except x509.ExtensionNotFound:
        pass
    try:
        seal.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return "not issued by this root"
    try:
        # A root is its own issuer: a CA certificate issued by another (a seal made a CA) is no root.
        root.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return "the root certificate is not self-signed"
    for cert, what in ((root, "root"), (seal, "seal")):
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            return f"{what} certificate not valid at that time"
    return None
