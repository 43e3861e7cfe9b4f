"""SM2 signatures with SM3 (GB/T 32918.2 / GM/T 0003.2), signer id ``1234567812345678``.

The curve arithmetic and the signature equations are gmssl's (pure Python, the most used SM2
package on PyPI). This module adds what gmssl leaves out, which is why it exists at all:

- nonces ``k`` and private keys come from ``secrets`` within ``[1, n-1]`` / ``[1, n-2]``; gmssl's
  own default draws hex digits with ``random.choice``, which is not a cryptographic generator;
- ``r`` and ``s`` are range-checked and the public key is checked to lie on the curve before a
  verification; gmssl checks neither, and an off-curve or zero value can make it raise;
- the public key is put on the gmssl object after construction, because its constructor
  ``lstrip("04")``s the hex and so mangles keys whose x coordinate starts with ``0`` or ``4``;
- the digest ``e = SM3(Z_A ‖ M)`` is computed with SM3 from ``cryptography`` (OpenSSL), both for
  speed and to use the default id explicitly.

Signatures on the wire are raw ``r ‖ s`` (32 + 32 bytes); ``signature_to_der`` /
``signature_from_der`` convert for X.509 and CSR structures, which carry DER ``SEQUENCE {r, s}``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from gmssl import sm2 as gm

from esign.errors import InvalidKey

CURVE_OID = "1.2.156.10197.1.301"  # sm2p256v1 (GM/T 0006)
SIGNATURE_OID = "1.2.156.10197.1.501"  # SM2-with-SM3
DEFAULT_ID = b"1234567812345678"

P = int(gm.default_ecc_table["p"], 16)
A = int(gm.default_ecc_table["a"], 16)
B = int(gm.default_ecc_table["b"], 16)
N = int(gm.default_ecc_table["n"], 16)
_G_HEX = gm.default_ecc_table["g"]
GX, GY = int(_G_HEX[:64], 16), int(_G_HEX[64:], 16)

# asn1crypto needs to know the curve's size to encode SM2 keys; registering is idempotent.
asn1_keys.NamedCurve.register("sm2p256v1", CURVE_OID, 32)


def _engine(private: int | None = None, public: tuple[int, int] | None = None) -> gm.CryptSM2:
    engine = gm.CryptSM2(private_key=f"{private or 0:064x}", public_key="")
    if public is not None:
        engine.public_key = f"{public[0]:064x}{public[1]:064x}"  # see the module docstring: not via the constructor
    return engine


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


@dataclass(frozen=True, slots=True)
class Sm2PublicKey:
    """A point on the SM2 curve."""

    x: int
    y: int

    def __post_init__(self) -> None:
        if not _on_curve(self.x, self.y):
            raise InvalidKey("SM2 public key is not a point on the curve")

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

    def __post_init__(self) -> None:
        if type(self.d) is not int or not 1 <= self.d <= N - 2:
            raise InvalidKey("SM2 private key out of range")
        # d·G costs as much as a signature; every signature needs it (for Z_A), so compute it once.
        point = _engine()._kg(self.d, _G_HEX)
        object.__setattr__(self, "_public", Sm2PublicKey(int(point[:64], 16), int(point[64:], 16)))

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


def _digest(public: Sm2PublicKey, data: bytes, uid: bytes) -> bytes:
    """``e = SM3(Z_A ‖ M)`` with ``Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)``."""
    z = hashes.Hash(hashes.SM3())
    z.update((len(uid) * 8).to_bytes(2, "big") + uid)
    for value in (A, B, GX, GY, public.x, public.y):
        z.update(value.to_bytes(32, "big"))
    e = hashes.Hash(hashes.SM3())
    e.update(z.finalize() + data)
    return e.finalize()


def sign(private: Sm2PrivateKey, data: bytes, *, uid: bytes = DEFAULT_ID) -> bytes:
    """SM2-with-SM3 signature of ``data`` as raw ``r ‖ s`` (64 bytes)."""
    public = private.public_key()
    e = _digest(public, data, uid)
    engine = _engine(private.d, (public.x, public.y))
    while True:
        # gmssl returns None for the rare k that gives r = 0, r + k = n or s = 0: draw again.
        signature = engine.sign(e, f"{secrets.randbelow(N - 1) + 1:064x}")
        if signature is not None:
            return bytes.fromhex(signature)


def verify(public: Sm2PublicKey, data: bytes, signature: bytes, *, uid: bytes = DEFAULT_ID) -> bool:
    """Whether ``signature`` (raw ``r ‖ s``) is ``public``'s SM2 signature of ``data``; never raises."""
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N) or (r + s) % N == 0:
        return False
    try:
        return bool(_engine(public=(public.x, public.y)).verify(signature.hex(), _digest(public, data, uid)))
    except (TypeError, ValueError):  # the point at infinity reached inside gmssl
        return False


def signature_to_der(signature: bytes) -> bytes:
    """Raw ``r ‖ s`` to DER ``SEQUENCE {r, s}``."""
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


def signature_from_der(der: bytes) -> bytes:
    """DER ``SEQUENCE {r, s}`` to raw ``r ‖ s``; raises ``ValueError`` on a malformed value."""
    r, s = decode_dss_signature(der)
    if not (0 < r < 2**256 and 0 < s < 2**256):
        raise ValueError("r or s out of range")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
