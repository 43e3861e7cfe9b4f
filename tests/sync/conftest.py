from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.config import Settings
from tests.auth.helpers import operator
from tests.people import citizen, id_number, staff
from tests.sync_client import SyncClient

MOTHER = id_number("19920304", 7, male=False)


@pytest.fixture
async def op(client: AsyncTestClient, conn: asyncpg.Connection, settings: Settings) -> str:
    return await operator(conn, settings)


@pytest.fixture
async def clerk(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> str:
    """A window clerk of the administrative approval bureau, who attests identities (L3)."""
    return await staff(client, op, conn, "shenpi", ["clerk"], proven=True)


@pytest.fixture
async def mother(client: AsyncTestClient, clerk: str) -> dict[str, Any]:
    """王芳, verified at a window (L3): her TokenPair."""
    return await citizen(client, clerk, name="王芳", id_number=MOTHER)


@pytest.fixture
def phone(client: AsyncTestClient, mother: dict[str, Any]) -> SyncClient:
    return SyncClient(client, mother["access_token"])


@pytest.fixture
def tablet(client: AsyncTestClient, mother: dict[str, Any]) -> SyncClient:
    return SyncClient(client, mother["access_token"])
