"""Two devices of one person, offline in turns, end up with the server's state; a lost device starts over."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import auth
from tests.sync.helpers import device_drafts, person_of, server_drafts, wallet_write
from tests.sync.test_applications import application
from tests.sync_client import SyncClient


async def server_state(
    client: AsyncTestClient, conn: asyncpg.Connection, token: str, wallet: dict[str, Any]
) -> dict[str, Any]:
    """What the server holds for the person, read from the tables and the HTTP API, not from the change log."""
    apps = (await client.get("/v1/applications", headers=auth(token))).json()["items"]
    return {
        "drafts": await server_drafts(conn, client.app.state.keyring, person_of(token)),
        "wallet": wallet,
        "applications": {a["id"]: a for a in apps},
    }


def device_state(device: SyncClient) -> dict[str, Any]:
    return {
        "drafts": device_drafts(device.records),
        "wallet": {i: d for (e, i), d in device.records.items() if e == "wallet_item"},
        "applications": {i: d for (e, i), d in device.records.items() if e == "application"},
    }


async def test_offline_in_turns_converge(
    client: AsyncTestClient,
    mother: dict[str, Any],
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    phone: SyncClient,
    tablet: SyncClient,
) -> None:
    token = mother["access_token"]
    me = person_of(token)
    wallet: dict[str, Any] = {}
    a, b, c = (str(uuid.uuid4()) for _ in range(3))

    # Morning: the phone is offline on the metro, the tablet at home online.
    phone.online = False
    phone.save_draft(a, {"bank_account_no": "1"})
    phone.save_draft(a, {"bank_account_no": "12"})
    phone.save_draft(b, {"note": "for the tablet to finish"})
    tablet.save_draft(c, {"note": "tablet"})
    await tablet.sync()
    cert = uuid.uuid4()
    wallet[str(cert)] = {"title": "居民身份证", "status": "valid"}
    await wallet_write(pool, me, cert, wallet[str(cert)])  # a department issues a certificate meanwhile

    # Noon: the phone is back, the tablet goes offline and edits what it has.
    phone.online, tablet.online = True, False
    await phone.sync()
    tablet.save_draft(c, {"note": "tablet, edited offline"})
    tablet.delete_draft(c)
    app_id = str(uuid.uuid4())
    tablet.mutate("application.submit", application(app_id))

    # Evening: the phone edits b while the tablet (still offline) never saw it; then both sync.
    phone.save_draft(b, {"note": "finished on the phone"})
    wallet[str(cert)] = {"title": "居民身份证", "status": "revoked"}
    await wallet_write(pool, me, cert, wallet[str(cert)])
    await phone.sync()
    tablet.online = True
    await tablet.sync()
    await phone.sync()

    server = await server_state(client, conn, token, wallet)
    assert device_state(phone) == server == device_state(tablet)
    assert set(server["drafts"]) == {a, b} and server["drafts"][a] == {"version": 2, "form": {"bank_account_no": "12"}}
    assert list(server["applications"]) == [app_id]
    # Every mutation was answered once, and nothing is left queued.
    assert not phone.queue and not tablet.queue
    assert await conn.fetchval("SELECT count(*) FROM sync_mutation") == len(phone.outcomes) + len(tablet.outcomes) == 8


async def test_a_lost_device_resets_to_the_same_state(
    client: AsyncTestClient, mother: dict[str, Any], pool: asyncpg.Pool, phone: SyncClient, tablet: SyncClient
) -> None:
    me = person_of(mother["access_token"])
    for n in range(30):
        phone.save_draft(str(uuid.uuid4()), {"n": n})
        await wallet_write(pool, me, uuid.uuid4(), {"n": n})
    await phone.sync()
    await tablet.sync()
    assert len(tablet.records) == 60

    tablet.lose_everything()  # dropped in a river, restored from nothing
    pages = await tablet.pull()
    assert pages == 2 and tablet.records == phone.records  # 60 records, 50 a page
    # With an old cursor from before the loss, the same: it still works (the server has no per-device state).
    assert await tablet.pull() == 0
