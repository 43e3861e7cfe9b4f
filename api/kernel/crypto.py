"""Encryption at rest for personal data: AES-256-GCM under key ids, and an HMAC blind index.

Ciphertext layout (bytes): ``0x01`` version, 1 byte key-id length, key id (ASCII), 12-byte nonce,
AES-GCM ciphertext with its 16-byte tag. The associated data names the column ("person.id_number"),
so a ciphertext copied into another column does not decrypt.

Keys are derived with HKDF-SHA256 from ``ZB_MASTER_KEY``; the blind-index key is derived separately
and never rotates with the encryption key (rotation must not break lookups). Old master keys listed
in ``ZB_MASTER_KEY_PREVIOUS`` (comma-separated, oldest last) still decrypt; new writes use the
current one. Signing keys and other secrets at rest go through ``encrypt`` too (envelope style).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.kernel.errors import ConfigError

if TYPE_CHECKING:  # the settings are passed in; the kernel imports nothing of the root
    from api.config import Settings

VERSION = 1
# The context of a value an event carries for its recipient's eyes only (a kind's ``private`` values in
# notify.catalogue, e.g. a one-tap link's token): sealed where it is made, opened only to send it.
PRIVATE_VALUE = "event.private_value"


class DecryptionError(Exception):
    """Ciphertext is damaged, was made for another column, or its key is unknown."""


def _index_text(value: str) -> bytes:
    """What a blind index hashes: the value NFKC-normalised, trimmed and upper-cased, so spellings match."""
    return unicodedata.normalize("NFKC", value).strip().upper().encode()


def nonce_pool(count: int) -> list[bytes]:
    """``count`` fresh random 12-byte nonces for ``Keyring.encrypter``, read from the OS in one call: a
    system call per nonce costs more than the AES-GCM of a short value. A pool belongs to one task and is
    used up there (never kept across a fork, where both processes would take the same nonces)."""
    block = os.urandom(12 * count)
    return [block[i : i + 12] for i in range(len(block) - 12, -1, -12)]  # pop() takes them in order


def _hkdf(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"zhangban", info=info).derive(master)


def _decode_master(value: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{name}: must be base64 of 32 bytes") from None
    if len(raw) != 32:
        raise ConfigError(f"{name}: must be base64 of 32 bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True, repr=False)
class Keyring:
    current_kid: str
    _keys: dict[str, AESGCM]
    _index_key: bytes
    # The audit chain's HMAC key (api/kernel/audit.py). Anchored like the blind index, so a master-key
    # rotation does not break the verification of entries already written.
    audit_key: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        if not settings.master_key:
            raise ConfigError("ZB_MASTER_KEY: required when ZB_DATABASE_URL is set")
        masters = [_decode_master(settings.master_key, "ZB_MASTER_KEY")]
        for value in (settings.master_key_previous or "").split(","):
            if value.strip():
                masters.append(_decode_master(value, "ZB_MASTER_KEY_PREVIOUS"))
        keys = {}
        for master in masters:
            kid = hashlib.sha256(b"zhangban-kid" + master).hexdigest()[:8]
            keys[kid] = AESGCM(_hkdf(master, b"zhangban/aes-gcm/v1"))
        current = next(iter(keys))
        # The oldest listed master key anchors the index (list previous keys oldest last), so a
        # rotation never changes the index and lookups keep working.
        return cls(
            current,
            keys,
            _hkdf(masters[-1], b"zhangban/blind-index/v1"),
            _hkdf(masters[-1], b"zhangban/audit-chain/v2"),
        )

    def __repr__(self) -> str:
        return f"Keyring(current_kid={self.current_kid!r}, kids={sorted(self._keys)!r})"

    def encrypt(self, plaintext: str | bytes, *, context: str) -> bytes:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(12)
        kid = self.current_kid.encode()
        sealed = self._keys[self.current_kid].encrypt(nonce, data, context.encode())
        return bytes([VERSION, len(kid)]) + kid + nonce + sealed

    def encrypter(self, *, context: str, nonces: list[bytes] | None = None) -> Callable[[str | bytes], bytes]:
        """``encrypt`` for one context, with its per-call set-up done once (bulk writes seal thousands).

        ``nonces``, a list from ``nonce_pool``, is drawn from (and emptied) before reading from the OS.
        """
        kid = self.current_kid.encode()
        prefix, aad = bytes([VERSION, len(kid)]) + kid, context.encode()
        seal, urandom = self._keys[self.current_kid].encrypt, os.urandom
        pool = [] if nonces is None else nonces
        take = pool.pop

        def encrypt(plaintext: str | bytes) -> bytes:
            nonce = take() if pool else urandom(12)
            return prefix + nonce + seal(nonce, plaintext.encode() if isinstance(plaintext, str) else plaintext, aad)

        return encrypt

    def indexer(self, *, purpose: str) -> Callable[[str], bytes]:
        """``blind_index`` for one purpose, with the HMAC key and purpose taken in once (bulk writes index
        thousands)."""
        keyed = crypto_hmac.HMAC(self._index_key, hashes.SHA256())
        keyed.update(purpose.encode() + b"\x00")

        def index(value: str) -> bytes:
            mac = keyed.copy()
            mac.update(_index_text(value))
            return mac.finalize()

        return index

    def decrypt(self, blob: bytes, *, context: str) -> bytes:
        try:
            if blob[0] != VERSION:
                raise DecryptionError()
            klen = blob[1]
            kid = blob[2 : 2 + klen].decode()
            nonce = blob[2 + klen : 14 + klen]
            return self._keys[kid].decrypt(nonce, blob[14 + klen :], context.encode())
        except DecryptionError:
            raise
        except Exception:
            raise DecryptionError() from None

    def decrypt_str(self, blob: bytes, *, context: str) -> str:
        return self.decrypt(blob, context=context).decode()

    def seal_text(self, plaintext: str, *, context: str) -> str:
        """``encrypt`` as URL-safe base64 text, for values carried inside JSON (events, delivery content)."""
        return base64.urlsafe_b64encode(self.encrypt(plaintext, context=context)).decode()

    def open_text(self, sealed: str, *, context: str) -> str:
        """The value :meth:`seal_text` sealed; :class:`DecryptionError` if it was not sealed so."""
        try:
            blob = base64.urlsafe_b64decode(sealed.encode())
        except (binascii.Error, ValueError):
            raise DecryptionError() from None
        return self.decrypt_str(blob, context=context)

    def kid_of(self, blob: bytes) -> str:
        """Which key sealed this value (for re-encryption after rotation)."""
        return blob[2 : 2 + blob[1]].decode()

    def blind_index(self, value: str, *, purpose: str) -> bytes:
        """HMAC-SHA256 of the normalised value: equal inputs match, the value itself stays hidden."""
        return hmac.digest(self._index_key, purpose.encode() + b"\x00" + _index_text(value), "sha256")


# --- masking for responses and logs -------------------------------------------------------------


def mask_id_number(value: str) -> str:
    """``110105194912310021`` → ``110***********0021``; short values keep less."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """``张三丰`` → ``张*丰``, ``张三`` → ``张*``, ``欧阳娜娜`` → ``欧**娜``."""
    if len(value) <= 1:
        return "*"
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``."""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


# ID numbers (GB 11643: 18 characters, or the old 15 digits) and mainland mobile numbers written into
# free text, standing alone (not inside a longer run of digits).
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:[1-9][0-9]{16}[0-9Xx]|[1-9][0-9]{14})(?![0-9A-Za-z])")
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}(?![0-9])")


def mask_free_text(text: str) -> str:
    """Free text with the ID numbers and mobile numbers in it masked, the rest as written."""
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group()), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(re.sub(r"[ -]|^\+?86", "", m.group())), text)
