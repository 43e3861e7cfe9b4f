"""The table-driven Base45 encoder writes exactly what the reference ``base45`` package writes."""

from __future__ import annotations

import base45
from hypothesis import given
from hypothesis import strategies as st

from esign import tokens


@given(st.binary(max_size=700))
def test_b45encode_matches_the_reference(data: bytes) -> None:
    assert tokens.b45encode(data) == base45.b45encode(data).decode("ascii")


def test_rfc9285_examples() -> None:
    assert tokens.b45encode(b"AB") == "BB8"
    assert tokens.b45encode(b"Hello!!") == "%69 VD92EX0"
    assert tokens.b45encode(b"base-45") == "UJCLQE7W581"
    assert tokens.b45encode(b"") == ""
