"""Ending a department's access: revoking clients, rotating their secrets, removing staff — at once, audited."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth, create_department, credit_code, make_staff

DEPTS = "/v1/admin/departments"
TOKEN = "/v1/auth/token"


async def new_client(client: AsyncTestClient, op: str, dept: str, scopes: list[str]) -> dict[str, Any]:
    r = await client.post(f"{DEPTS}/{dept}/clients", json={"name": "业务系统", "scopes": scopes}, headers=auth(op))
    assert r.status_code == 201, r.text
    return r.json()


async def client_token(client: AsyncTestClient, made: dict[str, Any], secret: str | None = None) -> Any:
    return await client.post(
        TOKEN,
        json={
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": secret or made["client_secret"],
        },
    )


async def audited(conn: asyncpg.Connection, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = await conn.fetch("SELECT actor, subject, data FROM audit_log WHERE action = $1 ORDER BY seq", action)
    return [(r["actor"], r["subject"], r["data"]) for r in rows]


async def test_a_revoked_client_is_refused_at_once(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    dept = (await create_department(client, op, credit_code(70)))["id"]
    made = await new_client(client, op, dept, ["webhooks:manage"])
    token = (await client_token(client, made)).json()["access_token"]
    assert (await client.get("/v1/dept/webhooks", headers=auth(token))).status_code == 200

    r = await client.post(f"{DEPTS}/{dept}/clients/{made['client_id']}/revoke", headers=auth(op))
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["client_id"] == made["client_id"] and view["revoked_at"] and made["client_secret"] not in str(view)
    assert "client_secret" not in view
    # The token it already holds stops working, and it gets no new one.
    assert_problem(await client.get("/v1/dept/webhooks", headers=auth(token)), 401, "unauthorized")
    assert_problem(await client_token(client, made), 401, "invalid_client")
    # Again: nothing changes, the same answer, one audit entry.
    again = await client.post(f"{DEPTS}/{dept}/clients/{made['client_id']}/revoke", headers=auth(op))
    assert again.status_code == 200 and again.json() == view
    [(actor, subject, data)] = await audited(conn, "admin.client_revoked")
    assert actor.startswith("account:") and subject == made["client_id"]
    assert data == {"department": dept, "client_address": "testclient"}
    listed = (await client.get(f"{DEPTS}/{dept}/clients", headers=auth(op))).json()
    assert listed == {"items": [view], "next_cursor": None}
    assert_problem(
        await client.post(f"{DEPTS}/{dept}/clients/{made['client_id']}/rotate-secret", headers=auth(op)),
        409,
        "client_revoked",
    )


async def test_a_rotated_secret_replaces_the_old_one(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    dept = (await create_department(client, op, credit_code(71)))["id"]
    made = await new_client(client, op, dept, ["records:write", "webhooks:manage"])
    r = await client.post(f"{DEPTS}/{dept}/clients/{made['client_id']}/rotate-secret", headers=auth(op))
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated | {"client_secret": None} == made | {"client_secret": None}
    assert rotated["client_secret"] != made["client_secret"]
    assert_problem(await client_token(client, made), 401, "invalid_client")
    assert (await client_token(client, made, rotated["client_secret"])).status_code == 200
    assert [a[1] for a in await audited(conn, "admin.client_secret_rotated")] == [made["client_id"]]
    assert (await client.get(f"{DEPTS}/{dept}/clients", headers=auth(op))).json()["items"][0]["secret_rotated_at"]


async def test_a_dept_admin_manages_only_their_own_clients(client: AsyncTestClient, op: str) -> None:
    a = (await create_department(client, op, credit_code(72), "甲局"))["id"]
    b = (await create_department(client, op, credit_code(73), "乙局"))["id"]
    admin = (await make_staff(client, op, a, "13500000071", ["dept_admin"]))["access_token"]
    clerk = (await make_staff(client, op, a, "13500000072", ["clerk"]))["access_token"]
    ours, theirs = (
        await new_client(client, op, a, ["records:write"]),
        await new_client(client, op, b, ["records:write"]),
    )
    assert_problem(
        await client.post(f"{DEPTS}/{b}/clients/{theirs['client_id']}/revoke", headers=auth(admin)),
        404,
        "department_not_found",
    )
    # Another department's client named under our department is not ours either.
    assert_problem(
        await client.post(f"{DEPTS}/{a}/clients/{theirs['client_id']}/revoke", headers=auth(admin)),
        404,
        "client_not_found",
    )
    assert_problem(
        await client.post(f"{DEPTS}/{a}/clients/{ours['client_id']}/revoke", headers=auth(clerk)), 403, "forbidden"
    )
    assert (
        await client.post(f"{DEPTS}/{a}/clients/{ours['client_id']}/revoke", headers=auth(admin))
    ).status_code == 200
    assert (await client_token(client, theirs)).status_code == 200


async def test_removed_staff_lose_their_logins_and_roles(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    dept = (await create_department(client, op, credit_code(74)))["id"]
    pair = await make_staff(client, op, dept, "13500000074", ["clerk", "approver"])
    assert (await client.get("/v1/dept/tasks", headers=auth(pair["access_token"]))).status_code == 200
    account = pair["account"]["id"]

    r = await client.delete(f"{DEPTS}/{dept}/staff/{account}", headers=auth(op))
    assert r.status_code == 204, r.text
    assert_problem(await client.get("/v1/dept/tasks", headers=auth(pair["access_token"])), 401, "unauthorized")
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        401,
        "refresh_token_invalid",
    )
    assert (await client.get(f"{DEPTS}/{dept}/staff", headers=auth(op))).json()["items"] == []
    # Removing again changes nothing; one audit entry.
    assert (await client.delete(f"{DEPTS}/{dept}/staff/{account}", headers=auth(op))).status_code == 204
    [(_, subject, data)] = await audited(conn, "admin.staff_removed")
    assert subject == account
    assert data == {
        "department": dept,
        "roles": ["approver", "clerk"],
        "logins_ended": 1,
        "client_address": "testclient",
    }
