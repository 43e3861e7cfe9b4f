"""Seal keys of both algorithms; SM2 checked against OpenSSL where the machine's OpenSSL has SM2."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import pem

from esign.codec import keys, sm2
from esign.errors import InvalidKey, UnsupportedAlgorithm


def _openssl_has_sm2() -> bool:
    if shutil.which("openssl") is None:
        return False
    out = subprocess.run(["openssl", "list", "-public-key-algorithms"], capture_output=True, text=True, check=False)
    return "SM2" in out.stdout


needs_openssl_sm2 = pytest.mark.skipif(not _openssl_has_sm2(), reason="this machine's openssl has no SM2")


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_sign_verify_round_trip(alg: str) -> None:
    key = keys.generate_key(alg)
    public = keys.public_key_of(key)
    signature = keys.sign_raw(key, b"data")
    assert len(signature) == 64
    assert keys.verify_raw(public, b"data", signature)
    assert not keys.verify_raw(public, b"datA", signature)
    assert not keys.verify_raw(public, b"data", signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not keys.verify_raw(keys.public_key_of(keys.generate_key(alg)), b"data", signature)


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_key_serialisation_round_trip(alg: str) -> None:
    key = keys.generate_key(alg)
    again = keys.private_key_from_der(keys.private_key_to_der(key))
    spki = keys.public_key_to_spki(keys.public_key_of(key))
    assert keys.public_key_to_spki(keys.public_key_of(again)) == spki
    assert keys.public_key_to_spki(keys.public_key_from_spki(spki)) == spki
    assert keys.algorithm_of(again) == alg


def test_signatures_out_of_range_never_verify() -> None:
    public = sm2.generate_private_key().public_key()
    n = sm2.N.to_bytes(32, "big")
    for signature in (bytes(64), b"\x00" * 32 + b"\x01" * 32, n + b"\x01" * 32, b"\x01" * 32 + n, b"\xff" * 64, b""):
        assert not sm2.verify(public, b"data", signature)
        assert not keys.verify_raw(keys.public_key_of(keys.generate_key("ES256")), b"data", signature)


def test_off_curve_sm2_key_is_refused() -> None:
    point = sm2.generate_private_key().public_key().to_bytes()
    with pytest.raises(InvalidKey):
        sm2.Sm2PublicKey.from_bytes(point[:-1] + bytes([point[-1] ^ 1]))
    with pytest.raises(InvalidKey):
        sm2.Sm2PrivateKey(0)


def test_private_keys_do_not_print() -> None:
    key = sm2.generate_private_key()
    assert str(key.d) not in repr(key)
    assert "LocalSigner(alg='SM2'" in repr(keys.LocalSigner(key, b"\x00" * 8))


def test_unknown_algorithm() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        keys.generate_key("RS256")


@needs_openssl_sm2
def test_sm2_interoperates_with_openssl(tmp_path: Path) -> None:
    """Our SM2 signatures verify in OpenSSL and OpenSSL's verify here (default id 1234567812345678)."""
    key = sm2.generate_private_key()
    (tmp_path / "key.der").write_bytes(keys.private_key_to_der(key))
    (tmp_path / "pub.pem").write_bytes(pem.armor("PUBLIC KEY", key.public_key().to_spki_der()))
    message = "电子证照 ZB1 签名".encode() * 7
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "ours.sig").write_bytes(sm2.signature_to_der(sm2.sign(key, message)))
    common = ["-rawin", "-digest", "sm3", "-in", "msg", "-pkeyopt", "distid:1234567812345678"]
    verified = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-sigfile", "ours.sig", *common],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Verified Successfully" in verified.stdout, verified.stderr
    subprocess.run(
        ["openssl", "pkeyutl", "-sign", "-keyform", "DER", "-inkey", "key.der", "-out", "theirs.sig", *common],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    theirs = sm2.signature_from_der((tmp_path / "theirs.sig").read_bytes())
    assert sm2.verify(key.public_key(), message, theirs)
    assert not sm2.verify(key.public_key(), message + b"!", theirs)


def test_sm2_keys_whose_x_starts_with_0_or_4() -> None:
    """Public keys whose x coordinate starts with a 0 or 4 hex digit (once mangled by gmssl) sign and verify."""
    seen = 0
    while seen < 3:
        key = sm2.generate_private_key()
        if f"{key.public_key().x:064x}"[0] in "04":
            seen += 1
            assert sm2.verify(key.public_key(), b"data", sm2.sign(key, b"data"))
