"""Seal keys of both algorithms, the ``Signer`` interface, and signature checks.

Two algorithms, named as in the API: ``"ES256"`` (ECDSA P-256 with SHA-256, via ``cryptography``)
and ``"SM2"`` (SM2 with SM3, signer id ``1234567812345678``, via ``esign.codec.sm2``). Either way a
signature is raw ``r ‖ s``, 64 bytes, as COSE and JOSE carry it.

Signing goes through the ``Signer`` protocol, so the token code does not care where the key is:
``LocalSigner`` holds a key decrypted from storage (private keys are kept as PKCS#8 DER, which the
caller encrypts with ``api.kernel.crypto``); a seal whose key stays with the department or in an HSM is
any object with ``alg``, ``kid`` and ``sign``. A signer that must be awaited (a department's system
over HTTP) uses ``esign.codec.tokens.signing_input`` / ``esign.codec.tokens.assemble_token`` instead.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, cast, runtime_checkable

from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as CryptographyUnsupported
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from esign.codec import sm2
from esign.errors import InvalidKey, SigningFailed, UnsupportedAlgorithm

ES256 = "ES256"
SM2 = "SM2"
COSE_ALGS = {ES256: -7, SM2: -65600}
ALG_BY_COSE = {v: k for k, v in COSE_ALGS.items()}

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
PublicKey = ec.EllipticCurvePublicKey | sm2.Sm2PublicKey
PrivateKey = ec.EllipticCurvePrivateKey | sm2.Sm2PrivateKey


@runtime_checkable
class Signer(Protocol):
    """Something that signs with one seal key: ``sign`` returns raw ``r ‖ s`` (64 bytes) over ``data``."""

    alg: str
    kid: bytes

    def sign(self, data: bytes) -> bytes: ...


class LocalSigner:
    """A ``Signer`` over a private key held in memory."""

    __slots__ = ("alg", "key", "kid")

    def __init__(self, key: PrivateKey, kid: bytes) -> None:
        self.key = key
        self.kid = kid
        self.alg = algorithm_of(key)

    def __repr__(self) -> str:
        return f"LocalSigner(alg={self.alg!r}, kid={self.kid.hex()!r})"

    def sign(self, data: bytes) -> bytes:
        """Raw ``r ‖ s`` signature of ``data``."""
        if self.alg == ES256:
            # The key's kind was checked when the signer was made; skipping sign_raw's checks (abstract
            # base class lookups) matters to a batch that signs thousands of tokens a second.
            r, s = decode_dss_signature(cast(ec.EllipticCurvePrivateKey, self.key).sign(data, _ECDSA_SHA256))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return sign_raw(self.key, data)


def kid_of(cert_der: bytes) -> bytes:
    """The key id of a seal: the first 8 bytes of SHA-256 of its certificate's DER."""
    return hashlib.sha256(cert_der).digest()[:8]


def generate_key(alg: str) -> PrivateKey:
    """A new private key for ``"ES256"`` or ``"SM2"``."""
    if alg == ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == SM2:
        return sm2.generate_private_key()
    raise UnsupportedAlgorithm(f"unknown algorithm {alg!r}")


def algorithm_of(key: PublicKey | PrivateKey) -> str:
    """``"ES256"`` or ``"SM2"`` for a key of either kind; raises ``UnsupportedAlgorithm``."""
    if isinstance(key, sm2.Sm2PublicKey | sm2.Sm2PrivateKey):
        return SM2
    is_ec = isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey)
    if is_ec and isinstance(key.curve, ec.SECP256R1):
        return ES256
    raise UnsupportedAlgorithm("only P-256 and SM2 keys are supported")


def public_key_of(key: PrivateKey) -> PublicKey:
    """The public half of a private key."""
    return key.public_key()


def sign_raw(key: PrivateKey, data: bytes) -> bytes:
    """Raw ``r ‖ s`` signature of ``data`` (SHA-256 for ES256, SM3 with the default id for SM2)."""
    if isinstance(key, sm2.Sm2PrivateKey):
        return sm2.sign(key, data)
    if algorithm_of(key) != ES256:
        raise UnsupportedAlgorithm("only P-256 and SM2 keys are supported")
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(public: PublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (raw ``r ‖ s``) over ``data`` is valid for ``public``; never raises."""
    if len(signature) != 64:
        return False
    if isinstance(public, sm2.Sm2PublicKey):
        return sm2.verify(public, data, signature)
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if r == 0 or s == 0:
        return False
    try:
        public.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def check_signature_length(signature: bytes) -> bytes:
    """Pass a signer's output through, or raise ``SigningFailed`` when it is not 64 bytes."""
    if not isinstance(signature, bytes) or len(signature) != 64:
        raise SigningFailed("a seal signature must be raw r||s, 64 bytes")
    return signature


def public_key_to_spki(public: PublicKey) -> bytes:
    """SubjectPublicKeyInfo DER (id-ecPublicKey with P-256 or with the SM2 curve)."""
    if isinstance(public, sm2.Sm2PublicKey):
        return public.to_spki_der()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_from_spki(der: bytes) -> PublicKey:
    """Read a P-256 or SM2 SubjectPublicKeyInfo; raises ``InvalidKey``."""
    try:
        curve = asn1_keys.PublicKeyInfo.load(der, strict=True)["algorithm"]["parameters"].chosen.dotted
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidKey("not an EC SubjectPublicKeyInfo") from exc
    if curve == sm2.CURVE_OID:
        return sm2.Sm2PublicKey.from_spki_der(der)
    try:
        public = serialization.load_der_public_key(der)
    except (ValueError, TypeError, CryptographyUnsupported) as exc:
        raise InvalidKey("not a P-256 or SM2 public key") from exc
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        raise InvalidKey("not a P-256 or SM2 public key")
    return public


def private_key_to_der(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER of either kind of key (encrypt it before it is stored)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    curve = asn1_keys.ECDomainParameters(name="named", value=sm2.CURVE_OID)
    inner = asn1_keys.ECPrivateKey(
        {"version": "ecPrivkeyVer1", "private_key": key.d, "public_key": key.public_key().to_bytes()}
    )
    info = asn1_keys.PrivateKeyInfo(
        {"version": 0, "private_key_algorithm": {"algorithm": "ec", "parameters": curve}, "private_key": inner}
    )
    return info.dump()


def private_key_from_der(der: bytes) -> PrivateKey:
    """Read PKCS#8 DER written by ``private_key_to_der`` (or OpenSSL); raises ``InvalidKey``."""
    try:
        info = asn1_keys.PrivateKeyInfo.load(der, strict=True)
        curve = info["private_key_algorithm"]["parameters"].chosen.dotted
        if curve == sm2.CURVE_OID:
            return sm2.Sm2PrivateKey(info["private_key"].parsed["private_key"].native)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidKey("not a PKCS#8 EC private key") from exc
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, CryptographyUnsupported) as exc:
        raise InvalidKey("not a P-256 or SM2 private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidKey("not a P-256 or SM2 private key")
    return key
