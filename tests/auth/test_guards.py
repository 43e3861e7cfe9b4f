"""The guard layer as another domain would use it: routes registered here, called through HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from api.deps import Now
from auth.guards import CurrentPrincipal, MaybePrincipal
from tests.auth.helpers import ID_ALICE, assert_problem, auth, create_department, credit_code, make_staff, wechat_login


@get("/test/issue", sync_to_thread=False)
def issue(principal: CurrentPrincipal) -> dict[str, Any]:
    department_id = principal.require_staff("issuer", scope="certificates:issue")
    return {"department_id": str(department_id), "by": principal.subject}


@get("/test/departments/{department_id:uuid}/things", sync_to_thread=False)
def things(department_id: FromPath[UUID], principal: CurrentPrincipal) -> dict[str, Any]:
    principal.require_department(department_id, operator_ok=True)
    return {"department_id": str(department_id)}


@get("/test/sensitive", sync_to_thread=False)
def sensitive(principal: CurrentPrincipal, now: Now) -> dict[str, Any]:
    principal.require_assurance("L3", max_age_seconds=300, now=now)
    return {"person_id": str(principal.person_id)}


@get("/test/prefill", sync_to_thread=False)
def prefill(principal: CurrentPrincipal, now: Now) -> dict[str, Any]:
    principal.require_assurance("L2", now=now)
    return {"ok": True}


@get("/test/optional", sync_to_thread=False)
def optional(maybe_principal: MaybePrincipal) -> dict[str, Any]:
    return {"who": maybe_principal.subject if maybe_principal else None}


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    for handler in (issue, things, sensitive, prefill, optional):
        app.register(handler)
    async with AsyncTestClient(app=app) as c:
        yield c


async def _client_token(client: AsyncTestClient, op: str, department_id: str, scopes: list[str]) -> str:
    made = (
        await client.post(
            f"/v1/admin/departments/{department_id}/clients", json={"name": "s", "scopes": scopes}, headers=auth(op)
        )
    ).json()
    form = {"grant_type": "client_credentials", "client_id": made["client_id"], "client_secret": made["client_secret"]}
    return (await client.post("/v1/auth/token", data=form)).json()["access_token"]


async def test_staff_role_or_client_scope(client: AsyncTestClient, op: str, sim: httpx.AsyncClient) -> None:
    dept = await create_department(client, op, credit_code(70))
    issuer = await make_staff(client, op, dept["id"], "13300000001", ["issuer"])
    r = await client.get("/test/issue", headers=auth(issuer["access_token"]))
    assert r.status_code == 200 and r.json()["department_id"] == dept["id"]

    clerk = await make_staff(client, op, dept["id"], "13300000002", ["clerk"])
    body = assert_problem(await client.get("/test/issue", headers=auth(clerk["access_token"])), 403, "forbidden")
    assert body["required_roles"] == ["issuer"] and body["required_scope"] == "certificates:issue"

    system = await _client_token(client, op, dept["id"], ["certificates:issue"])
    r = await client.get("/test/issue", headers=auth(system))
    assert r.status_code == 200 and r.json()["department_id"] == dept["id"] and r.json()["by"].startswith("client:")
    other_scope = await _client_token(client, op, dept["id"], ["records:write"])
    assert_problem(await client.get("/test/issue", headers=auth(other_scope)), 403, "forbidden")

    citizen = await wechat_login(client, sim)
    assert_problem(await client.get("/test/issue", headers=auth(citizen["access_token"])), 403, "forbidden")
    assert_problem(await client.get("/test/issue"), 401, "unauthorized")
    assert_problem(await client.get("/test/issue", headers=auth(op)), 403, "forbidden")


async def test_departments_cannot_see_each_other(client: AsyncTestClient, op: str) -> None:
    a = await create_department(client, op, credit_code(71), "甲局")
    b = await create_department(client, op, credit_code(72), "乙局")
    staff_a = await make_staff(client, op, a["id"], "13300000003", ["clerk"])
    system_b = await _client_token(client, op, b["id"], ["tasks:handle"])
    assert (
        await client.get(f"/test/departments/{a['id']}/things", headers=auth(staff_a["access_token"]))
    ).status_code == 200
    assert_problem(
        await client.get(f"/test/departments/{b['id']}/things", headers=auth(staff_a["access_token"])), 404, "not_found"
    )
    assert_problem(await client.get(f"/test/departments/{a['id']}/things", headers=auth(system_b)), 404, "not_found")
    assert (await client.get(f"/test/departments/{b['id']}/things", headers=auth(system_b))).status_code == 200
    assert (await client.get(f"/test/departments/{b['id']}/things", headers=auth(op))).status_code == 200


async def test_step_up_asks_for_a_recent_l3(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    pair = await wechat_login(client, sim)
    body = assert_problem(
        await client.get("/test/sensitive", headers=auth(pair["access_token"])), 403, "assurance_required"
    )
    assert body["required_level"] == "L3" and body["max_age_seconds"] == 300
    assert_problem(await client.get("/test/prefill", headers=auth(pair["access_token"])), 403, "assurance_required")

    opened = (
        await client.post(
            "/v1/auth/realname/sessions",
            headers=auth(pair["access_token"]),
            json={"name": "张三", "id_number": ID_ALICE, "method": "wechat_face"},
        )
    ).json()
    await sim.post("/_sim/face-results", json={"verify_id": opened["verify_id"], "verify_ret": 10000})
    await client.post(
        f"/v1/auth/realname/sessions/{opened['session_id']}/complete", json={}, headers=auth(pair["access_token"])
    )
    stepped = (await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).json()
    r = await client.get("/test/sensitive", headers=auth(stepped["access_token"]))
    assert r.status_code == 200 and r.json()["person_id"] == stepped["account"]["person_id"]
    assert (await client.get("/test/prefill", headers=auth(stepped["access_token"]))).status_code == 200

    # Ten minutes later L3 still holds for "L2+" but no longer for a recent step-up.
    client.app.state.clock = lambda: datetime.now(UTC) + timedelta(minutes=10)
    assert (await client.get("/test/prefill", headers=auth(stepped["access_token"]))).status_code == 200
    assert_problem(
        await client.get("/test/sensitive", headers=auth(stepped["access_token"])), 403, "assurance_required"
    )


async def test_optional_principal(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    assert (await client.get("/test/optional")).json() == {"who": None}
    pair = await wechat_login(client, sim)
    r = await client.get("/test/optional", headers=auth(pair["access_token"]))
    assert r.json() == {"who": f"account:{pair['account']['id']}"}
    assert_problem(await client.get("/test/optional", headers=auth("junk")), 401, "unauthorized")
