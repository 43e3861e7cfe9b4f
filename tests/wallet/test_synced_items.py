"""Wallet items as sync carries them: slim (no token; the token fetched once, cached for good), and
what that costs on the wire for a 1,000-item wallet."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from api.kernel import changelog
from esign import flows as esign_service
from esign.state import EsignState
from tests.auth.helpers import assert_problem, auth
from tests.people import citizen, id_number
from tests.wallet import helpers

ZHANG = id_number("19900101", 71)
ID_CARD_FIELDS = helpers.ID_CARD_FIELDS


async def pull_all(
    client: AsyncTestClient, token: str, cursor: str | None = None, *, limit: int = 500
) -> tuple[list[dict[str, Any]], str, int, list[dict[str, Any]]]:
    """Pull to the end: the changes, the new cursor, the bytes on the wire (gzip accepted) and the pages."""
    changes, wire, pages = [], 0, []
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/v1/sync/pull", params=params, headers=auth(token) | {"accept-encoding": "gzip"})
        assert r.status_code == 200, r.text
        wire += int(r.headers["content-length"])  # the body as sent: compressed when it was
        page = r.json()
        pages.append(page)
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, cursor, wire, pages


async def test_a_pulled_certificate_carries_no_token_and_the_token_is_fetched_once(
    client: AsyncTestClient, clerk: str, pool: asyncpg.Pool, esign: EsignState
) -> None:
    me = await citizen(client, clerk, name="张三", id_number=ZHANG)
    token = me["access_token"]
    cert_id = await helpers.issue(
        pool, esign, "gongan", "id_card", id_number=ZHANG, name="张三", fields={"name": "张三", **ID_CARD_FIELDS}
    )
    cert = (await client.get("/v1/wallet/items", params={"kind": "certificate"}, headers=auth(token))).json()["items"][
        0
    ]
    signed = cert["certificate"]["token"]
    assert signed.startswith("ZB1:") and cert["certificate"]["id"] == str(cert_id)

    changes, cursor, _, _ = await pull_all(client, token)
    [synced] = [c for c in changes if c["entity"] == "wallet_item"]
    assert synced["id"] == cert["id"]
    data = synced["data"]
    assert "token" not in data["data"] and signed not in msgspec.json.encode(changes).decode()
    assert data["data"]["token_sha256"] == hashlib.sha256(signed.encode()).hexdigest()
    # Enough to list and show it without the token.
    assert (
        data["title"] == "居民身份证"
        and data["summary"]["status"] == "valid"
        and data["data"]["fields"]["name"] == "张三"
    )

    r = await client.get(f"/v1/wallet/items/{cert['id']}/token", headers=auth(token))
    assert r.status_code == 200, r.text
    assert r.json() == {"item_id": cert["id"], "token": signed, "token_sha256": data["data"]["token_sha256"]}
    assert r.headers["etag"] == f'"{data["data"]["token_sha256"]}"'
    assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
    again = await client.get(
        f"/v1/wallet/items/{cert['id']}/token", headers=auth(token) | {"if-none-match": r.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content

    # A change of the certificate (suspended) comes without the token again, with the same tag.
    async with pool.acquire() as conn, conn.transaction():
        dept = await helpers.department_id(conn, "gongan")
        await esign_service.change_status(
            conn,
            esign,
            department_id=dept,
            certificate_id=cert_id,
            action="suspend",
            reason="挂失",
            actor="test",
            now=datetime.now(UTC),
        )
    later, _, _, _ = await pull_all(client, token, cursor)
    [changed] = later
    assert changed["data"]["summary"]["status"] == "suspended" and "token" not in changed["data"]["data"]
    assert changed["data"]["data"]["token_sha256"] == data["data"]["token_sha256"]

    # Whoever may not read the item does not get its token; an item without a token has none to give.
    stranger = await citizen(client, clerk, name="路人", id_number=id_number("19850505", 12))
    assert_problem(
        await client.get(f"/v1/wallet/items/{cert['id']}/token", headers=auth(stranger["access_token"])),
        404,
        "wallet_item_not_found",
    )
    assert_problem(
        await client.get(f"/v1/wallet/items/{uuid.uuid4()}/token", headers=auth(token)), 404, "wallet_item_not_found"
    )
    assert_problem(await client.get(f"/v1/wallet/items/{cert['id']}/token"), 401, "unauthorized")


async def test_a_thousand_item_wallet_syncs_within_its_budgets(
    client: AsyncTestClient, clerk: str, pool: asyncpg.Pool, esign: EsignState
) -> None:
    """Full sync of 1,000 certificates ≤ 300 KB on the wire (gzip); a one-change pull ≤ 2 KB."""
    me = await citizen(client, clerk, name="张三", id_number=ZHANG)
    person = uuid.UUID(me["account"]["person_id"])
    await helpers.issue(
        pool, esign, "gongan", "id_card", id_number=ZHANG, name="张三", fields={"name": "张三", **ID_CARD_FIELDS}
    )
    async with pool.acquire() as conn:
        real = msgspec.json.decode(
            await conn.fetchval(
                "SELECT data::text FROM sync_change WHERE person_id = $1 AND entity = 'wallet_item'", person
            )
        )
        # 999 more like it: their own ids, licence numbers and tokens (random, as long as the real one).
        many = []
        for n in range(999):
            cert = str(uuid.uuid4())
            token = "ZB1:" + secrets.token_urlsafe(len(real["data"]["token"]))[: len(real["data"]["token"]) - 4]
            summary = real["summary"] | {"licence_id": real["summary"]["licence_id"][:-12] + f"{n:08d}.001"}
            many.append(
                (
                    person,
                    "wallet_item",
                    uuid.uuid4(),
                    real
                    | {
                        "certificate_id": cert,
                        "summary": summary,
                        "data": real["data"] | {"certificate_id": cert, "token": token},
                    },
                )
            )
        async with conn.transaction():
            await changelog.record_puts(conn, many)
    fat = sum(len(msgspec.json.encode(m[3])) for m in many) + len(msgspec.json.encode(real))

    changes, cursor, wire, pages = await pull_all(client, me["access_token"])
    assert len([c for c in changes if c["entity"] == "wallet_item"]) == 1000
    assert all("token" not in c["data"]["data"] for c in changes if c["entity"] == "wallet_item")
    print(
        f"\nfull sync of a 1,000-item wallet: {wire:,} bytes on the wire (gzip) in {len(pages)} pages; "
        f"the items with their tokens would be {fat:,} bytes before compression"
    )
    assert wire <= 300_000

    item = changes[500]
    async with pool.acquire() as conn, conn.transaction():
        await changelog.record_change(
            conn,
            person,
            "wallet_item",
            uuid.UUID(item["id"]),
            "put",
            {**item["data"], "summary": item["data"]["summary"] | {"status": "revoked"}, "data": many[0][3]["data"]},
        )
    one, _, one_wire, _ = await pull_all(client, me["access_token"], cursor, limit=200)
    assert [c["id"] for c in one] == [item["id"]] and one[0]["data"]["summary"]["status"] == "revoked"
    print(f"one-change pull: {one_wire:,} bytes")
    assert one_wire <= 2048
