"""Licence identifiers (证照标识): FORMATS.md vectors, construction and corruptions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_37_36

from esign.codec import licence
from esign.codec.licence import LicenceId, build_licence_id, licence_id_valid, parse_licence_id
from esign.errors import InvalidLicenceId
from tests.esign import helpers

REAL = [
    "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize("value", REAL)
def test_real_identifiers_validate(value: str) -> None:
    parsed = parse_licence_id(value)
    assert str(parsed) == value
    assert build_licence_id(parsed.type_code, parsed.issuer_code, parsed.serial, int(parsed.version)) == value


def test_parts() -> None:
    assert parse_licence_id(REAL[0]) == LicenceId("11100000000013338W032", "11220000013544541J", "2430599", "001", "F")


@pytest.mark.parametrize("value", REAL)
def test_every_single_character_substitution_is_caught(value: str) -> None:
    start = len("1.2.156.3005.2.")
    for i in range(start, len(value)):
        if value[i] == ".":
            continue
        for c in ALPHABET:
            if c != value[i]:
                corrupted = value[:i] + c + value[i + 1 :]
                assert not licence_id_valid(corrupted), corrupted


@pytest.mark.parametrize("value", REAL)
def test_adjacent_transpositions_are_caught(value: str) -> None:
    body = value.split(".")
    for part in (5, 6, 7):
        text = body[part]
        for i in range(len(text) - 1):
            if text[i] != text[i + 1]:
                swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
                assert not licence_id_valid(".".join([*body[:part], swapped, *body[part + 1 :]]))


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1.2.156.3005.3.11100000000013338W032.11220000013544541J.2430599.001.F", "start"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001", "parts"),
        ("1.2.156.3005.2.11100000000013338W03.11220000013544541J.2430599.001.F", "type code"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541N.2430599.001.F", "issuer"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.24305a9.001.F", "serial"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.01.F", "version"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.G", "check"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.f", "check"),
    ],
)
def test_malformed(value: str, why: str) -> None:
    with pytest.raises(InvalidLicenceId) as caught:
        parse_licence_id(value)
    assert why in str(caught.value)


def test_build_refuses_bad_parts() -> None:
    with pytest.raises(InvalidLicenceId):
        build_licence_id("11100000000013338W032", "11220000013544541J", "", 1)
    with pytest.raises(InvalidLicenceId):
        build_licence_id("11100000000013338W032", "11220000013544541J", "1", 1000)


@given(serial=st.text(alphabet=ALPHABET, min_size=1, max_size=40), version=st.integers(1, 999))
def test_build_then_parse(serial: str, version: int) -> None:
    value = build_licence_id("11100000000013338W011", "11430000006122244L", serial, version)
    parsed = parse_licence_id(value)
    assert (parsed.serial, int(parsed.version)) == (serial, version)


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=40))
def test_check_char_is_stdnum_mod_37_36(serial: str) -> None:
    expected = mod_37_36.calc_check_digit(helpers.GB_TYPE_CODE + helpers.ISSUER_CODE + serial + "001")
    assert licence.check_char(helpers.GB_TYPE_CODE, helpers.ISSUER_CODE, serial, "001") == expected
