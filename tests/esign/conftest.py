from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.config import Settings
from tests.auth.helpers import operator
from tests.esign import api, helpers


@pytest.fixture(scope="session")
def pki() -> helpers.Pki:
    return helpers.make_pki()


@pytest.fixture(scope="session")
def other_pki() -> helpers.Pki:
    """A second platform with its own root, for tokens that must not chain."""
    return helpers.make_pki()


# --- route tests: the people who act ------------------------------------------------------------


@pytest.fixture
async def op(client: AsyncTestClient, conn: asyncpg.Connection, settings: Settings) -> str:
    return await operator(conn, settings)


@pytest.fixture
async def police_admin(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> str:
    """dept_admin of 株洲市公安局, which issues household registers."""
    return await api.staff(client, op, conn, "gongan", ["dept_admin"])


@pytest.fixture
async def police_issuer(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> str:
    return await api.staff(client, op, conn, "gongan", ["issuer"])


@pytest.fixture
async def police_seal(client: AsyncTestClient, police_admin: str) -> dict:
    return await api.make_seal(client, police_admin)
