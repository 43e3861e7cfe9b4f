"""Encryption at rest: AES-GCM under key ids with column binding, rotation, blind index, masking."""

from __future__ import annotations

import base64

import pytest

from api.config import ConfigError, Settings
from api.kernel.crypto import DecryptionError, Keyring, mask_id_number, mask_name, mask_phone

K1 = base64.b64encode(b"\x01" * 32).decode()
K2 = base64.b64encode(b"\x02" * 32).decode()


def ring(current: str, previous: str | None = None) -> Keyring:
    return Keyring.from_settings(
        Settings(database_url="postgresql://x/y", master_key=current, master_key_previous=previous)
    )


def test_round_trip_and_no_plaintext_in_ciphertext() -> None:
    k = ring(K1)
    blob = k.encrypt("11010519491231002X", context="person.id_number")
    assert b"11010519491231002X" not in blob
    assert k.decrypt_str(blob, context="person.id_number") == "11010519491231002X"
    # Same value twice → different ciphertexts (random nonce): equality leaks nothing.
    assert blob != k.encrypt("11010519491231002X", context="person.id_number")


def test_ciphertext_is_bound_to_its_column() -> None:
    k = ring(K1)
    blob = k.encrypt("张三", context="person.name")
    with pytest.raises(DecryptionError):
        k.decrypt(blob, context="account.phone")


def test_any_flipped_byte_fails() -> None:
    k = ring(K1)
    blob = bytearray(k.encrypt("13812345678", context="account.phone"))
    for i in range(len(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= 0x01
        with pytest.raises(DecryptionError):
            k.decrypt(bytes(damaged), context="account.phone")


def test_rotation_keeps_old_values_readable_and_the_index_stable() -> None:
    old = ring(K1)
    blob = old.encrypt("秘密", context="t.c")
    new = ring(K2, previous=K1)
    assert new.decrypt_str(blob, context="t.c") == "秘密"
    assert new.kid_of(new.encrypt("x", context="t.c")) == new.current_kid != old.current_kid
    assert new.blind_index("110105194912310021", purpose="id") == old.blind_index("110105194912310021", purpose="id")
    with pytest.raises(DecryptionError):
        ring(K2).decrypt(blob, context="t.c")


def test_blind_index_matches_equal_values_only() -> None:
    k = ring(K1)
    assert k.blind_index("11010519491231002x", purpose="id") == k.blind_index(" 11010519491231002X", purpose="id")
    assert k.blind_index("11010519491231002X", purpose="id") != k.blind_index("11010519491231002X", purpose="phone")
    assert k.blind_index("360426199101010071", purpose="id") != k.blind_index("11010519491231002X", purpose="id")
    assert len(k.blind_index("x", purpose="id")) == 32


def test_master_key_is_required_and_checked() -> None:
    with pytest.raises(ConfigError, match="ZB_MASTER_KEY"):
        Keyring.from_settings(Settings(database_url="postgresql://x/y"))
    with pytest.raises(ConfigError, match="ZB_MASTER_KEY"):
        Keyring.from_settings(Settings(database_url="postgresql://x/y", master_key="c2hvcnQ="))
    assert "kids" in repr(ring(K1)) and K1 not in repr(ring(K1))


def test_masking() -> None:
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_name("张三丰") == "张*丰" and mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧**娜"
    assert mask_phone("13812345678") == "138****5678"
