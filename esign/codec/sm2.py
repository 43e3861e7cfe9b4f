"""SM2 signatures with SM3 (GB/T 32918.2 / GM/T 0003.2), signer id ``1234567812345678``.

Signing and verifying are Tongsuo's (``tongsuopy``, the Tongsuo project's binding: OpenSSL's fork
with the Chinese algorithms, constant-time SM2 in C). Tongsuo's EVP signature computes
``e = SM3(Z_A ‖ M)`` with the default signer id ``1234567812345678``, the one FORMATS.md names, and
draws its nonces from its own generator. This module keeps what the project relies on around it:

- private keys in ``[1, n-2]`` (``d = n-1`` has no SM2 signature) and public keys checked to lie on
  the curve, with ``InvalidKey`` for either;
- ``r`` and ``s`` range-checked before a verification, and a verification that never raises;
- signatures on the wire as raw ``r ‖ s`` (32 + 32 bytes); ``signature_to_der`` /
  ``signature_from_der`` convert for X.509 and CSR structures, which carry DER ``SEQUENCE {r, s}``
  (Tongsuo takes and gives the DER form).

Signatures made before by the pure-Python ``gmssl`` path are the same equations with the same id:
they verify unchanged (``tests/esign/test_sm2.py`` keeps one such signature and token).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from tongsuopy.crypto import hashes as ts_hashes
from tongsuopy.crypto.asymciphers import ec as ts_ec
from tongsuopy.crypto.exceptions import InvalidSignature

from esign.errors import InvalidKey

CURVE_OID = "1.2.156.10197.1.301"  # sm2p256v1 (GM/T 0006)
SIGNATURE_OID = "1.2.156.10197.1.501"  # SM2-with-SM3
DEFAULT_ID = b"1234567812345678"

# sm2p256v1 (GM/T 0003.5): field prime, curve a and b, group order, base point.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
_CURVE = ts_ec.SM2()
_ALGORITHM = ts_ec.ECDSA(ts_hashes.SM3())  # with an SM2 key: SM2-with-SM3, Z_A over the default id

# asn1crypto needs to know the curve's size to encode SM2 keys; registering is idempotent.
asn1_keys.NamedCurve.register("sm2p256v1", CURVE_OID, 32)


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


@dataclass(frozen=True, slots=True)
class Sm2PublicKey:
    """A point on the SM2 curve."""

    x: int
    y: int
    _key: Any = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not _on_curve(self.x, self.y):
            raise InvalidKey("SM2 public key is not a point on the curve")
        object.__setattr__(self, "_key", ts_ec.EllipticCurvePublicNumbers(self.x, self.y, _CURVE).public_key())

    def __reduce__(self) -> tuple[type, tuple[int, int]]:
        return type(self), (self.x, self.y)

    def to_bytes(self) -> bytes:
        """Uncompressed SEC 1 encoding, ``04 ‖ x ‖ y`` (65 bytes)."""
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> Sm2PublicKey:
        """Read an uncompressed point; raises ``InvalidKey``."""
        if len(data) != 65 or data[0] != 4:
            raise InvalidKey("SM2 public key must be an uncompressed point (65 bytes)")
        return cls(int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big"))

    def to_spki_der(self) -> bytes:
        """SubjectPublicKeyInfo: id-ecPublicKey with the sm2p256v1 named curve (GM/T 0015)."""
        info = asn1_keys.PublicKeyInfo(
            {
                "algorithm": {
                    "algorithm": "ec",
                    "parameters": asn1_keys.ECDomainParameters(name="named", value=CURVE_OID),
                },
                "public_key": self.to_bytes(),
            }
        )
        return info.dump()

    @classmethod
    def from_spki_der(cls, der: bytes) -> Sm2PublicKey:
        """Read a SubjectPublicKeyInfo holding an SM2 key; raises ``InvalidKey``."""
        try:
            info = asn1_keys.PublicKeyInfo.load(der, strict=True)
            algorithm = info["algorithm"]
            curve = algorithm["parameters"].chosen.dotted if algorithm["algorithm"].native == "ec" else None
            point = info["public_key"].native
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidKey("not a SubjectPublicKeyInfo") from exc
        if curve != CURVE_OID:
            raise InvalidKey("public key is not on the SM2 curve")
        return cls.from_bytes(point)


@dataclass(frozen=True, slots=True, repr=False)
class Sm2PrivateKey:
    """An SM2 private scalar ``d`` in ``[1, n-2]``; ``repr`` never shows it."""

    d: int
    _public: Sm2PublicKey = field(init=False, compare=False)
    _key: Any = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.d) is not int or not 1 <= self.d <= N - 2:
            raise InvalidKey("SM2 private key out of range")
        # Tongsuo's key computes d·G once; every signature needs it (for Z_A).
        key = ts_ec.derive_private_key(self.d, _CURVE)
        point = key.public_key().public_numbers()
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_public", Sm2PublicKey(point.x, point.y))

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return type(self), (self.d,)

    def __repr__(self) -> str:
        return "Sm2PrivateKey(...)"

    def public_key(self) -> Sm2PublicKey:
        """The matching public key ``d·G``."""
        return self._public

    def to_bytes(self) -> bytes:
        """The 32-byte big-endian scalar (encrypt it before storing)."""
        return self.d.to_bytes(32, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> Sm2PrivateKey:
        """Read a 32-byte scalar; raises ``InvalidKey``."""
        if len(data) != 32:
            raise InvalidKey("SM2 private key must be 32 bytes")
        return cls(int.from_bytes(data, "big"))


def generate_private_key() -> Sm2PrivateKey:
    """A new random SM2 private key."""
    return Sm2PrivateKey(secrets.randbelow(N - 2) + 1)


def sign(private: Sm2PrivateKey, data: bytes) -> bytes:
    """SM2-with-SM3 signature of ``data`` as raw ``r ‖ s`` (64 bytes), signer id ``1234567812345678``."""
    return signature_from_der(private._key.sign(data, _ALGORITHM))


def verify(public: Sm2PublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (raw ``r ‖ s``) is ``public``'s SM2 signature of ``data``; never raises."""
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N) or (r + s) % N == 0:
        return False
    try:
        public._key.verify(encode_dss_signature(r, s), data, _ALGORITHM)
    except InvalidSignature:
        return False
    return True


def signature_to_der(signature: bytes) -> bytes:
    """Raw ``r ‖ s`` to DER ``SEQUENCE {r, s}``."""
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


def signature_from_der(der: bytes) -> bytes:
    """DER ``SEQUENCE {r, s}`` to raw ``r ‖ s``; raises ``ValueError`` on a malformed value."""
    r, s = decode_dss_signature(der)
    if not (0 < r < 2**256 and 0 < s < 2**256):
        raise ValueError("r or s out of range")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
