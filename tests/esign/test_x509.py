"""Root CA, seal certificates for ES256 and SM2 keys, CSRs, and the chain check."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as cx509

from esign.codec import csr, keys, sm2, x509
from esign.errors import InvalidCertificate, InvalidCsr
from tests.esign import crafted, helpers
from tests.esign.test_keys import needs_openssl_sm2


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_seal_certificate_contents(pki: helpers.Pki, alg: str) -> None:
    seal = pki.seals[alg]
    info = x509.read_seal_certificate(seal.cert)
    assert info.alg == alg
    assert keys.public_key_to_spki(info.public_key) == keys.public_key_to_spki(keys.public_key_of(seal.signer.key))
    assert (info.department, info.credit_code) == ("吉林省民政厅", helpers.ISSUER_CODE)
    assert info.kid == seal.signer.kid
    spki = asn1_x509.Certificate.load(seal.cert)["tbs_certificate"]["subject_public_key_info"]
    assert spki["algorithm"]["algorithm"].dotted == "1.2.840.10045.2.1"  # id-ecPublicKey
    curve = spki["algorithm"]["parameters"].chosen.dotted
    assert curve == (sm2.CURVE_OID if alg == "SM2" else "1.2.840.10045.3.1.7")
    cert = cx509.load_der_x509_certificate(seal.cert)
    assert cert.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.3.2"  # ecdsa-with-SHA256 by the root
    assert cert.subject.get_attributes_for_oid(cx509.ObjectIdentifier("2.5.4.97"))[0].value == helpers.ISSUER_CODE
    assert not cert.extensions.get_extension_for_class(cx509.BasicConstraints).value.ca


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_chain(pki: helpers.Pki, other_pki: helpers.Pki, alg: str) -> None:
    cert = pki.seals[alg].cert
    assert x509.chain_problem(cert, pki.root_cert, at=helpers.NOW) is None
    assert x509.chain_problem(cert, other_pki.root_cert, at=helpers.NOW) == "not issued by this root"
    assert "not valid" in (x509.chain_problem(cert, pki.root_cert, at=helpers.NOW + timedelta(days=400)) or "")
    assert "not valid" in (x509.chain_problem(cert, pki.root_cert, at=helpers.NOW - timedelta(days=366)) or "")
    assert x509.chain_problem(pki.root_cert, pki.root_cert, at=helpers.NOW) is not None  # the root is no seal


def test_a_resigned_tbs_without_the_root_does_not_chain(pki: helpers.Pki) -> None:
    """Someone re-signing an SM2 seal certificate with their own key gets nothing."""
    forged = x509._resign_with_spki(
        pki.seals["SM2"].cert,
        keys.public_key_to_spki(keys.public_key_of(keys.generate_key("SM2"))),
        keys.generate_key("ES256"),
    )
    assert x509.chain_problem(forged, pki.root_cert, at=helpers.NOW) == "not issued by this root"


def test_garbage_certificates() -> None:
    with pytest.raises(InvalidCertificate):
        x509.read_seal_certificate(b"\x30\x03\x02\x01\x01")
    assert x509.chain_problem(b"junk", b"junk", at=helpers.NOW) is not None


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_csr_flow(pki: helpers.Pki, alg: str) -> None:
    """The department keeps its key: the platform checks the CSR and certifies that key only."""
    department_key = keys.generate_key(alg)
    request = csr.make_csr(department_key, common_name="某某省公安厅")  # a name the platform ignores
    cert = csr.issue_from_csr(
        pki.root_key,
        pki.root_cert,
        request,
        department="吉林省民政厅",
        credit_code=helpers.ISSUER_CODE,
        seal_name="户籍专用章",
        valid_from=helpers.NOW,
        valid_until=helpers.NOW + timedelta(days=365),
    )
    info = x509.read_seal_certificate(cert)
    assert info.department == "吉林省民政厅" and info.seal_name == "户籍专用章"
    assert keys.public_key_to_spki(info.public_key) == keys.public_key_to_spki(keys.public_key_of(department_key))
    assert x509.chain_problem(cert, pki.root_cert, at=helpers.NOW + timedelta(days=1)) is None


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_tampered_csr_is_refused(alg: str) -> None:
    _kind, _, der = pem.unarmor(csr.make_csr(keys.generate_key(alg), common_name="章"))
    swapped = bytearray(der)
    # Replace the key with another valid one of the same algorithm: only the signature can tell.
    old = keys.public_key_to_spki(csr.csr_public_key(der))
    new = keys.public_key_to_spki(keys.public_key_of(keys.generate_key(alg)))
    start = bytes(swapped).index(old)
    swapped[start : start + len(old)] = new
    with pytest.raises(InvalidCsr, match="signature"):
        csr.csr_public_key(bytes(swapped))
    for junk in (b"", b"-----BEGIN CERTIFICATE REQUEST-----\nxx\n-----END CERTIFICATE REQUEST-----\n", b"\x30" * 20000):
        with pytest.raises(InvalidCsr):
            csr.csr_public_key(junk)


@needs_openssl_sm2
def test_openssl_made_sm2_csr_and_our_certificates(pki: helpers.Pki, tmp_path: Path) -> None:
    run = {"cwd": tmp_path, "check": True, "capture_output": True}
    subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", "key.pem"], **run)
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-key",
            "key.pem",
            "-subj",
            "/CN=seal",
            "-sm3",
            "-sigopt",
            "distid:1234567812345678",
            "-out",
            "req.pem",
        ],
        **run,
    )
    cert = csr.issue_from_csr(
        pki.root_key,
        pki.root_cert,
        (tmp_path / "req.pem").read_bytes(),
        department="吉林省民政厅",
        credit_code=helpers.ISSUER_CODE,
        seal_name="章",
        valid_from=helpers.NOW - timedelta(days=1),
        valid_until=helpers.NOW + timedelta(days=3650),
    )
    (tmp_path / "root.pem").write_bytes(pem.armor("CERTIFICATE", pki.root_cert))
    (tmp_path / "seal.pem").write_bytes(pem.armor("CERTIFICATE", cert))
    (tmp_path / "ours.pem").write_bytes(pem.armor("CERTIFICATE", pki.seals["SM2"].cert))
    for name in ("seal.pem", "ours.pem"):
        verified = subprocess.run(["openssl", "verify", "-CAfile", "root.pem", name], **run)
        assert b": OK" in verified.stdout
    text = subprocess.run(["openssl", "x509", "-in", "seal.pem", "-noout", "-text"], **run).stdout
    assert b"SM2" in text


@needs_openssl_sm2
def test_openssl_accepts_our_sm2_csr(tmp_path: Path) -> None:
    (tmp_path / "req.pem").write_bytes(csr.make_csr(keys.generate_key("SM2"), common_name="章"))
    verified = subprocess.run(
        ["openssl", "req", "-in", "req.pem", "-verify", "-noout", "-vfyopt", "distid:1234567812345678"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "verify OK" in verified.stdout + verified.stderr


def test_the_chain_checks_ca_flags_and_key_usage() -> None:
    """Only a CA root issues, only a seal that is no CA and whose key may sign (digitalSignature) seals."""
    good_root = crafted.root()
    good, _ = crafted.seal(good_root)
    assert x509.chain_problem(good.cert, good_root.cert, at=helpers.NOW) is None
    as_ca, as_ca_key = crafted.seal(good_root, ca=True, usage=crafted.CA_USAGE)
    assert "must not be" in (x509.chain_problem(as_ca.cert, good_root.cert, at=helpers.NOW) or "")
    # A seal with cA=true standing in for the root: what it certifies is not issued by the root.
    substitute = crafted.Root(as_ca_key, as_ca.cert, cx509.load_der_x509_certificate(as_ca.cert).subject)
    below, _ = crafted.seal(substitute)
    assert x509.chain_problem(below.cert, good_root.cert, at=helpers.NOW) == "not issued by this root"
    assert x509.chain_problem(below.cert, as_ca.cert, at=helpers.NOW) is not None  # nor may it be pinned as a root
    no_bc, _ = crafted.seal(good_root, ca=None)
    assert x509.chain_problem(no_bc.cert, good_root.cert, at=helpers.NOW) is not None
    for usage in (None, cx509.KeyUsage(False, True, False, False, False, False, False, False, False)):
        cannot_sign, _ = crafted.seal(good_root, usage=usage)
        assert "digitalSignature" in (x509.chain_problem(cannot_sign.cert, good_root.cert, at=helpers.NOW) or "")
    for bad_root in (
        crafted.root(ca=False),
        crafted.root(ca=None),
        crafted.root(usage=cx509.KeyUsage(True, False, False, False, False, False, True, False, False)),
    ):
        seal_of_it, _ = crafted.seal(bad_root)
        assert x509.chain_problem(seal_of_it.cert, bad_root.cert, at=helpers.NOW) is not None
    no_usage_root = crafted.root(usage=None)  # a root that does not say what its key is for may issue
    assert x509.chain_problem(crafted.seal(no_usage_root)[0].cert, no_usage_root.cert, at=helpers.NOW) is None
