"""前台综合受理 through HTTP: an elderly citizen with no account walks in; the window takes the bundle for them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth
from tests.matters.family import department, issue, png, sha
from tests.people import citizen, id_number, staff

ELDER = id_number("19660301", 51, male=False)
ELDER_NAME = "张秀英"
SON = id_number("19900704", 52)
SON_NAME = "刘建华"
RETIREMENT_FORM = {"employer": "株洲冶炼集团", "retire_on": "2026-12-01", "bank_account_no": "6222020202021234"}


async def _window(client: AsyncTestClient, op: str, conn: asyncpg.Connection, key: str) -> dict[str, str]:
    return auth(await staff(client, op, conn, key, ["window_clerk"]))


async def _scans(client: AsyncTestClient, clerk: dict[str, str], *extra: str) -> dict[str, bytes]:
    """The paper the citizen brought, scanned at the window and uploaded by the clerk."""
    scans = {c: png(f"scan-{c}") for c in ("retirement_application", "employment_record", *extra)}
    for data in scans.values():
        r = await client.put(f"/v1/blobs/{sha(data)}", content=data, headers=clerk | {"Content-Type": "image/png"})
        assert r.status_code in (200, 201), r.text
    return scans


async def _open(client: AsyncTestClient, clerk: dict[str, str], **extra: Any) -> dict[str, Any]:
    r = await client.post(
        "/v1/dept/window/intakes",
        headers=clerk,
        json={
            "citizen": {"id_number": ELDER, "name": ELDER_NAME},
            "window": "3号综合受理窗口",
            "ticket_issued_at": (datetime.now(UTC) - timedelta(minutes=12)).isoformat(),
        }
        | extra,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _retirement(scans: dict[str, bytes], *, id_card_item: str | None = None) -> dict[str, Any]:
    materials = [{"code": c, "blob_sha256": sha(d)} for c, d in scans.items()]
    if id_card_item:
        materials.append({"code": "applicant_id_card", "wallet_item_id": id_card_item})
    return {
        "id": str(uuid.uuid4()),
        "bundle_code": "retirement",
        "form": RETIREMENT_FORM,
        "materials": materials,
        "deferred_materials": ["bank_account"],
    }


async def test_window_takes_the_bundle_for_a_citizen_without_an_account(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    gongan = await department(client, op, conn, "gongan")
    # 公安 issued her ID card long ago: the platform holds it though she never had an app.
    await issue(
        client,
        gongan,
        "id_card",
        ELDER,
        ELDER_NAME,
        {
            "name": ELDER_NAME,
            "sex": "女",
            "ethnicity": "汉",
            "birth_date": "1966-03-01",
            "address": "株洲市芦淞区建设路8号",
            "valid_until": "2036-01-01",
        },
    )
    window = await _window(client, op, conn, "shenpi")
    scans = await _scans(client, window)
    intake = await _open(client, window)
    assert intake["person"]["has_app"] is False and intake["person"]["name_masked"] != ELDER_NAME
    assert intake["department"]["name"] == "株洲市行政审批服务局" and intake["window"] == "3号综合受理窗口"

    # Without her consent the window sees nothing of her wallet.
    r = await client.get(
        f"/v1/dept/window/intakes/{intake['id']}/prefill", params={"bundle_code": "retirement"}, headers=window
    )
    assert_problem(r, 403, "window_consent_required")
    r = await client.post(f"/v1/dept/window/intakes/{intake['id']}/consent", json={}, headers=window)
    assert r.status_code == 200, r.text
    assert r.json()["consent"]["consent_id"]
    r = await client.get(
        f"/v1/dept/window/intakes/{intake['id']}/prefill", params={"bundle_code": "retirement"}, headers=window
    )
    assert r.status_code == 200, r.text
    id_card = next(m for m in r.json()["materials"] if m["code"] == "applicant_id_card")
    assert id_card["status"] == "from_wallet"
    needed = {m["code"] for m in r.json()["materials"] if m["status"] == "needed"}
    assert needed == {"retirement_application", "employment_record", "bank_account", "social_security_card"}

    r = await client.post(
        f"/v1/dept/window/intakes/{intake['id']}/application",
        headers=window,
        json=_retirement(scans, id_card_item=id_card["wallet_item_id"]),
    )
    assert r.status_code == 201, r.text
    app = r.json()
    person = intake["person"]["id"]
    assert app["applicant_person_id"] == person == app["for_person_id"]
    taken = next(e for e in app["timeline"] if e["event"] == "taken_at_window")
    assert taken["detail"] == {"department": "株洲市行政审批服务局", "window": "3号综合受理窗口", "agent": False}
    assert [t["matter_code"] for t in app["tasks"] if t["status"] == "pending"] == ["430200-RS-005"]
    # The same submission again answers the stored application; the visit keeps it and the clerk.
    again = await client.post(
        f"/v1/dept/window/intakes/{intake['id']}/application",
        headers=window,
        json=_retirement(scans, id_card_item=id_card["wallet_item_id"]) | {"id": app["id"]},
    )
    assert again.status_code == 200 and again.json()["id"] == app["id"]
    seen = (await client.get(f"/v1/dept/window/intakes/{intake['id']}", headers=window)).json()
    assert seen["application_id"] == app["id"] and seen["clerk_account_id"]

    # 人社局 reads the scans through its task, as for any application.
    renshe = await department(client, op, conn, "renshe")
    task = app["tasks"][0]["id"]
    files = (await client.get(f"/v1/dept/tasks/{task}/materials", headers=renshe)).json()
    assert {m["code"] for m in files["items"] if m["source"] == "blob"} >= {"retirement_application"}

    # Later she installs the app and proves who she is: the application is hers, and the window's reads are in
    # her access log.
    prover = await staff(client, op, conn, "shenpi", ["clerk"], proven=True)
    her = auth((await citizen(client, prover, name=ELDER_NAME, id_number=ELDER))["access_token"])
    mine = (await client.get("/v1/applications", headers=her)).json()["items"]
    assert [a["id"] for a in mine] == [app["id"]]
    log = (await client.get("/v1/wallet/access-log", headers=her)).json()["items"]
    window_reads = [e for e in log if e["consent_id"] == seen["consent"]["consent_id"]]
    assert window_reads and window_reads[0]["department"]["name"] == "株洲市行政审批服务局"
    consents = (await client.get("/v1/wallet/consents", headers=her)).json()["items"]
    assert any(c["id"] == seen["consent"]["consent_id"] for c in consents)
    r = await client.get(f"/v1/blobs/{sha(scans['employment_record'])}", headers=her)
    assert r.status_code == 200 and r.content == scans["employment_record"]


async def test_the_window_refuses_who_may_not(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> None:
    window = await _window(client, op, conn, "shenpi")
    intake = await _open(client, window)
    # A clerk of another centre (公安局's 户政 window) works its own visits only.
    other_centre = await _window(client, op, conn, "gongan")
    for r in (
        await client.get(f"/v1/dept/window/intakes/{intake['id']}", headers=other_centre),
        await client.post(f"/v1/dept/window/intakes/{intake['id']}/consent", json={}, headers=other_centre),
    ):
        assert_problem(r, 403, "window_other_centre")
    # A department with no window in the catalogue: its clerk is refused even holding the window role.
    renshe = await _window(client, op, conn, "renshe")
    r = await client.post(
        "/v1/dept/window/intakes", headers=renshe, json={"citizen": {"id_number": ELDER, "name": ELDER_NAME}}
    )
    body = assert_problem(r, 403, "authority_required")
    assert body["power"] == "window_intake"
    # A department clerk without the window role.
    back_office = auth(await staff(client, op, conn, "shenpi", ["clerk", "approver"]))
    assert_problem(
        await client.post(
            "/v1/dept/window/intakes", headers=back_office, json={"citizen": {"id_number": ELDER, "name": ELDER_NAME}}
        ),
        403,
        "forbidden",
    )
    # The person is known now: another name for the same number is refused, the stored one never told.
    r = await client.post(
        "/v1/dept/window/intakes", headers=window, json={"citizen": {"id_number": ELDER, "name": "张秀兰"}}
    )
    assert_problem(r, 422, "holder_mismatch")


async def test_a_family_member_applies_as_agent_until_the_authorisation_ends(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection
) -> None:
    mother = await citizen(client, clerk, name=ELDER_NAME, id_number=ELDER)
    h = auth(mother["access_token"])
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = await client.post(
        "/v1/delegations",
        headers=h,
        json={
            "agent": {"id_number": SON, "name": SON_NAME},
            "matters": ["retirement"],
            "actions": ["apply", "collect"],
            "expires_at": later,
            "note": "儿子代办退休",
        },
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["status"] == "active" and grant["agent"]["name_masked"] != SON_NAME

    window = await _window(client, op, conn, "shenpi")
    scans = await _scans(client, window, "applicant_id_card")  # no ID card in her wallet: a copy of the card
    agent = {"delegation_id": grant["id"], "id_number": SON}
    intake = await _open(client, window, agent=agent)
    assert intake["agent"]["delegation_id"] == grant["id"]
    r = await client.post(
        f"/v1/dept/window/intakes/{intake['id']}/application",
        headers=window,
        json={
            "id": str(uuid.uuid4()),
            "matter_code": "430200-GA-002",
            "form": {"household_address": "株洲市"},
            "materials": [],
        },
    )
    assert_problem(r, 403, "delegation_out_of_scope")
    r = await client.post(
        f"/v1/dept/window/intakes/{intake['id']}/application", headers=window, json=_retirement(scans)
    )
    assert r.status_code == 201, r.text
    assert next(e for e in r.json()["timeline"] if e["event"] == "taken_at_window")["detail"]["agent"] is True
    # Someone else with the authorisation's id but not the son's card.
    r = await client.post(
        "/v1/dept/window/intakes",
        headers=window,
        json={
            "citizen": {"id_number": ELDER, "name": ELDER_NAME},
            "agent": agent | {"id_number": id_number("19880101", 53)},
        },
    )
    assert_problem(r, 403, "delegation_agent_mismatch")

    # Expired: the son is refused at the window, and the refusal is in the log both sides read.
    # (Times as values: a Citus cluster refuses now() beside a column in an UPDATE of a distributed table.)
    now = datetime.now(UTC)
    await conn.execute(
        "UPDATE delegation SET created_at = $2, expires_at = $3 WHERE id = $1",
        uuid.UUID(grant["id"]),
        now - timedelta(days=40),
        now - timedelta(minutes=1),
    )
    r = await client.post(
        "/v1/dept/window/intakes",
        headers=window,
        json={"citizen": {"id_number": ELDER, "name": ELDER_NAME}, "agent": agent},
    )
    assert_problem(r, 403, "delegation_inactive")
    uses = (await client.get(f"/v1/delegations/{grant['id']}/uses", headers=h)).json()["items"]
    assert [(u["outcome"], u["reason"]) for u in uses][:2] == [
        ("refused", "delegation_inactive"),
        ("refused", "delegation_agent_mismatch"),
    ]
    assert sum(u["outcome"] == "served" for u in uses) == 2  # the visit opened, the application taken
    listed = (await client.get("/v1/delegations", headers=h)).json()["items"]
    assert listed[0]["status"] == "expired" and listed[0]["uses"] == 2
    [row] = (await client.get("/v1/admin/stats", headers=auth(op))).json()["by_window"]
    assert (row["visits"], row["applications_taken"], row["taken_for_others"]) == (1, 1, 1)

    # Revoked: the same.
    r = await client.post(
        "/v1/delegations",
        headers=h,
        json={
            "agent": {"id_number": SON, "name": SON_NAME},
            "matters": ["*"],
            "actions": ["apply"],
            "expires_at": later,
        },
    )
    second = r.json()
    r = await client.post(f"/v1/delegations/{second['id']}/revoke", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    r = await client.post(
        "/v1/dept/window/intakes",
        headers=window,
        json={
            "citizen": {"id_number": ELDER, "name": ELDER_NAME},
            "agent": {"delegation_id": second["id"], "id_number": SON},
        },
    )
    assert_problem(r, 403, "delegation_inactive")
    # A stranger cannot read or revoke it.
    stranger = auth((await citizen(client, clerk, name="路人甲", id_number=id_number("19700101", 54)))["access_token"])
    assert_problem(
        await client.post(f"/v1/delegations/{second['id']}/revoke", headers=stranger), 404, "delegation_not_found"
    )


async def _approve_all(client: AsyncTestClient, op: str, conn: asyncpg.Connection, app_id: str) -> None:
    """Each department of 退休一件事 approves its task from its queue as it comes; 人社局's issues the 退休证."""
    staff_of = {k: await department(client, op, conn, k) for k in ("renshe", "yibao", "gongjijin")}
    for _ in range(2):
        queue = [
            (h, t)
            for h in staff_of.values()
            for t in (await client.get("/v1/dept/tasks", params={"status": "pending"}, headers=h)).json()["items"]
            if t["application_id"] == app_id
        ]
        for h, task in queue:
            assert (await client.post(f"/v1/dept/tasks/{task['id']}/claim", headers=h)).status_code == 200
            r = await client.post(
                f"/v1/dept/tasks/{task['id']}/approve",
                headers=h,
                json={"result_fields": {"retired_on": "2026-12-01", "pension_type": "企业职工基本养老保险"}}
                if task["matter_code"] == "430200-RS-005"
                else {},
            )
            assert r.status_code == 200, r.text


