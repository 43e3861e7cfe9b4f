"""FORMATS.md §Identifiers test vectors."""

from __future__ import annotations

from datetime import date

import pytest

from api.identifiers import credit_code_valid, id_number_error, id_number_sex, normalize_id_number

TODAY = date(2026, 11, 21)


@pytest.mark.parametrize("value", ["11010519491231002X", "360426199101010071", "44011320141005001X", "440524188001010014"])
def test_valid_id_numbers(value: str) -> None:
    assert id_number_error(value, today=TODAY) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("36042619910102009X", "check"),
        ("360426199113010079", "real date"),
        ("11010520991231001X", "future"),
        ("1101051949123100", "17 digits"),
        ("11010519491231002Y", "17 digits"),
    ],
)
def test_invalid_id_numbers(value: str, reason: str) -> None:
    assert reason in (id_number_error(value, today=TODAY) or "")


def test_lowercase_x_is_accepted_and_stored_upper() -> None:
    assert id_number_error("11010519491231002x", today=TODAY) is None
    assert normalize_id_number(" 11010519491231002x ") == "11010519491231002X"


def test_sex_from_17th_digit() -> None:
    assert id_number_sex("360426199101010071") == "male"
    assert id_number_sex("11010519491231002X") == "female"


@pytest.mark.parametrize("value", ["91110000600037341L", "121200004013590816", "91310115MA1K3BTP2B", "11100000000013338W"])
def test_valid_credit_codes(value: str) -> None:
    assert credit_code_valid(value)


@pytest.mark.parametrize("value", ["91110000600037341N", "9111000060003IOZSV", "", "91110000600037341"])
def test_invalid_credit_codes(value: str) -> None:
    assert not credit_code_valid(value)
