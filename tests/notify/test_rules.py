"""Pure rules: WeChat value limits, backoff, the status machine, quiet hours, signatures, planning."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth.wechat_sim_state import VALUE_RULES
from notify import catalogue, plan, render, service
from notify.models import AccountInfo, Event
from notify.recipients import Context
from notify.service import Outcome

KEYS = [
    "thing1",
    "phrase2",
    "time3",
    "character_string4",
    "number5",
    "name6",
    "letter7",
    "symbol8",
    "amount9",
    "phone_number10",
    "car_number11",
    "date12",
    "enum13",
]


@given(st.sampled_from(KEYS), st.text())
def test_every_value_fits_wechat_s_rule_for_its_type(key: str, value: str) -> None:
    coerced = render.wechat_value(key, value)
    assert coerced, "WeChat refuses empty values"
    assert VALUE_RULES[render.key_type(key)](coerced), (key, value, coerced)


def test_long_and_dirty_values_are_cut_and_cleaned() -> None:
    assert (
        render.wechat_value("thing1", "出生医学证明\u200b签发\n（新生儿）办理事项名称很长很长很长")
        == "出生医学证明签发 （新生儿）办理事项名…"
    )
    assert len(render.wechat_value("thing1", "一" * 50)) == 20
    assert render.wechat_value("phrase2", "已办结!") == "已办结"
    assert (
        render.wechat_value("time3", render.china_time(datetime(2025, 3, 4, 1, 30, tzinfo=UTC)))
        == "2025年03月04日 09:30"
    )
    assert render.render("「{matter}」{missing}\x07", {"matter": "生育津贴"}) == "「生育津贴」"


def test_backoff_grows_from_five_seconds_towards_six_hours_with_jitter() -> None:
    low = [service.backoff_seconds(n, rand=lambda: 0.0) for n in range(1, 8)]
    high = [service.backoff_seconds(n, rand=lambda: 1.0) for n in range(1, 8)]
    assert low[0] == pytest.approx(4.0) and high[0] == pytest.approx(6.0)  # 5 s ± 20 %
    assert all(a < b for a, b in itertools.pairwise(low))
    # The seventh wait (before the eighth and last attempt) is 5.7 h, ±20 %, capped at 6 h.
    assert max(high) == service.BACKOFF_CAP and 4.5 * 3600 <= low[-1] <= 6 * 3600


def test_retries_run_out_after_the_channel_s_attempts() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    retry = Outcome("retry", "http 503")
    first = service.settle("webhook", 1, retry, now=now, rand=lambda: 0.5)
    assert (first.status, first.attempt_outcome, first.not_before) == ("sending", "retry", now + timedelta(seconds=5))
    assert service.settle("webhook", 8, retry, now=now).status == "temporary-failure"
    assert service.settle("wechat", 5, retry, now=now).status == "temporary-failure"
    assert service.settle("webhook", 3, Outcome("delivered"), now=now).status == "delivered"
    assert service.settle("webhook", 1, Outcome("permanent-failure", "http 410"), now=now).not_before is None


@pytest.mark.parametrize(
    ("errcode", "result"),
    [
        (43101, "permanent-failure"),
        (40003, "permanent-failure"),
        (47003, "technical-failure"),
        (41030, "technical-failure"),
        (40037, "technical-failure"),
    ],
)
def test_wechat_answers(errcode: int, result: str) -> None:
    assert service.wechat_outcome(errcode).result == result


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (301, "permanent-failure"),
        (404, "permanent-failure"),
        (410, "permanent-failure"),
    ],
)
def test_webhook_answers(status: int, result: str) -> None:
    assert service.http_outcome(status).result == result


def _cst(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=render.CHINA)


def test_quiet_hours_are_china_time_and_may_span_midnight() -> None:
    night = (time(22, 0), time(7, 0))
    assert service.quiet_until(_cst(23, 30), *night) == _cst(7, 0, day=11)
    assert service.quiet_until(_cst(3, 0), *night) == _cst(7, 0)
    assert service.quiet_until(_cst(7, 0), *night) is None
    assert service.quiet_until(_cst(12, 0), *night) is None
    lunch = (time(12, 0), time(13, 30))
    assert service.quiet_until(_cst(12, 15), *lunch) == _cst(13, 30)
    assert service.quiet_until(_cst(13, 30), *lunch) is None
    assert service.quiet_until(_cst(3, 0), None, None) is None
    # UTC in, UTC out: 15:30 UTC is 23:30 in China.
    assert service.quiet_until(datetime(2025, 3, 10, 15, 30, tzinfo=UTC), *night) == datetime(
        2025, 3, 10, 23, 0, tzinfo=UTC
    )


def test_signatures_follow_standard_webhooks() -> None:
    # The test vector of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        service.sign_webhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    made = service.new_webhook_secret()
    assert made.startswith("whsec_") and len(service._key(made)) == 32
    now = datetime.fromtimestamp(1614265330, UTC)
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,bm9ldmVu v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert service.verify_webhook(secret, headers, body, now=now)
    assert not service.verify_webhook(secret, headers, body + b" ", now=now)
    assert not service.verify_webhook(secret, headers, body, now=now + timedelta(minutes=6))


@pytest.mark.parametrize(
    ("event", "payload", "kind"),
    [
        ("application.received", {}, "application.received"),
        ("application.task_approved", {"status": "in_progress"}, "application.task_decided"),
        ("application.task_approved", {"status": "completed"}, "application.completed"),
        ("application.task_rejected", {"status": "rejected"}, "application.completed"),
        ("application.supplement_requested", {}, "application.supplement_requested"),
        ("application.task_claimed", {}, None),
        ("feedback.received", {"department_id": None}, "feedback.unrouted"),
        ("auth.login", {"new_account": True}, None),
        ("auth.login", {"new_account": False}, "auth.new_device"),
        ("certificate.revoked", {}, "certificate.revoked"),
        ("something.else", {}, None),
    ],
)
def test_events_map_to_kinds(event: str, payload: dict, kind: str | None) -> None:
    found = catalogue.kind_of(event, payload)
    assert (found.key if found else None) == kind


def test_a_guardian_gets_a_copy_and_channels_follow_grants_preferences_and_quiet_hours() -> None:
    child, mother = uuid4(), uuid4()
    wechat_granted = AccountInfo(
        id=uuid4(), person_id=mother, openid="o1", has_phone=False, templates=frozenset({"certificate_notice"})
    )
    phone_quiet = AccountInfo(
        id=uuid4(), person_id=mother, openid=None, has_phone=True, quiet_from=time(0, 0), quiet_to=time(23, 59)
    )
    ctx = Context()
    ctx.accounts = {a.id: a for a in (wechat_granted, phone_quiet)}
    ctx.accounts_of[mother] = [wechat_granted.id, phone_quiet.id]
    ctx.guardians[child] = [mother]
    ctx.persons = {child, mother}
    now = datetime(2025, 3, 10, 4, 0, tzinfo=UTC)
    issued = Event(
        stream="zb:events:certificate.issued",
        entry_id="1-0",
        outbox_id=1,
        name="certificate.issued",
        dedup_key="certificate.issued:1",
        lane="d1",
        payload={"certificate_id": str(uuid4()), "person_id": str(child), "type_name": "出生医学证明"},
    )
    notes, deliveries = plan.plan([issued], ctx, now=now)
    assert sorted(n.person_id for n in notes) == sorted([child, mother])  # the newborn's own inbox and the mother's
    assert notes[0].body == "您的「出生医学证明」已签发并放入证照夹。"
    assert [(d.channel, d.target) for d in deliveries] == [("wechat", wechat_granted.id)]  # no SMS text for this kind
    wechat = deliveries[0].content
    assert wechat["data"]["thing1"] == {"value": "出生医学证明"} and wechat["data"]["phrase2"] == {"value": "已签发"}

    revoked = Event(
        stream="zb:events:certificate.revoked",
        entry_id="2-0",
        outbox_id=2,
        name="certificate.revoked",
        dedup_key="certificate.revoked:1",
        lane="d1",
        payload={"person_id": str(mother), "reason": "信息有误"},
    )
    _, deliveries = plan.plan([revoked], ctx, now=now)
    # Urgent: quiet hours do not hold it; no grant for the template's user? certificate_notice is granted.
    assert sorted(d.channel for d in deliveries) == ["sms", "wechat"] and all(d.not_before is None for d in deliveries)
    expiring = Event(
        stream="zb:events:notify",
        entry_id="3-0",
        outbox_id=3,
        name="certificate.expiring",
        dedup_key="exp:1",
        lane="_",
        payload={"person_id": str(mother), "type_name": "居民身份证", "valid_until": "2025-04-01T00:00:00+00:00"},
    )
    notes, deliveries = plan.plan([expiring], ctx, now=now)
    sms = next(d for d in deliveries if d.channel == "sms")
    assert sms.not_before == datetime(2025, 3, 10, 15, 59, tzinfo=UTC)  # held until 23:59 China time
    assert sms.content == {
        "text": "【掌办】您的「居民身份证」将于2025年04月01日到期，请及时办理换领。",
        "params": {"type_name": "居民身份证", "valid_until": "2025年04月01日"},
    }

    # A person nobody knows (no such row) is told nothing: the event is consumed, not stuck.
    ghost = msgspec.structs.replace(
        expiring, dedup_key="exp:2", payload={**expiring.payload, "person_id": str(uuid4())}
    )
    assert plan.plan([ghost], ctx, now=now) == ([], [])

    # A closed wallet reaches the family read for it, though the deceased is no person of the batch.
    closed = Event(
        stream="zb:events:notify",
        entry_id="4-0",
        outbox_id=4,
        name="wallet.closed",
        dedup_key="closed:1",
        lane="_",
        payload={"person_id": str(child)},
    )
    ctx.persons, ctx.family[child] = set(), [mother]
    notes, _ = plan.plan([closed], ctx, now=now)
    assert [(n.kind, n.person_id) for n in notes] == [("wallet.closed", mother)]


def test_a_department_notification_exists_only_for_subscribed_webhooks() -> None:
    dept, hook = uuid4(), uuid4()
    ctx = Context()
    ctx.webhooks[dept] = [(hook, frozenset({"task.overdue"}))]
    event = Event(
        stream="zb:events:notify",
        entry_id="1-0",
        outbox_id=1,
        name="task.assigned",
        dedup_key="a:1",
        lane=str(dept),
        payload={"department_id": str(dept), "matter_code": "430200-YB-003"},
    )
    assert plan.plan([event], ctx, now=datetime.now(UTC)) == ([], [])
    overdue = Event(
        stream="zb:events:notify",
        entry_id="2-0",
        outbox_id=2,
        name="task.overdue",
        dedup_key="o:1",
        lane=str(dept),
        payload={"department_id": str(dept), "matter_code": "430200-YB-003"},
    )
    notes, deliveries = plan.plan([overdue, overdue], ctx, now=datetime.now(UTC))
    assert [n.department_id for n in notes] == [dept] and [d.target for d in deliveries] == [hook]


def test_wechat_template_ids_come_from_the_setting() -> None:
    from notify.channels import template_ids

    assert template_ids("") == {
        "application_progress": "zb-application-progress",
        "certificate_notice": "zb-certificate-notice",
        "security_alert": "zb-security-alert",
    }
    ids = template_ids(" application_progress = Xa1b2 ,nope=1, security_alert=")
    assert ids["application_progress"] == "Xa1b2" and ids["security_alert"] == "zb-security-alert" and "nope" not in ids
