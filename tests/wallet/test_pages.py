"""A process serves the wallet page it built only while nothing it shows has changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from esign import flows as esign_service
from esign.state import EsignState
from tests.auth.helpers import auth
from tests.people import citizen, id_number
from tests.wallet import helpers
from tests.wallet.helpers import ID_CARD_FIELDS
from wallet import pages

LI = id_number("19880808", 72)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def _certificates(client: AsyncTestClient, me: dict[str, str]) -> list[dict]:
    r = await client.get("/v1/wallet/items", params={"kind": "certificate"}, headers=me)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    return [i["certificate"] for i in r.json()["items"]]


async def test_a_revocation_an_expiry_and_a_renamed_issuer_show_without_a_stale_page(
    client: AsyncTestClient,
    clerk: str,
    pool: asyncpg.Pool,
    esign: EsignState,
    conn: asyncpg.Connection,
    app: Litestar,
) -> None:
    me = auth((await citizen(client, clerk, name="李四", id_number=LI))["access_token"])
    soon = datetime.now(UTC) + timedelta(minutes=2)
    lasting = await helpers.issue(
        pool, esign, "gongan", "id_card", id_number=LI, name="李四", fields={"name": "李四", **ID_CARD_FIELDS}
    )
    brief = await helpers.issue(
        pool,
        esign,
        "gongan",
        "id_card",
        id_number=LI,
        name="李四",
        fields={"name": "李四", **ID_CARD_FIELDS},
        valid_until=soon,
    )
    first = await _certificates(client, me)
    assert {c["id"]: c["status"] for c in first} == {str(lasting): "valid", str(brief): "valid"}
    assert await _certificates(client, me) == first  # served again as built

    # A revocation bumps the holder's change-log version: the next read is built anew.
    dept = await helpers.department_id(conn, "gongan")
    async with pool.acquire() as c, c.transaction():
        await esign_service.change_status(
            c,
            esign,
            department_id=dept,
            certificate_id=lasting,
            action="revoke",
            reason="测试",
            actor="test",
            now=datetime.now(UTC),
        )
    assert {c["id"]: c["status"] for c in await _certificates(client, me)} == {
        str(lasting): "revoked",
        str(brief): "valid",
    }

    # Time alone expires a certificate: a page lives no longer than its first expiry.
    app.state.clock = lambda: soon + timedelta(seconds=1)
    assert {c["id"]: c["status"] for c in await _certificates(client, me)}[str(brief)] == "expired"

    # Names change without a version: a page lives at most MAX_AGE.
    await conn.execute("UPDATE department SET name = '株洲市公安局（新）' WHERE id = $1", dept)
    assert {c["issuer"]["name"] for c in await _certificates(client, me)} == {"株洲市公安局"}
    app.state.clock = lambda: soon + pages.MAX_AGE + timedelta(seconds=2)
    assert {c["issuer"]["name"] for c in await _certificates(client, me)} == {"株洲市公安局（新）"}


def test_pages_answer_for_their_version_before_expiry_and_stay_within_their_bytes() -> None:
    store = pages.Pages(max_bytes=64 * 16)
    store.put(("a",), 3, NOW + timedelta(seconds=5), b"x" * 40)
    assert store.get(("a",), 3, NOW) == b"x" * 40
    assert store.get(("a",), 4, NOW) is None  # the person changed something since
    assert store.get(("a",), 3, NOW + timedelta(seconds=5)) is None  # past its freshness
    for i in range(40):
        store.put((i,), 1, NOW + timedelta(seconds=5), b"y" * 60)
    assert store.size <= 64 * 16
    assert store.get((39,), 1, NOW) is not None and store.get((0,), 1, NOW) is None  # oldest out first
    store.put(("big",), 1, NOW + timedelta(seconds=5), b"z" * 65)  # over a sixteenth of the budget: not kept
    assert store.get(("big",), 1, NOW) is None
