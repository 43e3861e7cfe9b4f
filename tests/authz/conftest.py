from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.config import Settings
from tests.authz.world import World, build_world, hook_free_settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return hook_free_settings(settings)


@pytest.fixture
async def world(client: AsyncTestClient, conn: asyncpg.Connection, settings: Settings) -> World:
    return await build_world(client, conn, settings)
