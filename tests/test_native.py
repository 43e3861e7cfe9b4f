"""Where a C compiler is, the install builds the C forms of issuing's hot spots, and the code uses them."""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Callable
from types import ModuleType

import pytest

from api.kernel import pgcopy
from esign.codec import cose, tokens
from tests.native import built


@pytest.mark.parametrize(
    ("module", "in_use"),
    [
        ("esign.codec._b45", lambda c: tokens.b45encode is c.b45encode),
        ("esign.codec._cbor", lambda c: tokens._payload_c is c.payload and cose._canonical_c is c.canonical),
        ("api.kernel._pgcopy", lambda c: pgcopy.fields is c.fields),
    ],
)
def test_the_c_forms_are_built_and_used_where_a_compiler_is(module: str, in_use: Callable[[ModuleType], bool]) -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler {compiler!r} here")
    c = built(module)
    assert c is not None, f"{module} was not built"
    assert in_use(c)
