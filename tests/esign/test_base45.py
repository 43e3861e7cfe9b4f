"""Both Base45 encoders, the C one and the whole-integer Python one, write exactly what the reference
``base45`` package writes."""

from __future__ import annotations

from collections.abc import Callable

import base45
import pytest
from hypothesis import given
from hypothesis import strategies as st

from esign.codec import tokens
from tests.native import forms

ENCODERS = forms(tokens.b45encode_python, "esign.codec._b45", "b45encode")


@pytest.mark.parametrize("encode", ENCODERS)
@given(data=st.binary(max_size=700))
def test_b45encode_matches_the_reference(encode: Callable[[bytes], str], data: bytes) -> None:
    assert encode(data) == base45.b45encode(data).decode("ascii")


@pytest.mark.parametrize("encode", ENCODERS)
def test_every_pair_value_at_the_edges_of_its_lane(encode: Callable[[bytes], str]) -> None:
    # 0, 44, 45, 2024, 2025 and 65535 are where a digit rolls over or the lane is full.
    pairs = [0, 1, 44, 45, 46, 2024, 2025, 2026, 45 * 45 * 32 - 1, 65534, 65535]
    data = b"".join(n.to_bytes(2, "big") for n in pairs)
    for cut in range(len(data) + 1):
        assert encode(data[:cut]) == base45.b45encode(data[:cut]).decode("ascii")
    assert encode(b"\xff" * 3001) == base45.b45encode(b"\xff" * 3001).decode("ascii")
    assert encode(bytes(range(256)) * 3) == base45.b45encode(bytes(range(256)) * 3).decode("ascii")


@pytest.mark.parametrize("encode", ENCODERS)
def test_rfc9285_examples(encode: Callable[[bytes], str]) -> None:
    assert encode(b"AB") == "BB8"
    assert encode(b"Hello!!") == "%69 VD92EX0"
    assert encode(b"base-45") == "UJCLQE7W581"
    assert encode(b"") == ""