async def test_results_are_handed_over_at_the_window_that_took_them(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, settings: Any
) -> None:
    import pypdf
    import zxingcpp

    from tests.authz.world import drain

    her = auth((await citizen(client, clerk, name=ELDER_NAME, id_number=ELDER))["access_token"])
    window = await _window(client, op, conn, "shenpi")
    scans = await _scans(client, window, "applicant_id_card")
    intake = await _open(client, window)
    r = await client.post(
        f"/v1/dept/window/intakes/{intake['id']}/application", headers=window, json=_retirement(scans)
    )
    assert r.status_code == 201, r.text
    app_id = r.json()["id"]
    pickups = (await client.get("/v1/dept/window/pickups", headers=window)).json()["items"]
    assert pickups == []
    assert_problem(
        await client.get(f"/v1/dept/window/pickups/{app_id}/print", headers=window), 409, "not_ready_for_pickup"
    )

    await _approve_all(client, op, conn, app_id)
    app = (await client.get(f"/v1/applications/{app_id}", headers=her)).json()
    assert app["status"] == "completed", app
    # The window is told: the application joins its pick-up queue, and she hears of it.
    pickups = (await client.get("/v1/dept/window/pickups", headers=window)).json()["items"]
    assert [p["application_id"] for p in pickups] == [app_id]
    assert [c["type_name"] for c in pickups[0]["results"]] == ["退休证"]
    await drain(settings)
    notes = (await client.get("/v1/notifications", headers=her)).json()["items"]
    assert any(n["title"] == "请到窗口领取办理结果" and "株洲市行政审批服务局" in n["body"] for n in notes), notes

    # The printed page: its QR is the URL of the certificate, and that verifies.
    r = await client.get(f"/v1/dept/window/pickups/{app_id}/print", headers=window)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    import io

    pdf = pypdf.PdfReader(io.BytesIO(r.content))
    assert len(pdf.pages) == 1 and "退休证" in pdf.pages[0].extract_text()
    url = next(b.text for img in pdf.pages[0].images for b in zxingcpp.read_barcodes(img.image))
    assert url.startswith("HTTP://") and "/V/" in url
    token = url.split("/V/", 1)[1].replace("%2F", "/").replace("%20", " ").replace("%25", "%")
    verdict = (await client.post("/v1/verify", json={"token": token})).json()
    assert verdict["valid"] is True and verdict["certificate"]["type_name"] == "退休证"
    wallet = (await client.get("/v1/wallet/items", params={"kind": "certificate"}, headers=her)).json()["items"]
    assert any(i["certificate"]["token"] == token for i in wallet)

    # The hand-over: another centre may not, a stranger may not receive, the card must be checked; then recorded once.
    other = await _window(client, op, conn, "gongan")
    body = {"recipient": {"id_number": ELDER, "name": ELDER_NAME}, "id_checked": True}
    assert_problem(
        await client.post(f"/v1/dept/window/pickups/{app_id}/handover", json=body, headers=other),
        403,
        "window_other_centre",
    )
    stranger = {"recipient": {"id_number": id_number("19700101", 55), "name": "路人乙"}, "id_checked": True}
    assert_problem(
        await client.post(f"/v1/dept/window/pickups/{app_id}/handover", json=stranger, headers=window),
        403,
        "recipient_mismatch",
    )
    assert_problem(
        await client.post(
            f"/v1/dept/window/pickups/{app_id}/handover", json=body | {"id_checked": False}, headers=window
        ),
        422,
        "validation_failed",
    )
    r = await client.post(f"/v1/dept/window/pickups/{app_id}/handover", json=body, headers=window)
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["recipient_person_id"] == intake["person"]["id"] and done["by_agent"] is False
    assert done["certificate_ids"] == [pickups[0]["results"][0]["id"]] and done["id_checked"] is True
    assert_problem(
        await client.post(f"/v1/dept/window/pickups/{app_id}/handover", json=body, headers=window),
        409,
        "already_handed_over",
    )
    assert (await client.get("/v1/dept/window/pickups", headers=window)).json()["items"] == []
    timeline = (await client.get(f"/v1/applications/{app_id}", headers=her)).json()["timeline"]
    assert timeline[-1]["event"] == "handed_over"

    # The operators' numbers for the window.
    stats = (await client.get("/v1/admin/stats", headers=auth(op))).json()
    [row] = stats["by_window"]
    assert row["department_name"] == "株洲市行政审批服务局"
    assert (row["visits"], row["applications_taken"], row["taken_for_others"]) == (1, 1, 0)
    assert (row["ready_for_pickup"], row["picked_up"], row["awaiting_pickup"]) == (1, 1, 0)
    assert 11.5 <= row["median_wait_minutes"] <= 13 and row["median_handling_minutes"] >= 0


async def test_a_citizen_without_the_app_gets_a_text_when_results_are_ready(
    client: AsyncTestClient, op: str, conn: asyncpg.Connection, settings: Any
) -> None:
    from tests.authz.world import drain

    window = await _window(client, op, conn, "shenpi")
    scans = await _scans(client, window, "applicant_id_card")
    phone = "13712345678"
    assert_problem(
        await client.post(
            "/v1/dept/window/intakes",
            headers=window,
            json={"citizen": {"id_number": ELDER, "name": ELDER_NAME}, "phone": "12345"},
        ),
        422,
        "validation_failed",
    )
    intake = await _open(client, window, phone=phone)
    r = await client.post(
        f"/v1/dept/window/intakes/{intake['id']}/application", headers=window, json=_retirement(scans)
    )
    assert r.status_code == 201, r.text
    await _approve_all(client, op, conn, r.json()["id"])
    await drain(settings)
    texts = (await client.get("/v1/dev/sms", params={"phone": phone})).json()
    messages = texts["items"] if isinstance(texts, dict) else texts
    assert any("已办结" in str(m) and "领取" in str(m) for m in messages), texts
