"""Every event the project emits reaches the right inboxes and the right department's webhook."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from api.kernel import outbox
from auth import persons
from notify import catalogue
from tests.auth.helpers import auth, sms_login
from tests.notify.helpers import Pipeline, Receiver, add_webhook, app_citizen, inbox
from tests.people import department_id, id_number, staff

MOTHER, CHILD_PARENT = id_number("19920304", 7, male=False), id_number("19900101", 3)


async def test_every_event_reaches_its_audience(
    client: AsyncTestClient,
    clerk: str,
    op: str,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    pipeline: Pipeline,
    receiver: Receiver,
) -> None:
    mother = await app_citizen(client, clerk, phone="13811110001", name="王芳", id_number=MOTHER)
    pid = mother["account"]["person_id"]
    father = await app_citizen(client, clerk, phone="13811110002", name="李强", id_number=CHILD_PARENT)
    fid = father["account"]["person_id"]
    yibao = await department_id(conn, "yibao")
    await add_webhook(
        client, await staff(client, op, conn, "yibao", ["dept_admin"]), receiver, list(catalogue.WEBHOOK_EVENTS)
    )
    now = datetime.now(UTC)
    child = await persons.create_newborn(
        conn, pipeline.state.keyring, name="李小满", born_on=now.date(), sex="女", now=now
    )
    await persons.add_guardian(conn, uuid.UUID(fid), child, source="test", now=now - timedelta(minutes=1))
    app_id, task_id, cert_id, consent_id = (str(uuid.uuid4()) for _ in range(4))

    emitted = [  # (topic, payload) exactly as the business code writes them
        (
            "notify",
            {"event": "application.received", "application_id": app_id, "person_id": pid, "status": "submitted"},
        ),
        (
            "notify",
            {"event": "application.task_rejected", "application_id": app_id, "person_id": pid, "status": "in_progress"},
        ),
        (
            "notify",
            {
                "event": "application.supplement_requested",
                "application_id": app_id,
                "person_id": pid,
                "status": "needs_supplement",
            },
        ),
        (
            "notify",
            {"event": "application.task_approved", "application_id": app_id, "person_id": pid, "status": "completed"},
        ),
        (
            "notify",
            {
                "event": "task.assigned",
                "application_id": app_id,
                "task_id": task_id,
                "matter_code": "430200-YB-003",
                "department_id": yibao,
                "status": "pending",
            },
        ),
        (
            "notify",
            {
                "event": "task.overdue",
                "task_id": task_id,
                "application_id": app_id,
                "matter_code": "430200-YB-003",
                "department_id": yibao,
                "due_at": now.isoformat(),
            },
        ),
        (
            "notify",
            {
                "event": "application.rated_badly",
                "application_id": app_id,
                "rectification_id": str(uuid.uuid4()),
                "department_id": yibao,
                "level": 1,
            },
        ),
        ("notify", {"event": "rectification.answered", "application_id": app_id, "person_id": pid}),
        (
            "notify",
            {
                "event": "feedback.received",
                "feedback_id": str(uuid.uuid4()),
                "department_id": yibao,
                "kind": "complaint",
            },
        ),
        (
            "notify",
            {
                "event": "feedback.received",
                "feedback_id": str(uuid.uuid4()),
                "department_id": None,
                "kind": "suggestion",
            },
        ),
        (
            "notify",
            {"event": "feedback.answered", "feedback_id": str(uuid.uuid4()), "account_id": mother["account"]["id"]},
        ),
        (
            "certificate.issued",
            {
                "certificate_id": cert_id,
                "department_id": yibao,
                "type_code": "T",
                "type_name": "出生医学证明",
                "licence_id": "L1",
                "person_id": str(child),
                "application_id": None,
            },
        ),
        (
            "certificate.suspended",
            {
                "certificate_id": cert_id,
                "department_id": yibao,
                "status": "suspended",
                "reason": "核查中",
                "person_id": pid,
            },
        ),
        (
            "certificate.resumed",
            {"certificate_id": cert_id, "department_id": yibao, "status": "valid", "reason": None, "person_id": pid},
        ),
        (
            "certificate.revoked",
            {
                "certificate_id": cert_id,
                "department_id": yibao,
                "status": "revoked",
                "reason": "信息有误",
                "person_id": pid,
            },
        ),
        (
            "notify",
            {
                "event": "certificate.expiring",
                "certificate_id": cert_id,
                "person_id": pid,
                "guardian_person_ids": [],
                "type_code": "T",
                "type_name": "居民身份证",
                "days": 30,
                "valid_until": (now + timedelta(days=30)).isoformat(),
            },
        ),
        (
            "notify",
            {
                "event": "consent.granted",
                "consent_id": consent_id,
                "person_id": pid,
                "department_id": yibao,
                "status": "active",
            },
        ),
        (
            "notify",
            {
                "event": "consent.used",
                "consent_id": consent_id,
                "person_id": pid,
                "department_id": yibao,
                "status": "active",
            },
        ),
        (
            "notify",
            {
                "event": "consent.revoked",
                "consent_id": consent_id,
                "person_id": pid,
                "department_id": yibao,
                "status": "revoked",
            },
        ),
        (
            "notify",
            {
                "event": "wallet.record_added",
                "person_id": pid,
                "item_id": str(uuid.uuid4()),
                "kind": "社保缴费",
                "department_id": yibao,
            },
        ),
        (
            "notify",
            {
                "event": "wallet.life_event_added",
                "person_id": pid,
                "item_id": str(uuid.uuid4()),
                "kind": "married",
                "department_id": yibao,
            },
        ),
        (
            "notify",
            {
                "event": "guardianship.set",
                "guardian_person_id": fid,
                "dependent_person_id": str(child),
                "department_id": yibao,
            },
        ),
        ("notify", {"event": "wallet.closed", "person_id": str(child)}),
        (
            "notify",
            {
                "event": "organisation.changed",
                "department_id": yibao,
                "org_id": str(uuid.uuid4()),
                "credit_code": "91430200MA4CHANG1N",
                "entity_name": "孙记商贸",
                "changed": ["entity_name"],
                "fields": {"entity_name": "孙记商贸"},
                "previous": {"entity_name": "孙记商行"},
            },
        ),
        (
            "notify",
            {
                "event": "certificate_batch.finished",
                "batch_id": str(uuid.uuid4()),
                "department_id": yibao,
                "state": "done",
                "total": 3,
                "issued": 2,
                "existing": 0,
                "failed": 1,
            },
        ),
    ]
    async with pool.acquire() as c, c.transaction():
        for i, (topic, payload) in enumerate(emitted):
            await outbox.enqueue(c, topic, payload, dedup_key=f"e{i}", partition_key=payload.get("department_id") or "")
    await _forget_sms_limits(pipeline)
    await sms_login(client, "13811110001")  # the mother logs in again: a new device
    await pipeline.drain()

    # The mother heard of her proof at the window first; her new login, bound to her identity, is an
    # identity-login alert (with "not me"), not a plain new-device one.
    assert [i["kind"] for i in reversed(await inbox(client, mother["access_token"], limit=100))] == [
        "auth.identity_login",
        "application.received",
        "application.task_decided",
        "application.supplement_requested",
        "application.completed",
        "rectification.answered",
        "feedback.answered",
        "certificate.suspended",
        "certificate.resumed",
        "certificate.revoked",
        "certificate.expiring",
        "consent.used",
        "wallet.record_added",
        "wallet.life_event_added",
        "auth.identity_login",
    ]
    # The father: a copy of his newborn's certificate, his guardianship, the closed wallet of the child's.
    assert [i["kind"] for i in reversed(await inbox(client, father["access_token"]))] == [
        "auth.identity_login",
        "certificate.issued",
        "guardianship.set",
        "wallet.closed",
    ]
    # The newborn has an inbox of her own (for when she logs in one day).
    assert (
        await conn.fetchval("SELECT kind FROM notify_notification WHERE person_id = $1", child) == "certificate.issued"
    )
    assert [i["kind"] for i in reversed(await inbox(client, op))] == [
        "task.overdue",
        "application.rated_badly",
        "feedback.unrouted",
    ]
    # Webhooks are sent concurrently (receivers order by the event's timestamp, not by arrival).
    assert sorted(e["type"] for e in receiver.verified()) == sorted(
        [
            "task.assigned",
            "task.overdue",
            "application.rated_badly",
            "feedback.received",
            "certificate.issued",
            "certificate.suspended",
            "certificate.resumed",
            "certificate.revoked",
            "consent.granted",
            "consent.revoked",
            "certificate_batch.finished",
            "organisation.changed",
        ]
    )
    finished = next(e for e in receiver.verified() if e["type"] == "certificate_batch.finished")
    assert (finished["data"]["state"], finished["data"]["issued"], finished["data"]["failed"]) == ("done", 2, 1)
    texts = {i["kind"]: i["body"] for i in await inbox(client, mother["access_token"], limit=100)}
    assert (
        texts["application.task_decided"] == "您的「您的申请」申请有新的办理进展：部门不予通过。"
    )  # an id nobody knows
    assert texts["certificate.revoked"] == "您的「电子证照」已被签发部门吊销，原因：信息有误。"
    department = await conn.fetchval("SELECT name FROM department WHERE id = $1", uuid.UUID(yibao))
    assert texts["consent.used"] == f"{department}依据您的授权调用了您的证照，用途：未说明。"
    assert "通过短信验证码用于一次登录" in (await inbox(client, mother["access_token"], limit=1))[0]["body"]


async def test_the_first_login_of_a_new_account_is_no_alert(
    client: AsyncTestClient, conn: asyncpg.Connection, pipeline: Pipeline
) -> None:
    pair = await sms_login(client, "13811110003")
    await pipeline.drain()
    assert await inbox(client, pair["access_token"]) == []
    await _forget_sms_limits(pipeline)
    again = await sms_login(client, "13811110003")
    await pipeline.drain()
    [alert] = await inbox(client, again["access_token"])
    assert alert["kind"] == "auth.new_device" and alert["urgent"] is True
    # An account without a person keeps its own inbox; reading it works the same.
    r = await client.post(f"/v1/notifications/{alert['id']}/read", headers=auth(again["access_token"]))
    assert r.status_code == 200 and r.json()["read_at"]


async def _forget_sms_limits(pipeline: Pipeline) -> None:
    # At most one code a minute per phone: a second login in the same test waits for nobody.
    redis = pipeline.state.redis
    for key in await redis.keys("zb:rl:{phone:*"):
        await redis.delete(key)
