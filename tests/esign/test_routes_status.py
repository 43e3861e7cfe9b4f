"""Revoke, suspend and resume over HTTP: the status bit, the wallet item, events and audit; the issuing
department alone may act, a revoked certificate stays revoked."""

from __future__ import annotations

import uuid

import asyncpg
from litestar.testing import AsyncTestClient

from esign.codec import statuslist
from tests.esign import api
from tests.esign.api import auth, household, issue, problem


async def _status_bits(client: AsyncTestClient, conn: asyncpg.Connection, list_id: int) -> statuslist.StatusList:
    root = await conn.fetchval("SELECT root_certificate FROM esign_platform")
    from esign.codec.x509 import load_certificate

    r = await client.get(f"/v1/status-lists/{list_id}")
    assert r.status_code == 200, r.text
    return statuslist.parse_status_list(r.text, load_certificate(root).public_key())


async def test_suspend_resume_revoke(
    client: AsyncTestClient, police_issuer: str, police_seal: dict, conn: asyncpg.Connection
) -> None:
    cert = await issue(client, police_issuer, household())
    ref, path = cert["status_ref"], f"/v1/dept/certificates/{cert['id']}"
    r = await client.post(f"{path}/suspend", json={"reason": "户籍核查"}, headers=auth(police_issuer))
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    assert (await _status_bits(client, conn, ref["list_id"])).status(ref["index"]) == statuslist.SUSPENDED
    assert (await api.verify(client, cert["token"]))["reasons"] == ["suspended"]
    problem(
        await client.post(f"{path}/suspend", json={"reason": "x"}, headers=auth(police_issuer)),
        409,
        "certificate_status_conflict",
    )
    r = await client.post(f"{path}/resume", headers=auth(police_issuer))
    assert r.status_code == 200 and r.json()["status"] == "valid"
    assert (await api.verify(client, cert["token"]))["valid"] is True
    problem(
        await client.post(f"{path}/resume", json={}, headers=auth(police_issuer)), 409, "certificate_status_conflict"
    )
    r = await client.post(f"{path}/revoke", json={"reason": "户口迁出"}, headers=auth(police_issuer))
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert (await _status_bits(client, conn, ref["list_id"])).status(ref["index"]) == statuslist.REVOKED
    assert (await api.verify(client, cert["token"]))["reasons"] == ["revoked"]
    for action in ("revoke", "suspend", "resume"):
        problem(
            await client.post(f"{path}/{action}", json={"reason": "x"}, headers=auth(police_issuer)),
            409,
            "certificate_revoked",
        )

    cid = uuid.UUID(cert["id"])
    item = await conn.fetchrow("SELECT * FROM wallet_item WHERE certificate_id = $1", cid)
    assert item["summary"]["status"] == "revoked" and item["data"]["status"] == "revoked"
    puts = await conn.fetch(
        "SELECT data::json AS data FROM sync_change WHERE entity_id = $1 ORDER BY version", item["id"]
    )
    assert len(puts) == 4  # issued, suspended, resumed, revoked
    # The holder's devices get the token with every change: the item keeps only the certificate's copy.
    assert [p["data"]["data"]["token"] for p in puts] == [cert["token"]] * 4 and "token" not in item["data"]
    assert [p["data"]["data"]["status"] for p in puts] == ["valid", "suspended", "valid", "revoked"]
    topics = [
        r["topic"]
        for r in await conn.fetch(
            "SELECT topic FROM outbox WHERE payload::json->>'certificate_id' = $1 ORDER BY id", cert["id"]
        )
    ]
    assert topics == ["certificate.issued", "certificate.suspended", "certificate.resumed", "certificate.revoked"]
    actions = [
        r["action"]
        for r in await conn.fetch("SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq", cert["id"])
    ]
    assert actions == [
        "esign.certificate_issued",
        "esign.certificate_suspended",
        "esign.certificate_resumed",
        "esign.certificate_revoked",
    ]


async def test_only_the_issuing_department(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, police_issuer: str, police_seal: dict
) -> None:
    cert = await issue(client, police_issuer, household())
    other = await api.staff(client, op, conn, "minzheng", ["issuer"])
    path = f"/v1/dept/certificates/{cert['id']}"
    problem(
        await client.post(f"{path}/revoke", json={"reason": "x"}, headers=auth(other)), 404, "certificate_not_found"
    )
    problem(await client.get(path, headers=auth(other)), 404, "certificate_not_found")
    problem(
        await client.post(
            f"/v1/dept/certificates/{uuid.uuid4()}/revoke", json={"reason": "x"}, headers=auth(police_issuer)
        ),
        404,
        "certificate_not_found",
    )
    revoker = await api.dept_system(client, op, conn, "gongan", ["certificates:revoke"])
    r = await client.post(f"{path}/suspend", json={"reason": "系统核查"}, headers=auth(revoker))
    assert r.status_code == 200
    issue_only = await api.dept_system(client, op, conn, "gongan", ["certificates:issue"])
    problem(await client.post(f"{path}/resume", headers=auth(issue_only)), 403, "forbidden")
    problem(await client.post(f"{path}/revoke", json={}, headers=auth(police_issuer)), 422, "validation_failed")
    r = await client.get(path, headers=auth(police_issuer))
    assert r.status_code == 200 and r.json()["status"] == "suspended"
