"""Authority (权责清单): each department acts only within its listed powers, which operators keep."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth
from tests.people import department_id, id_number, staff
from tests.wallet.helpers import dept_system, record

HOLDER = id_number("19900101", 31)


def _url(dept: str) -> str:
    return f"/v1/admin/departments/{dept}/authority"


async def test_the_catalogue_states_each_departments_powers(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    r = await client.get(_url(await department_id(conn, "minzheng")), headers=auth(op))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "record_kinds": ["elderly_allowance", "subsistence_allowance"],
        "life_events": ["died", "married"],
        "guardianship": True,
        "realname_proofing": False,
        "window_intake": False,
    }
    shenpi = (await client.get(_url(await department_id(conn, "shenpi")), headers=auth(op))).json()
    assert shenpi["window_intake"] is True and shenpi["realname_proofing"] is True
    gas = (await client.get(_url(await department_id(conn, "gas")), headers=auth(op))).json()
    assert gas == {
        "record_kinds": ["gas_bill"],
        "life_events": [],
        "guardianship": False,
        "realname_proofing": False,
        "window_intake": False,
    }
    fayuan = (await client.get(_url(await department_id(conn, "fayuan")), headers=auth(op))).json()
    assert fayuan["guardianship"] is True


async def test_operators_change_it_and_read_it_back_as_put(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    gas = await department_id(conn, "gas")
    body = {
        "record_kinds": ["gas_bill", "gas_safety_check"],
        "life_events": ["bought_home"],
        "guardianship": False,
        "realname_proofing": True,
        "window_intake": True,
    }
    r = await client.put(_url(gas), json=body, headers=auth(op))
    assert r.status_code == 200, r.text
    assert r.json() == body
    assert (await client.get(_url(gas), headers=auth(op))).json() == body
    entry = await conn.fetchrow("SELECT actor, data FROM audit_log WHERE action = 'catalogue.authority_saved'")
    assert entry["data"]["after"] == body
    assert entry["data"]["before"]["record_kinds"] == ["gas_bill"]

    # A department the catalogue did not list gets its first document: 201.
    made = await client.post(
        "/v1/admin/departments",
        headers=auth(op),
        json={"name": "株洲市消防救援支队", "credit_code": "11430200MB0001620X", "region_code": "430200"},
    )
    assert made.status_code == 201, made.text
    fresh = made.json()["id"]
    assert (await client.get(_url(fresh), headers=auth(op))).json() == {
        "record_kinds": [],
        "life_events": [],
        "guardianship": False,
        "realname_proofing": False,
        "window_intake": False,
    }
    assert (await client.put(_url(fresh), json={"guardianship": True}, headers=auth(op))).status_code == 201

    bad = await client.put(_url(gas), json=body | {"life_events": ["reborn", "married", "married"]}, headers=auth(op))
    problem = assert_problem(bad, 422, "authority_invalid")
    assert [e["field"] for e in problem["errors"]] == ["life_events[0]", "life_events[2]"]
    assert_problem(
        await client.put(_url("01890000-0000-7000-8000-000000000000"), json=body, headers=auth(op)), 404, "not_found"
    )
    clerk = await staff(client, op, conn, "gas", ["dept_admin"])
    assert_problem(await client.put(_url(gas), json=body, headers=auth(clerk)), 403, "forbidden")
    assert_problem(await client.get(_url(gas), headers=auth(clerk)), 403, "forbidden")


async def test_a_department_acts_only_within_its_powers(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    gas = auth(await dept_system(client, op, conn, "gas", ["records:write"]))
    renshe = auth(await dept_system(client, op, conn, "renshe", ["records:write"]))
    body = record(HOLDER, "SI-1", holder={"id_number": HOLDER, "name": "张三"})
    refused = await client.post("/v1/dept/records", json=body, headers=gas)
    problem = assert_problem(refused, 403, "authority_required")
    assert problem["power"] == "record:social_insurance_payment"
    assert (await client.post("/v1/dept/records", json=body, headers=renshe)).status_code == 201
    gas_bill = record(HOLDER, "G-1", kind="gas_bill", title="2026年10月 燃气费")
    assert (await client.post("/v1/dept/records", json=gas_bill, headers=gas)).status_code == 201

    died = {
        "holder": {"id_number": HOLDER, "name": "张三"},
        "event": "died",
        "occurred_at": "2026-11-01T00:00:00Z",
        "external_ref": "D-1",
    }
    assert (
        assert_problem(await client.post("/v1/dept/life-events", json=died, headers=gas), 403, "authority_required")[
            "power"
        ]
        == "life_event:died"
    )
    assert (
        assert_problem(
            await client.post("/v1/dept/life-events", json=died | {"event": "married"}, headers=renshe),
            403,
            "authority_required",
        )["power"]
        == "life_event:married"
    )
    guardian = {
        "guardian": {"id_number": HOLDER, "name": "张三"},
        "basis": "成年监护",
        "beyond_majority": True,
        "dependent": {"id_number": id_number("19500101", 32), "name": "李四"},
    }
    assert (
        assert_problem(
            await client.post("/v1/dept/guardianships", json=guardian, headers=gas), 403, "authority_required"
        )["power"]
        == "guardianship"
    )
    # Nothing of the refused writes happened: the elder is not even known.
    assert await conn.fetchval("SELECT count(*) FROM guardianship") == 0

    # Each refusal is audited, naming the power, the route and where the call came from.
    rows = await conn.fetch(
        "SELECT actor, subject, data FROM audit_log WHERE action = 'authority.refused' ORDER BY seq"
    )
    assert [r["data"]["power"] for r in rows] == [
        "record:social_insurance_payment",
        "life_event:died",
        "life_event:married",
        "guardianship",
    ]
    gas_id = await department_id(conn, "gas")
    assert rows[0]["subject"] == f"department:{gas_id}"
    assert rows[0]["actor"].startswith("client:")
    assert rows[0]["data"]["route"] == "POST /v1/dept/records"
    assert rows[0]["data"]["client_address"]

    # An operator grants the power: the same call now goes through, at once.
    current = (await client.get(_url(gas_id), headers=auth(op))).json()
    r = await client.put(_url(gas_id), json=current | {"guardianship": True}, headers=auth(op))
    assert r.status_code == 200, r.text
    assert (await client.post("/v1/dept/guardianships", json=guardian, headers=gas)).status_code == 201
    # ... and taking a power away refuses it at once.
    await client.put(_url(gas_id), json=current | {"record_kinds": []}, headers=auth(op))
    gas_bill = record(HOLDER, "G-2", kind="gas_bill", title="2026年11月 燃气费")
    assert_problem(await client.post("/v1/dept/records", json=gas_bill, headers=gas), 403, "authority_required")
