"""The operators' dashboard, as a person sees it in a real browser."""

from __future__ import annotations

import re
import uuid

import asyncpg
import httpx

from api.app import create_app
from api.config import Settings
from tests.auth.helpers import auth, operator
from tests.browser import dump_dom, live_server
from tests.matters.test_applications import maternity_allowance
from tests.people import citizen, staff


async def test_dashboard_shows_the_numbers(client, clerk: str, conn: asyncpg.Connection, settings: Settings) -> None:
    op = await operator(conn, settings)
    h = auth(
        (await citizen(client, clerk, name="王芳", id_number=maternity_allowance()["form"]["mother_id_number"]))[
            "access_token"
        ]
    )
    for _ in range(2):
        r = await client.post("/v1/applications", json=maternity_allowance(uuid.uuid4()), headers=h)
        assert r.status_code == 201
    first = (await client.get("/v1/applications", headers=h)).json()["items"][0]
    yibao = auth(await staff(client, op, conn, "yibao", ["approver"]))
    assert (
        await client.post(f"/v1/dept/tasks/{first['tasks'][0]['id']}/approve", json={}, headers=yibao)
    ).status_code == 200

    with live_server(create_app(settings)) as base:
        page = httpx.get(f"{base}/admin")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        dom = dump_dom(f"{base}/admin#token={op}")
        no_token = dump_dom(f"{base}/admin")
        bad_token = dump_dom(f"{base}/admin#token=not-a-token")
    assert "运营看板" in dom
    assert 'id="kpi-received">2<' in dom and 'id="kpi-completed">1<' in dom
    assert "株洲市医疗保障局" in dom and "单个事项" in dom and "<svg" in dom
    # Without a token the page explains what to do; with a bad one it says why nothing shows.
    assert "#token=" in no_token and not re.search(r'id="kpi-received">\d', no_token)
    assert "令牌无效或已过期" in bad_token
