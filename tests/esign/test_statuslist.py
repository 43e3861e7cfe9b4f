"""Status lists: bit layout, the signed JWT, and the size of a million certificates."""

from __future__ import annotations

import random
import zlib
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esign.codec import jws, statuslist
from esign.errors import InvalidStatusList
from tests.esign import helpers


def test_bit_layout_follows_the_ietf_draft() -> None:
    bits = statuslist.new_status_bits()
    assert len(bits) == 32_768
    statuslist.set_status(bits, 0, statuslist.REVOKED)  # bits 0..1 of byte 0
    statuslist.set_status(bits, 3, statuslist.SUSPENDED)  # bits 6..7 of byte 0
    statuslist.set_status(bits, 5, statuslist.SUSPENDED)  # bits 2..3 of byte 1
    assert bits[0] == 0b1000_0001
    assert bits[1] == 0b0000_1000
    assert [statuslist.get_status(bits, i) for i in range(6)] == [1, 0, 0, 2, 0, 2]
    with pytest.raises(IndexError):
        statuslist.get_status(bits, statuslist.SLOTS)


def test_ietf_example_decodes() -> None:
    """The 2-bit example of draft-ietf-oauth-status-list: statuses 1,2,0,3,0,1,0,1,1,2,3,3."""
    data = statuslist.decode_lst("eNo76fITAAPfAgc")
    assert [statuslist.get_status(data, i) for i in range(12)] == [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


def test_revoked_is_final_and_suspension_reversible() -> None:
    bits = statuslist.new_status_bits()
    statuslist.set_status(bits, 9, statuslist.SUSPENDED)
    statuslist.set_status(bits, 9, statuslist.VALID)
    assert statuslist.get_status(bits, 9) == statuslist.VALID
    statuslist.set_status(bits, 9, statuslist.REVOKED)
    with pytest.raises(ValueError):
        statuslist.set_status(bits, 9, statuslist.VALID)


@given(st.dictionaries(st.integers(0, statuslist.SLOTS - 1), st.sampled_from([0, 1, 2]), max_size=50))
def test_set_and_get_agree_with_a_plain_model(model: dict[int, int]) -> None:
    bits = statuslist.new_status_bits()
    for index, status in model.items():
        statuslist.set_status(bits, index, status)
    for index, status in model.items():
        assert statuslist.get_status(bits, index) == status
    assert statuslist.decode_lst(statuslist.encode_lst(bits)) == bytes(bits)


def test_jwt_round_trip(pki: helpers.Pki) -> None:
    bits = statuslist.new_status_bits()
    statuslist.set_status(bits, 7, statuslist.REVOKED)
    signed = statuslist.build_status_list(
        bits, url=helpers.STATUS_URL, root_key=pki.root_key, root_kid=pki.root_kid, now=helpers.NOW
    )
    header, payload = jws.verify_jws(signed, pki.root_key.public_key(), typ="statuslist+jwt")
    assert header == {"alg": "ES256", "typ": "statuslist+jwt", "kid": pki.root_kid}
    assert set(payload) == {"sub", "iat", "exp", "ttl", "status_list"}
    assert payload["status_list"]["bits"] == 2 and "=" not in payload["status_list"]["lst"]
    parsed = statuslist.parse_status_list(signed, pki.root_key.public_key(), url=helpers.STATUS_URL)
    assert parsed.status(7) == statuslist.REVOKED and parsed.status(8) == statuslist.VALID
    assert not parsed.expired(helpers.NOW) and parsed.expired(helpers.NOW + timedelta(days=8))


def test_jwt_from_another_root_or_for_another_url_is_refused(pki: helpers.Pki, other_pki: helpers.Pki) -> None:
    signed = statuslist.build_status_list(
        statuslist.new_status_bits(), url=helpers.STATUS_URL, root_key=pki.root_key, root_kid="x", now=helpers.NOW
    )
    with pytest.raises(InvalidStatusList):
        statuslist.parse_status_list(signed, other_pki.root_key.public_key())
    with pytest.raises(InvalidStatusList):
        statuslist.parse_status_list(signed, pki.root_key.public_key(), url=helpers.STATUS_URL + "0")
    with pytest.raises(InvalidStatusList):
        statuslist.parse_status_list(signed[:-3] + "AAA", pki.root_key.public_key())


def test_an_oversized_list_is_refused() -> None:
    import base64

    lst = base64.urlsafe_b64encode(zlib.compress(bytes(statuslist.SIZE + 1))).decode().rstrip("=")
    with pytest.raises(InvalidStatusList):
        statuslist.decode_lst(lst)


def test_one_million_certificates_one_percent_revoked_fit_in_20_kb() -> None:
    total = 1_000_000
    lists = [statuslist.new_status_bits() for _ in range(0, total, statuslist.SLOTS)]
    rng = random.Random(20261121)
    for index in rng.sample(range(total), total // 100):
        statuslist.set_status(lists[index // statuslist.SLOTS], index % statuslist.SLOTS, statuslist.REVOKED)
    compressed = sum(len(zlib.compress(bytes(bits), 9)) for bits in lists)
    encoded = sum(len(statuslist.encode_lst(bits)) for bits in lists)
    print(
        f"\n{len(lists)} status lists, 1,000,000 certificates, 10,000 revoked: "
        f"{compressed:,} bytes compressed, {encoded:,} characters of lst (base64url)"
    )
    assert compressed <= 20_000
