"""Guardians see and act for their dependents until they come of age; departments set guardianships."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from esign.state import EsignState
from tests.auth.helpers import assert_problem, auth
from tests.people import citizen, id_number, staff
from tests.wallet import helpers
from wallet import jobs

PARENT = id_number("19900512", 31)
CHILD = id_number("20260301", 32, male=False)
ADULT = id_number("19700101", 33)


async def test_a_department_sets_a_guardianship_that_ends_at_majority(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    app: Litestar,
    esign: EsignState,
) -> None:
    parent = auth((await citizen(client, clerk, name="李强", id_number=PARENT))["access_token"])
    gongan = await staff(client, op, conn, "gongan", ["clerk"])
    made = await helpers.set_guardian(client, gongan, PARENT, {"id_number": CHILD, "name": "李小满"})
    assert made["until"] == "2044-02-29T16:00:00Z"  # the 18th birthday, 1 March 2044, from midnight in China
    assert made["source"].startswith("department:") and made["beyond_majority"] is False
    child = made["dependent_person_id"]

    listed = (await client.get("/v1/wallet/dependents", headers=parent)).json()["items"]
    assert [(d["person_id"], d["relation"], d["name_masked"], d["wallet_closed"]) for d in listed] == [
        (child, "guardian", "李*满", False)
    ]
    assert listed[0]["id_number_masked"] == CHILD[:3] + "*" * 11 + CHILD[-4:]
    await helpers.issue(
        pool,
        esign,
        "weijian",
        "vaccination_certificate",
        id_number=CHILD,
        name="李小满",
        fields={"child_name": "李小满", "clinic": "天元区妇幼保健院"},
    )
    items = (await client.get("/v1/wallet/items", params={"person_id": child}, headers=parent)).json()["items"]
    assert [i["title"] for i in items] == ["儿童预防接种证"]

    # Nobody else opens the child's wallet, and the parent's own wallet is not the child's.
    stranger = auth((await citizen(client, clerk, name="路人", id_number=ADULT))["access_token"])
    assert_problem(
        await client.get("/v1/wallet/items", params={"person_id": child}, headers=stranger), 404, "wallet_not_found"
    )
    assert (await client.get("/v1/wallet/items", headers=parent)).json()["items"] == []

    # Eighteen years on (the birth date moved back stands for the years passing, with the copy a guardianship
    # keeps of it) the child is of age.
    born_on = date.today().replace(year=date.today().year - 18) - timedelta(days=1)
    await conn.execute("UPDATE person SET born_on = $2 WHERE id = $1", made["dependent_person_id"], born_on)
    await conn.execute(
        "UPDATE guardianship SET dependent_born_on = $2 WHERE dependent_person_id = $1",
        made["dependent_person_id"],
        born_on,
    )
    assert (await client.get("/v1/wallet/dependents", headers=parent)).json()["items"] == []
    assert_problem(
        await client.get("/v1/wallet/items", params={"person_id": child}, headers=parent), 404, "wallet_not_found"
    )
    # The sweep writes the end into the guardianship too, so every other reader agrees.
    await conn.execute("UPDATE guardianship SET until = NULL")
    assert await jobs.majority(SimpleNamespace(pool=pool)) == 1
    until = await conn.fetchval("SELECT until FROM guardianship")
    assert until < datetime.now(UTC)


async def test_an_adult_needs_a_department_saying_so(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    await citizen(client, clerk, name="李强", id_number=PARENT)
    minzheng = await staff(client, op, conn, "minzheng", ["clerk"])
    body = {
        "guardian": {"id_number": PARENT, "name": "李强"},
        "dependent": {"id_number": ADULT, "name": "李父"},
        "basis": "法院指定",
    }
    r = await client.post("/v1/dept/guardianships", json=body, headers=auth(minzheng))
    assert_problem(r, 422, "guardianship_invalid")
    r = await client.post("/v1/dept/guardianships", json=body | {"beyond_majority": True}, headers=auth(minzheng))
    assert r.status_code == 201, r.text
    assert r.json()["until"] is None and r.json()["beyond_majority"] is True
    # Setting it again replaces it (200); an end not after now ends it now.
    r = await client.post(
        "/v1/dept/guardianships",
        json=body | {"beyond_majority": True, "until": "2020-01-01T00:00:00Z"},
        headers=auth(minzheng),
    )
    assert r.status_code == 200 and r.json()["until"] is not None
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'wallet.guardianship_set'") == 2


async def test_a_newborn_without_an_id_number_is_named_by_person_id(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, app: Litestar
) -> None:
    from auth import persons

    parent = auth((await citizen(client, clerk, name="李强", id_number=PARENT))["access_token"])
    child = await persons.create_newborn(
        conn, app.state.keyring, name="李小满", born_on=date(2026, 11, 18), sex="女", now=datetime.now(UTC)
    )
    gongan = await staff(client, op, conn, "gongan", ["clerk"])  # 出生登记
    made = await helpers.set_guardian(client, gongan, PARENT, {"person_id": str(child)})
    assert made["until"] == "2044-11-17T16:00:00Z"
    listed = (await client.get("/v1/wallet/dependents", headers=parent)).json()["items"]
    assert listed[0]["id_number_masked"] is None


async def test_bad_guardianships_are_problems(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    await citizen(client, clerk, name="李强", id_number=PARENT)
    h = auth(await staff(client, op, conn, "gongan", ["clerk"]))
    same = {
        "guardian": {"id_number": PARENT, "name": "李强"},
        "dependent": {"id_number": PARENT, "name": "李强"},
        "basis": "x",
    }
    assert_problem(await client.post("/v1/dept/guardianships", json=same, headers=h), 422, "guardianship_invalid")
    both = same | {"dependent": {"id_number": CHILD, "person_id": "01890000-0000-7000-8000-000000000000"}}
    assert_problem(await client.post("/v1/dept/guardianships", json=both, headers=h), 422, "guardianship_invalid")
    ghost = same | {"dependent": {"person_id": "01890000-0000-7000-8000-000000000000"}}
    assert_problem(await client.post("/v1/dept/guardianships", json=ghost, headers=h), 422, "holder_unknown")
    nameless = same | {"dependent": {"id_number": CHILD}}
    assert_problem(await client.post("/v1/dept/guardianships", json=nameless, headers=h), 422, "guardianship_invalid")
    renamed = same | {
        "guardian": {"id_number": PARENT, "name": "王五"},
        "dependent": {"id_number": CHILD, "name": "李小满"},
    }
    body = assert_problem(await client.post("/v1/dept/guardianships", json=renamed, headers=h), 422, "holder_mismatch")
    assert "李强" not in str(body)
    parent = auth((await citizen(client, clerk, name="李强二", id_number=id_number("19880808", 34)))["access_token"])
    assert_problem(await client.post("/v1/dept/guardianships", json=same, headers=parent), 403, "forbidden")
