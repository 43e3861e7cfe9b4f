"""Chinese identifiers: citizen ID numbers (GB 11643-1999) and unified social credit codes (GB 32100-2015).

Both are checked here by their own algorithms rather than with python-stdnum: its ``cn.ric`` also
demands a region code from its bundled list and so rejects valid numbers from counties that have
since been renamed (``440524188001010014``), and its ``cn.uscc`` demands digits in positions 1–2,
where FORMATS.md (after GB 32100) allows any character of the code's alphabet. Only ASCII digits
count as digits: ``str.isdigit`` would let full-width and superscript digits through.
"""

from __future__ import annotations

from datetime import date
from operator import mul

_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK = "10X98765432"


def normalize_id_number(value: str) -> str:
    """Strip spaces and upper-case the check character (a lowercase ``x`` is accepted)."""
    return value.strip().replace(" ", "").upper()


_ASCII_ZERO_SUM = ord("0") * sum(_RIC_WEIGHTS)


def _ric_sum(v: str) -> int:
    """The weighted sum of the first 17 digits, from their ASCII codes (batch issuing checks thousands a
    second, and ``int`` per character was most of a check)."""
    return sum(map(mul, v[:17].encode(), _RIC_WEIGHTS)) - _ASCII_ZERO_SUM


def id_number_error(value: str, *, today: date) -> str | None:
    """Why ``value`` is not a valid GB 11643 number, or None when it is."""
    return normalized_id_number_error(normalize_id_number(value), today=today)


def normalized_id_number_error(v: str, *, today: date) -> str | None:
    """``id_number_error`` of a number ``normalize_id_number`` made."""
    if len(v) != 18 or not v.isascii() or not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        return "must be 17 digits and a check character"
    try:
        born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "birth date is not a real date"
    if born > today:
        return "birth date is in the future"
    if _RIC_CHECK[_ric_sum(v) % 11] != v[17]:
        return "check character does not match"
    return None


def id_number_birth_date(value: str) -> date:
    v = normalize_id_number(value)
    return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))


def id_number_sex(value: str) -> str:
    """``"male"`` for an odd 17th digit, ``"female"`` for an even one."""
    return "male" if int(normalize_id_number(value)[16]) % 2 else "female"


def normalize_credit_code(value: str) -> str:
    return value.strip().replace(" ", "").upper()


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_valid(value: str) -> bool:
    """GB 32100: 18 characters of the alphabet without I O Z S V, digits in positions 3–8, MOD 31 check."""
    v = normalize_credit_code(value)
    if len(v) != 18 or any(c not in _USCC_VALUES for c in v) or not (v[2:8].isascii() and v[2:8].isdigit()):
        return False
    check = (31 - sum(_USCC_VALUES[c] * w for c, w in zip(v, _USCC_WEIGHTS, strict=False)) % 31) % 31
    return _USCC_ALPHABET[check] == v[17]
