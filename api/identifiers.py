"""Chinese identifiers: citizen ID numbers (GB 11643-1999) and unified social credit codes (GB 32100-2015).

GB 11643 is checked here by its own algorithm rather than with python-stdnum's ``cn.ric``, which
also demands a region code from its bundled list and so rejects valid numbers from counties that
have since been renamed (``440524188001010014``). GB 32100 uses python-stdnum's ``cn.uscc``.
"""

from __future__ import annotations

from datetime import date
from operator import mul

from stdnum.cn import uscc

_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK = "10X98765432"


def normalize_id_number(value: str) -> str:
    """Strip spaces and upper-case the check character (a lowercase ``x`` is accepted)."""
    return value.strip().replace(" ", "").upper()


def id_number_error(value: str, *, today: date) -> str | None:
    """Why ``value`` is not a valid GB 11643 number, or None when it is."""
    v = normalize_id_number(value)
    if len(v) != 18 or not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        return "must be 17 digits and a check character"
    try:
        born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "birth date is not a real date"
    if born > today:
        return "birth date is in the future"
    if _RIC_CHECK[sum(map(mul, map(int, v[:17]), _RIC_WEIGHTS)) % 11] != v[17]:  # maps: batch issuing checks thousands
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


def credit_code_valid(value: str) -> bool:
    """GB 32100: alphabet without I O Z S V, digits in positions 3–8, MOD 31 check."""
    return bool(uscc.is_valid(normalize_credit_code(value)))
