"""People for end-to-end tests: citizens at a chosen assurance level and department staff, via HTTP."""

from __future__ import annotations

import itertools
import os
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import auth, make_staff, sms_login

# Distinct per process, so test runs sharing one Redis do not trip over each other's rate limits.
_phones = itertools.count(13900000000 + (os.getpid() % 5000) * 100)


def next_phone() -> str:
    return str(next(_phones))


async def department_id(conn: asyncpg.Connection, key: str) -> str:
    """A seeded department's id by its catalogue key (weijian, gongan, renshe, yibao, ...)."""
    return str(await conn.fetchval("SELECT id FROM department WHERE key = $1", key))


async def staff(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, key: str, roles: list[str], *, proven: bool = False
) -> str:
    """An access token for staff of a seeded department holding ``roles`` (``proven``: L3 just now, as a window
    clerk who attests must be)."""
    pair = await make_staff(client, op, await department_id(conn, key), next_phone(), roles, proven=proven)
    return pair["access_token"]


async def citizen(client: AsyncTestClient, clerk: str, *, name: str, id_number: str) -> dict[str, Any]:
    """An app user who proved who they are at a service window (L3); the refreshed TokenPair.

    ``clerk`` must be a proven window clerk (``staff(..., proven=True)``); they key in the ID number from the card.
    """
    pair = await sms_login(client, next_phone())
    r = await client.post(
        "/v1/auth/realname/sessions",
        headers=auth(pair["access_token"]),
        json={"name": name, "id_number": id_number, "method": "counter"},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/dept/realname/attest",
        json={"session_id": r.json()["session_id"], "id_number": id_number},
        headers=auth(clerk),
    )
    assert r.status_code == 200, r.text
    r = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200, r.text
    return r.json()


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(born: str = "19900101", seq: int = 1, *, region: str = "430202", male: bool = True) -> str:
    """A valid GB 11643 number for a test person (the 17th digit's parity is the sex)."""
    order = seq * 2 + (1 if male else 0)
    body = f"{region}{born}{order % 1000:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]
