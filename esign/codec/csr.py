"""Certificate signing requests (PKCS #10) for seals whose key stays with the department.

A CSR only proves that the sender holds the private key: its signature is checked, its public key
is taken, and everything else in it (subject, attributes) is ignored. The certificate's subject
comes from the platform's own record of the department, so a department cannot name itself as
another one.

P-256 requests are read and checked by ``cryptography``. SM2 requests (signature algorithm
SM2-with-SM3, 1.2.156.10197.1.501, DER ``SEQUENCE {r, s}`` over the CertificationRequestInfo with
the default signer id) are read with ``asn1crypto`` and checked by ``esign.codec.sm2``, because
``cryptography`` cannot verify SM2.
"""

from __future__ import annotations

from datetime import datetime

from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from esign.codec import sm2
from esign.codec.keys import PrivateKey, PublicKey, public_key_from_spki
from esign.codec.x509 import issue_seal_certificate
from esign.errors import InvalidCsr, InvalidKey

MAX_CSR_BYTES = 16 * 1024


def make_csr(key: PrivateKey, *, common_name: str) -> bytes:
    """A PEM CSR signed by ``key`` (what a department's own tooling sends)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        return request.public_bytes(Encoding.PEM)
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.build({"common_name": common_name}, use_printable=False),
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(key.public_key().to_spki_der()),
            "attributes": [],
        }
    )
    signature = sm2.signature_to_der(sm2.sign(key, info.dump()))
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": sm2.SIGNATURE_OID},
            "signature": signature,
        }
    )
    return pem.armor("CERTIFICATE REQUEST", request.dump())


def _der(data: bytes | str) -> bytes:
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    if len(raw) > MAX_CSR_BYTES:
        raise InvalidCsr("CSR too large")
    if pem.detect(raw):
        try:
            kind, _, der = pem.unarmor(raw)
        except ValueError as exc:
            raise InvalidCsr("CSR is not valid PEM") from exc
        if kind not in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
            raise InvalidCsr("PEM does not hold a certificate request")
        return der
    return raw


def csr_public_key(data: bytes | str) -> PublicKey:
    """The public key of a PEM or DER CSR whose signature checks; raises ``InvalidCsr``."""
    der = _der(data)
    try:
        request = asn1_csr.CertificationRequest.load(der, strict=True)
        info = request["certification_request_info"]
        public_key = public_key_from_spki(info["subject_pk_info"].dump())
        algorithm = request["signature_algorithm"]["algorithm"].dotted
        signature = request["signature"].native
        info_der = info.dump()
    except InvalidKey as exc:
        raise InvalidCsr("CSR key is not P-256 or SM2") from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidCsr("not a PKCS #10 request") from exc
    if isinstance(public_key, sm2.Sm2PublicKey):
        try:
            raw = sm2.signature_from_der(signature)
        except ValueError:
            raw = b""
        if algorithm != sm2.SIGNATURE_OID or not sm2.verify(public_key, info_der, raw):
            raise InvalidCsr("CSR signature does not check")
        return public_key
    try:
        valid = x509.load_der_x509_csr(der).is_signature_valid
    except (ValueError, TypeError) as exc:
        raise InvalidCsr("not a PKCS #10 request") from exc
    if not valid or algorithm != "1.2.840.10045.4.3.2":  # ecdsa-with-SHA256
        raise InvalidCsr("CSR signature does not check")
    return public_key


def issue_from_csr(
    root_key: ec.EllipticCurvePrivateKey,
    root_der: bytes,
    csr: bytes | str,
    *,
    department: str,
    credit_code: str,
    seal_name: str,
    valid_from: datetime,
    valid_until: datetime,
) -> bytes:
    """A seal certificate (DER) for the key in ``csr``, named from the platform's records."""
    return issue_seal_certificate(
        root_key,
        root_der,
        csr_public_key(csr),
        department=department,
        credit_code=credit_code,
        seal_name=seal_name,
        valid_from=valid_from,
        valid_until=valid_until,
    )
