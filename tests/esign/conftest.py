from __future__ import annotations

import pytest

from tests.esign import helpers


@pytest.fixture(scope="session")
def pki() -> helpers.Pki:
    return helpers.make_pki()


@pytest.fixture(scope="session")
def other_pki() -> helpers.Pki:
    """A second platform with its own root, for tokens that must not chain."""
    return helpers.make_pki()
