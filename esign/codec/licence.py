"""Licence identifiers (证照标识), after the structure used with GB/T 36904.

``1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>``:

- type code: the defining department's credit code + 3 digits (21 characters);
- issuer code: the issuing department's unified social credit code (18 characters);
- serial: upper-case letters and digits, assigned by the issuer;
- version: 3 digits, ``001`` for the first issue;
- check: one character of ``0-9A-Z``, ISO/IEC 7064 MOD 37,36 (hybrid) over
  type + issuer + serial + version without the dots.

The check character is ISO/IEC 7064 MOD 37,36 over ``0-9A-Z``, the algorithm of python-stdnum's
``iso7064.mod_37_36`` (the tests compare the two), computed here so that the running value after
the type and issuer codes, which every certificate of one type and issuer shares, is computed once:
a batch builds thousands of ids a second. Both credit codes are checked with GB 32100 as well, so
a typo in either part is caught even when the MOD 37,36 check would happen to match.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from api.kernel.identifiers import credit_code_valid
from esign.errors import InvalidLicenceId

PREFIX = "1.2.156.3005.2."
_TYPE = re.compile(r"[0-9A-Z]{18}[0-9]{3}")
_SERIAL = re.compile(r"[0-9A-Z]{1,40}")
_VERSION = re.compile(r"[0-9]{3}")


@functools.lru_cache(maxsize=1024)
def credit_code_ok(code: str) -> bool:
    """``credit_code_valid``, remembered: a batch names the same few departments thousands of times."""
    return credit_code_valid(code)


@dataclass(frozen=True, slots=True)
class LicenceId:
    """The parts of a licence identifier; ``str()`` gives the dotted text."""

    type_code: str
    issuer_code: str
    serial: str
    version: str
    check: str

    def __str__(self) -> str:
        parts = (self.type_code, self.issuer_code, self.serial, self.version, self.check)
        return PREFIX + ".".join(parts)


@functools.lru_cache(maxsize=1024)
def _codes_problem(type_code: str, issuer_code: str) -> str | None:
    if not _TYPE.fullmatch(type_code) or not credit_code_ok(type_code[:18]):
        return "type code must be a valid credit code followed by 3 digits"
    if len(issuer_code) != 18 or not credit_code_ok(issuer_code):
        return "issuer code must be a valid unified social credit code"
    return None


def _problem(type_code: str, issuer_code: str, serial: str, version: str) -> str | None:
    if (problem := _codes_problem(type_code, issuer_code)) is not None:
        return problem
    if not _SERIAL.fullmatch(serial):
        return "serial must be 1 to 40 upper-case letters or digits"
    if not _VERSION.fullmatch(version):
        return "version must be 3 digits"
    return None


_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# _STEP[state][ch]: the next running value, ``((state or 36) * 2 % 37 + value of ch) % 36``.
_STEP = [{ch: ((state or 36) * 2 % 37 + i) % 36 for i, ch in enumerate(_ALPHABET)} for state in range(36)]


def _mod_37_36(state: int, text: str) -> int:
    """ISO/IEC 7064 hybrid MOD 37,36 carried over ``text`` from ``state`` (18 to start)."""
    for ch in text:
        state = _STEP[state][ch]
    return state


@functools.lru_cache(maxsize=1024)
def _after_codes(type_code: str, issuer_code: str) -> int:
    return _mod_37_36(18, type_code + issuer_code)


def _check_of(state: int) -> str:
    """The check character that closes a MOD 37,36 run standing at ``state``."""
    return _ALPHABET[(1 - (state or 36) * 2 % 37) % 36]


def check_char(type_code: str, issuer_code: str, serial: str, version: str) -> str:
    """The MOD 37,36 check character over type + issuer + serial + version (all of ``0-9A-Z``)."""
    return _check_of(_mod_37_36(_after_codes(type_code, issuer_code), serial + version))


def build_licence_id(type_code: str, issuer_code: str, serial: str, version: int | str = 1) -> str:
    """The dotted licence identifier with its check character; raises ``InvalidLicenceId``."""
    version = f"{version:03d}" if isinstance(version, int) else version
    problem = _problem(type_code, issuer_code, serial, version)
    if problem is not None:
        raise InvalidLicenceId(problem)
    check = check_char(type_code, issuer_code, serial, version)
    return f"{PREFIX}{type_code}.{issuer_code}.{serial}.{version}.{check}"


_CHECK_AFTER_001 = [_check_of(_mod_37_36(state, "001")) for state in range(36)]


@functools.lru_cache(maxsize=256)
def builder(type_code: str, issuer_code: str) -> Callable[[str], str]:
    """``build_licence_id`` of first issues (version 001) for one type and issuer. A batch builds thousands
    of ids from the same codes: these are checked and carried through the MOD 37,36 once, and each call
    does the serial only. With an invalid code it is ``build_licence_id`` itself, which says why."""
    if _codes_problem(type_code, issuer_code) is not None:
        return functools.partial(build_licence_id, type_code, issuer_code)
    prefix, start = f"{PREFIX}{type_code}.{issuer_code}.", _after_codes(type_code, issuer_code)
    serial_ok, step, check = _SERIAL.fullmatch, _STEP, _CHECK_AFTER_001

    def build(serial: str) -> str:
        if type(serial) is not str or not serial_ok(serial):
            return build_licence_id(type_code, issuer_code, serial)  # raises, saying why
        state = start
        for ch in serial:
            state = step[state][ch]
        return f"{prefix}{serial}.001.{check[state]}"

    return build


def parse_licence_id(value: str) -> LicenceId:
    """Split and fully check a licence identifier; raises ``InvalidLicenceId`` saying why."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        raise InvalidLicenceId("must start with " + PREFIX)
    parts = value[len(PREFIX) :].split(".")
    if len(parts) != 5:
        raise InvalidLicenceId("must have type, issuer, serial, version and check parts")
    type_code, issuer_code, serial, version, check = parts
    problem = _problem(type_code, issuer_code, serial, version)
    if problem is not None:
        raise InvalidLicenceId(problem)
    if check != check_char(type_code, issuer_code, serial, version):
        raise InvalidLicenceId("check character does not match")
    return LicenceId(type_code, issuer_code, serial, version, check)


def licence_id_valid(value: str) -> bool:
    """Whether ``value`` is a well-formed licence identifier with a matching check character."""
    try:
        parse_licence_id(value)
    except InvalidLicenceId:
        return False
    return True
