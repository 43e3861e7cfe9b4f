"""FORMATS.md §Identifiers test vectors."""

from __future__ import annotations

import random
from datetime import date

import pytest

from api.kernel.identifiers import credit_code_valid, id_number_error, id_number_sex, normalize_id_number

TODAY = date(2026, 11, 21)
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@pytest.mark.parametrize(
    "value", ["11010519491231002X", "360426199101010071", "44011320141005001X", "440524188001010014"]
)
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
        # Digits other than ASCII's are not digits here (str.isdigit says they are).
        ("１１０１０５１９４９１２３１００２X", "17 digits"),
        ("²10105194912310021", "17 digits"),
    ],
)
def test_invalid_id_numbers(value: str, reason: str) -> None:
    assert reason in (id_number_error(value, today=TODAY) or "")


def test_exactly_the_gb_11643_check_character_is_accepted() -> None:
    rng = random.Random(11643)
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # the standard's definition of the weights
    for _ in range(300):
        body = (
            f"110105{rng.randint(1900, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        )
        right = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
        assert [c for c in "0123456789X" if id_number_error(body + c, today=TODAY) is None] == [right]


def test_lowercase_x_is_accepted_and_stored_upper() -> None:
    assert id_number_error("11010519491231002x", today=TODAY) is None
    assert normalize_id_number(" 11010519491231002x ") == "11010519491231002X"


def test_sex_from_17th_digit() -> None:
    assert id_number_sex("360426199101010071") == "male"
    assert id_number_sex("11010519491231002X") == "female"


@pytest.mark.parametrize(
    "value",
    [
        "91110000600037341L",
        "121200004013590816",
        "91310115MA1K3BTP2B",
        "11100000000013338W",
        # Positions 1 and 2 may be any character of the alphabet (only 3–8 must be digits).
        "N2110000MA1K3BTP2G",
        "Y1110000MA1K3BTP2B",
        "A1310115MA1K3BTP2A",
    ],
)
def test_valid_credit_codes(value: str) -> None:
    assert credit_code_valid(value)


def test_credit_codes_led_by_digits_agree_with_stdnum() -> None:
    from stdnum.cn import uscc

    rng = random.Random(32100)
    for _ in range(5000):
        body = "".join(rng.choice("0123456789") for _ in range(8)) + "".join(rng.choice(ALPHABET) for _ in range(10))
        assert credit_code_valid(body) == uscc.is_valid(body), body


@pytest.mark.parametrize(
    "value",
    [
        "91110000600037341N",
        "9111000060003IOZSV",
        "",
        "91110000600037341",
        "N211000XMA1K3BTP2G",
        "91310115MA1K3BTP2C",
        "９1110000600037341L",
    ],
)
def test_invalid_credit_codes(value: str) -> None:
    assert not credit_code_valid(value)
