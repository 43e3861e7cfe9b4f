"""The sweeps: life events from certificates and completed bundles, 身后 closing a wallet, expiry reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from auth import persons
from esign.state import EsignState
from tests.auth.helpers import assert_problem, auth
from tests.people import citizen, id_number, staff
from tests.wallet import helpers
from tests.wallet.helpers import ID_CARD_FIELDS, record
from wallet import jobs

PARENT = id_number("19900512", 61)
CHILD = id_number("20261118", 62, male=False)
ELDER = id_number("19400101", 63)

BIRTH_FIELDS = {
    "child_name": "李小满",
    "sex": "女",
    "born_at": "2026-11-18",
    "birth_place": "株洲市",
    "mother_name": "王芳",
    "father_name": "李强",
    "institution": "株洲市妇幼保健院",
}


def _state(pool: asyncpg.Pool, app: Litestar) -> SimpleNamespace:
    return SimpleNamespace(pool=pool, keyring=app.state.keyring)


async def test_a_birth_certificate_means_born_once_whoever_says_it(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    esign: EsignState,
    app: Litestar,
) -> None:
    parent = auth((await citizen(client, clerk, name="李强", id_number=PARENT))["access_token"])
    made = await helpers.set_guardian(
        client, await staff(client, op, conn, "gongan", ["clerk"]), PARENT, {"id_number": CHILD, "name": "李小满"}
    )
    child = made["dependent_person_id"]
    cert = await helpers.issue(
        pool, esign, "weijian", "birth_medical_certificate", id_number=CHILD, name="李小满", fields=BIRTH_FIELDS
    )
    assert await jobs.derive(_state(pool, app)) == 1
    assert await jobs.derive(_state(pool, app)) == 0  # the margin re-reads the certificate; nothing new is written

    # The birth bundle completing for the same child says the same thing: still one birth.
    await helpers.completed_application(
        conn,
        app.state.keyring,
        bundle_code="birth",
        applicant=made["guardian_person_id"],
        for_person=child,
        form={"child_name": "李小满"},
    )
    assert await jobs.derive(_state(pool, app)) == 0

    timeline = (await client.get("/v1/wallet/timeline", params={"person_id": child}, headers=parent)).json()
    events = [e for e in timeline["items"] if e["kind"] == "event"]
    assert [(e["event"], e["title"], e["at"]) for e in events] == [("born", "出生", "2026-11-17T16:00:00Z")]
    assert events[0]["links"]["certificate_id"] == str(cert)
    kinds = (
        await client.get("/v1/wallet/items", params={"person_id": child, "kind": "application"}, headers=parent)
    ).json()
    assert [(i["kind"], i["title"], i["application"]["status"]) for i in kinds["items"]] == [
        ("application", "出生一件事", "completed")
    ]
    assert (
        await conn.fetchval("SELECT count(*) FROM sync_change WHERE entity = 'wallet_item' AND person_id = $1", child)
        == 2
    )


async def test_completed_bundles_are_life_events(
    client: AsyncTestClient, clerk: str, conn: asyncpg.Connection, pool: asyncpg.Pool, esign: EsignState, app: Litestar
) -> None:
    me = auth((await citizen(client, clerk, name="王退休", id_number=ELDER))["access_token"])
    person = await persons.find_person_id(conn, app.state.keyring, ELDER)
    done = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    await helpers.completed_application(
        conn,
        app.state.keyring,
        bundle_code="retirement",
        applicant=person,
        for_person=person,
        form={},
        completed_at=done,
    )
    await helpers.completed_application(
        conn,
        app.state.keyring,
        bundle_code="medical_insurance",
        applicant=person,
        for_person=person,
        form={},
        completed_at=done,
    )
    assert await jobs.derive(_state(pool, app)) == 1
    timeline = (await client.get("/v1/wallet/timeline", headers=me)).json()["items"]
    assert [(e["event"], e["at"], e["links"]["bundle_code"]) for e in timeline] == [
        ("retired", "2026-06-01T02:00:00Z", "retirement")
    ]


async def test_after_death_closes_the_wallet_and_the_family_may_read_it(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    esign: EsignState,
    app: Litestar,
) -> None:
    await citizen(client, clerk, name="王老", id_number=ELDER)
    son = auth((await citizen(client, clerk, name="王子", id_number=PARENT))["access_token"])
    await helpers.issue(
        pool, esign, "gongan", "id_card", id_number=ELDER, name="王老", fields={"name": "王老", **ID_CARD_FIELDS}
    )
    elder = await persons.find_person_id(conn, app.state.keyring, ELDER)
    son_person = await persons.find_person_id(conn, app.state.keyring, PARENT)
    assert_problem(
        await client.get("/v1/wallet/items", params={"person_id": str(elder)}, headers=son), 404, "wallet_not_found"
    )

    await helpers.completed_application(
        conn,
        app.state.keyring,
        bundle_code="after_death",
        applicant=son_person,
        for_person=son_person,
        form={"deceased_id_number": ELDER, "died_on": "2026-11-10"},
    )
    assert await jobs.derive(_state(pool, app)) == 1

    listed = (await client.get("/v1/wallet/dependents", headers=son)).json()["items"]
    assert [(d["person_id"], d["relation"], d["wallet_closed"]) for d in listed] == [
        (str(elder), "family_of_deceased", True)
    ]
    items = (await client.get("/v1/wallet/items", params={"person_id": str(elder)}, headers=son)).json()["items"]
    assert sorted(i["kind"] for i in items) == ["certificate", "event"]
    card = next(i for i in items if i["kind"] == "certificate")
    assert card["masked"] is True and card["certificate"]["fields"]["address"] == "***"  # the family reads, masked
    timeline = (await client.get("/v1/wallet/timeline", params={"person_id": str(elder)}, headers=son)).json()
    assert timeline["closed_at"]
    assert [(e["event"], e["at"]) for e in timeline["items"] if e["kind"] == "event"] == [
        ("died", "2026-11-09T16:00:00Z")
    ]

    # Closed to new writes: no presentations, consents or records.
    assert_problem(
        await client.post(f"/v1/wallet/items/{card['id']}/present", json={"fields": []}, headers=son),
        409,
        "wallet_closed",
    )
    grant = {
        "grantee_department_id": str(await helpers.department_id(conn, "yibao")),
        "item_ids": [card["id"]],
        "purpose": "x",
        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    assert_problem(await client.post("/v1/wallet/consents", json=grant, headers=son), 409, "wallet_closed")
    system = auth(await helpers.dept_system(client, op, conn, "renshe", ["records:write"]))
    assert_problem(
        await client.post("/v1/dept/records", json=record(ELDER, "late", name="王老"), headers=system),
        409,
        "wallet_closed",
    )


async def test_expiry_reminders_are_queued_once_per_threshold(
    client: AsyncTestClient,
    op: str,
    clerk: str,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    esign: EsignState,
    app: Litestar,
) -> None:
    await citizen(client, clerk, name="李强", id_number=PARENT)
    made = await helpers.set_guardian(
        client, await staff(client, op, conn, "gongan", ["clerk"]), PARENT, {"id_number": CHILD, "name": "李小满"}
    )
    now = datetime.now(UTC)
    cert = await helpers.issue(
        pool,
        esign,
        "renshe",
        "social_security_card",
        id_number=CHILD,
        name="李小满",
        fields={"card_no": "X1", "bank": "工商银行", "issued_on": "2026-11-20"},
        valid_until=now + timedelta(days=20),
    )
    await helpers.issue(
        pool,
        esign,
        "renshe",
        "social_security_card",
        id_number=PARENT,
        name="李强",
        fields={"card_no": "X2", "bank": "工商银行", "issued_on": "2026-11-20"},
        valid_until=now + timedelta(days=90),
    )
    state = _state(pool, app)
    assert await jobs.expiry(state, now=now) == 1
    assert await jobs.expiry(state, now=now + timedelta(days=1)) == 0
    assert await jobs.expiry(state, now=now + timedelta(days=14)) == 1
    assert await jobs.expiry(state, now=now + timedelta(days=19, hours=12)) == 1
    assert await jobs.expiry(state, now=now + timedelta(days=19, hours=13)) == 0
    assert await jobs.expiry(state, now=now + timedelta(days=21)) == 0  # expired: nothing more to remind
    rows = await conn.fetch(
        "SELECT dedup_key, payload::json AS payload FROM outbox WHERE topic = 'notify' "
        "AND payload::json->>'event' = 'certificate.expiring' ORDER BY id"
    )
    assert [r["dedup_key"] for r in rows] == [f"certificate.expiring:{cert}:{d}" for d in (30, 7, 1)]
    assert rows[0]["payload"]["person_id"] == made["dependent_person_id"]
    assert rows[0]["payload"]["guardian_person_ids"] == [made["guardian_person_id"]]
    assert rows[0]["payload"]["type_name"] == "社会保障卡"
