"""What citizens write in their own words is stored sealed; responses show it with ID and mobile numbers masked."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import auth
from tests.matters.test_applications import MOTHER
from tests.matters.test_followup import _completed_application
from tests.people import citizen, id_number, staff

OTHER_ID = id_number("19800101", 77)
PHONE = "13987654321"


async def all_stored_text(conn: asyncpg.Connection) -> str:
    """Every row of every table as text: the feedback tables, and those keeping views and answers shown (the change
    log, the sync ledger, the idempotency store)."""
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    parts = []
    for t in tables:
        parts.append(await conn.fetchval(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM \"{t['table_name']}\" t"))
    return " ".join(parts)


async def test_feedback_text_is_sealed_and_shown_masked(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection
) -> None:
    h = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    text = f"我替邻居{OTHER_ID}办生育津贴，指南没说要带什么，请回电{PHONE}，地址写错了"
    r = await client.post(
        "/v1/feedback",
        json={"kind": "complaint", "text": text, "matter_code": "430200-YB-003"},
        headers=h | {"Idempotency-Key": "free-text-1"},
    )
    assert r.status_code == 201, r.text
    shown = (
        f"我替邻居{OTHER_ID[:3]}{'*' * 11}{OTHER_ID[-4:]}办生育津贴，指南没说要带什么，请回电139****4321，地址写错了"
    )
    assert r.json()["text"] == shown
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    [seen] = (await client.get("/v1/dept/feedback", headers=yibao)).json()["items"]
    assert seen["text"] == shown
    assert (await client.get(f"/v1/feedback/{seen['id']}", headers=h)).json()["text"] == shown

    raw = await conn.fetchrow("SELECT text, text_sealed FROM feedback")
    assert raw["text"] is None and raw["text_sealed"] and OTHER_ID.encode() not in raw["text_sealed"]
    stored = await all_stored_text(conn)
    assert (
        OTHER_ID not in stored
        and PHONE not in stored
        and "邻居" not in await conn.fetchval("SELECT coalesce(string_agg(f::text, ' '), '') FROM feedback f")
    )


async def test_a_rating_comment_is_sealed_and_shown_masked(
    client: AsyncTestClient, clerk: str, op: str, conn: asyncpg.Connection
) -> None:
    done, h, _yibao = await _completed_application(client, clerk, op, conn)
    comment = f"电话{PHONE}打不通，身份证号{OTHER_ID}还被念出来了"
    r = await client.post(
        f"/v1/applications/{done['id']}/evaluation",
        json={"level": 1, "comment": comment},
        headers=h | {"Idempotency-Key": "rating-free-text"},
    )
    assert r.status_code == 201, r.text
    shown = f"电话139****4321打不通，身份证号{OTHER_ID[:3]}{'*' * 11}{OTHER_ID[-4:]}还被念出来了"
    assert r.json()["comment"] == shown
    assert (await client.get(f"/v1/applications/{done['id']}", headers=h)).json()["evaluation"]["comment"] == shown
    assert (await client.get(f"/v1/applications/{done['id']}/evaluation", headers=h)).json()["comment"] == shown

    raw = await conn.fetchrow("SELECT comment, comment_sealed FROM evaluation")
    assert raw["comment"] is None and raw["comment_sealed"]
    stored = await all_stored_text(conn)
    assert OTHER_ID not in stored and PHONE not in stored
