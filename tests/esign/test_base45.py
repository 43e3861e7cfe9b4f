"""The whole-integer Base45 encoder writes exactly what the reference ``base45`` package writes."""

from __future__ import annotations

import base45
from hypothesis import given
from hypothesis import strategies as st

from esign import tokens


@given(st.binary(max_size=700))
def test_b45encode_matches_the_reference(data: bytes) -> None:
    assert tokens.b45encode(data) == base45.b45encode(data).decode("ascii")


def test_every_pair_value_at_the_edges_of_its_lane() -> None:
    # 0, 44, 45, 2024, 2025 and 65535 are where a digit rolls over or the lane is full.
    pairs = [0, 1, 44, 45, 46, 2024, 2025, 2026, 45 * 45 * 32 - 1, 65534, 65535]
    data = b"".join(n.to_bytes(2, "big") for n in pairs)
    for cut in range(len(data) + 1):
        assert tokens.b45encode(data[:cut]) == base45.b45encode(data[:cut]).decode("ascii")
    assert tokens.b45encode(b"\xff" * 3001) == base45.b45encode(b"\xff" * 3001).decode("ascii")


def test_rfc9285_examples() -> None:
    assert tokens.b45encode(b"AB") == "BB8"
    assert tokens.b45encode(b"Hello!!") == "%69 VD92EX0"
    assert tokens.b45encode(b"base-45") == "UJCLQE7W581"
    assert tokens.b45encode(b"") == ""
