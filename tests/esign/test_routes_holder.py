"""A certificate and its QR code for the holder (the person proven by real-name authentication) and the
issuing department; nobody else learns that it exists."""

from __future__ import annotations

import asyncpg
import segno
from litestar.testing import AsyncTestClient

from tests.esign import api
from tests.esign.api import ID_ALICE, auth, household, issue, problem
from tests.people import citizen


async def test_holder_and_issuer_read_the_certificate_and_its_qr(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, police_issuer: str, police_seal: dict
) -> None:
    cert = await issue(client, police_issuer, household(ID_ALICE, "张三丰"))
    clerk = await api.staff(client, op, conn, "shenpi", ["clerk"], proven=True)
    alice = (await citizen(client, clerk, name="张三丰", id_number=ID_ALICE))["access_token"]
    bob = (await citizen(client, clerk, name="李四", id_number=api.ID_BOB))["access_token"]
    base = f"/v1/certificates/{cert['id']}"
    for who in (alice, police_issuer):
        r = await client.get(base, headers=auth(who))
        assert r.status_code == 200 and r.json() == cert
        png = await client.get(f"{base}/qr.png", headers=auth(who))
        assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    svg = await client.get(f"{base}/qr.svg?scale=2", headers=auth(alice))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    assert segno.make_qr(cert["token"], error="m", mode="alphanumeric", boost_error=True).version <= 15
    other_department = await api.staff(client, op, conn, "minzheng", ["issuer"])
    for who in (bob, other_department):
        problem(await client.get(base, headers=auth(who)), 404, "certificate_not_found")
        problem(await client.get(f"{base}/qr.png", headers=auth(who)), 404, "certificate_not_found")
    problem(await client.get(base), 401, "unauthorized")
    r = await client.get(f"{base}/qr.png?scale=99", headers=auth(alice))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
