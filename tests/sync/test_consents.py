"""授权用证 offline: consent.grant and consent.revoke call the wallet's own functions, guards included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import auth
from tests.people import department_id, staff
from tests.sync.conftest import MOTHER
from tests.sync_client import SyncClient


async def record(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> str:
    """人社 puts a pension record into the mother's wallet; its item id."""
    renshe = auth(await staff(client, op, conn, "renshe", ["clerk"]))
    r = await client.post(
        "/v1/dept/records",
        headers=renshe,
        json={
            "holder": {"id_number": MOTHER, "name": "王芳"},
            "kind": "social_insurance_payment",
            "title": "2026年1月 养老保险缴费",
            "data": {"amount": "812.00"},
            "occurred_at": "2026-01-31T00:00:00Z",
            "external_ref": f"pension-{uuid.uuid4()}",
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_grant_and_revoke_queued_offline(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, phone: SyncClient, tablet: SyncClient
) -> None:
    item = await record(client, op, conn)
    await phone.sync()
    assert ("wallet_item", item) in phone.records

    phone.online = False
    grant = phone.mutate(
        "consent.grant",
        {
            "grantee_department_id": await department_id(conn, "yibao"),
            "item_ids": [item],
            "purpose": "生育津贴核验",
            "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            "max_uses": 3,
        },
    )
    owned = phone.mutate("wallet_item.delete", {"id": item})
    phone.online = True
    await phone.sync()
    consent = phone.outcomes[grant]
    assert consent["status"] == "applied" and consent["data"]["status"] == "active"
    assert phone.outcomes[owned]["code"] == "server_owned"
    consent_id = consent["data"]["id"]

    tablet.mutate("consent.revoke", {"consent_id": consent_id})
    tablet.mutate("consent.revoke", {"consent_id": str(uuid.uuid4())})
    await tablet.sync()
    revoked, unknown = (tablet.outcomes[m["id"]] for m in tablet.sent.values())
    assert revoked["status"] == "applied" and revoked["data"]["status"] == "revoked"
    assert (unknown["status"], unknown["code"]) == ("rejected", "consent_not_found")
    await phone.sync()
    assert phone.records[("consent", consent_id)]["status"] == "revoked" and phone.records == tablet.records
    # As over HTTP: audited, one entry each.
    actions = [
        r["action"]
        for r in await conn.fetch("SELECT action FROM audit_log WHERE action LIKE 'wallet.consent%' ORDER BY seq")
    ]
    assert actions == ["wallet.consent_granted", "wallet.consent_revoked"]


async def test_a_grant_queued_too_long_needs_a_fresh_l3(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, phone: SyncClient
) -> None:
    item = await record(client, op, conn)
    phone.mutate(
        "consent.grant",
        {
            "grantee_department_id": await department_id(conn, "yibao"),
            "item_ids": [item],
            "purpose": "核验",
            "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        },
    )
    # Ten minutes on (the access token still valid): the L3 proof is older than the wallet's 300 s.
    later = datetime.now(UTC) + timedelta(minutes=10)
    client.app.state.clock = lambda: later
    try:
        await phone.sync()
    finally:
        del client.app.state.clock
    (result,) = phone.outcomes.values()
    assert (result["status"], result["code"], result["data"]["required_level"]) == (
        "rejected",
        "assurance_required",
        "L3",
    )
    assert await conn.fetchval("SELECT count(*) FROM wallet_consent") == 0
