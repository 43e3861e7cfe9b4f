from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.config import Settings
from tests.auth.helpers import operator
from tests.people import staff


@pytest.fixture
async def op(client: AsyncTestClient, conn: asyncpg.Connection, settings: Settings) -> str:
    return await operator(conn, settings)


@pytest.fixture
async def clerk(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> str:
    """A window clerk of the administrative approval bureau, who attests identities (L3)."""
    return await staff(client, op, conn, "shenpi", ["clerk"], proven=True)
