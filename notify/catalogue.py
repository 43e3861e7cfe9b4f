"""The events we tell people about, who hears of each, and the zh-CN text per channel.

Business code emits outbox events (topic ``notify`` with ``{"event": name, ...ids}``, or esign's
``certificate.*`` topics); :func:`kind_of` turns one into a notification *kind*, which names the
audiences, the inbox title and body, the SMS text (``None``: not worth a text message) and the
WeChat subscribe-message template with the values for its fields. Texts are ``str.format``
templates over the event's payload plus what :mod:`notify.recipients` looks up (``matter``,
``type_name``, ``department``, ``at`` ...); a missing value renders empty, never fails.

Audiences: ``person`` (the payload's ``person_id``, or the key ``person_key`` names, and their
guardians), ``account`` (the payload's
``account_id``), ``family`` (guardians, dependents and family readers of ``person_id``),
``department`` (its webhooks subscribed to the kind), ``webhook`` (the one webhook the payload's
``webhook_id`` names, of the payload's ``department_id``, whatever it subscribes to: a test event)
and ``operators`` (every operator's inbox).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

# The outbox topics notifications are made from (the relay puts them on ``zb:{notify}:events``).
TOPICS = ("notify", "certificate.issued", "certificate.revoked", "certificate.suspended", "certificate.resumed")


@dataclass(frozen=True)
class WechatTemplate:
    key: str  # what clients name in POST /v1/notifications/wechat-grants
    default_id: str  # the template id WeChat assigned; ZB_NOTIFY_WECHAT_TEMPLATES overrides it
    fields: tuple[tuple[str, str], ...]  # (WeChat key, our value name), e.g. ("thing1", "subject")
    page: str = "pages/notifications/index"


WECHAT_TEMPLATES = {
    t.key: t
    for t in (
        # 办件进度通知: 事项名称 / 办理状态 / 更新时间 / 温馨提示
        WechatTemplate(
            "application_progress",
            "zb-application-progress",
            (("thing1", "subject"), ("phrase2", "state"), ("time3", "at"), ("thing4", "note")),
        ),
        # 电子证照通知: 证照名称 / 证照状态 / 变更时间 / 备注
        WechatTemplate(
            "certificate_notice",
            "zb-certificate-notice",
            (("thing1", "subject"), ("phrase2", "state"), ("time3", "at"), ("thing4", "note")),
        ),
        # 账号安全提醒: 提醒事项 / 发生时间 / 温馨提示
        WechatTemplate(
            "security_alert", "zb-security-alert", (("thing1", "subject"), ("time2", "at"), ("thing3", "note"))
        ),
    )
}


@dataclass(frozen=True)
class Kind:
    key: str
    audiences: tuple[str, ...]
    title: str
    body: str
    sms: str | None = None
    wechat: str | None = None  # a WECHAT_TEMPLATES key
    wechat_values: dict[str, str] = field(default_factory=dict)  # our value name -> template text
    urgent: bool = False  # urgent messages are not held by quiet hours
    person_key: str = "person_id"  # the payload key naming the person of the "person" audience
    private: tuple[str, ...] = ()  # payload keys for the outside texts only, kept out of the inbox item's data

    @cached_property
    def shown(self) -> frozenset[str]:
        """The values the kind's texts show (those must be looked up when the payload lacks them)."""
        texts = (self.title, self.body, self.sms or "", *self.wechat_values.values())
        return frozenset(name for t in texts for _, name, _, _ in string.Formatter().parse(t) if name)

    def uses(self, name: str) -> bool:
        return name in self.shown


def _progress(state: str, note: str) -> dict[str, str]:
    return {"subject": "{matter}", "state": state, "at": "{at}", "note": note}


def _certificate(state: str, note: str) -> dict[str, str]:
    return {"subject": "{type_name}", "state": state, "at": "{at}", "note": note}


KINDS = {
    k.key: k
    for k in (
        Kind(
            "application.received",
            ("person",),
            "申请已受理",
            "您提交的「{matter}」申请已受理，我们将在承诺时限内办结并通知您。",
            wechat="application_progress",
            wechat_values=_progress("已受理", "可在掌办查看办理进度"),
        ),
        Kind(
            "application.task_decided",
            ("person",),
            "办理进度更新",
            "您的「{matter}」申请有新的办理进展：{decision}。",
            wechat="application_progress",
            wechat_values=_progress("{decision_short}", "可在掌办查看办理进度"),
        ),
        Kind(
            "application.supplement_requested",
            ("person",),
            "需要补正材料",
            "您的「{matter}」申请需要补正材料，请在掌办查看需补充的内容并及时提交。",
            sms="【掌办】您的「{matter}」申请需补正材料，请登录掌办查看并提交。",
            wechat="application_progress",
            wechat_values=_progress("需补正", "请在掌办提交补正材料"),
        ),
        Kind(
            "application.completed",
            ("person",),
            "申请已办结",
            "您的「{matter}」申请已办结，结果：{outcome}。欢迎对本次服务作出评价。",
            sms="【掌办】您的「{matter}」申请已办结，结果：{outcome}。",
            wechat="application_progress",
            wechat_values=_progress("已办结", "欢迎对本次服务作出评价"),
        ),
        Kind(
            "application.ready_for_pickup",
            ("person",),
            "请到窗口领取办理结果",
            "您在{department}窗口办理的「{matter}」已办结（{outcome}），请携带身份证到原受理窗口领取纸质结果；"
            "电子证照已放入您的证照夹。",
            sms="【掌办】您在{department}办理的「{matter}」已办结，请携带身份证到原受理窗口领取结果。",
        ),
        Kind("task.assigned", ("department",), "新的办件", "事项 {matter_code} 有新的办件待办理。"),
        Kind(
            "task.overdue",
            ("department", "operators"),
            "办件超期",
            "「{matter}」的一件办件已超过承诺时限（应于 {due} 前办结）。",
        ),
        Kind(
            "application.rated_badly",
            ("department", "operators"),
            "收到差评",
            "一件办件收到 {level} 星评价，已生成整改工单，请按期答复。",
        ),
        Kind(
            "rectification.answered",
            ("person",),
            "评价已获答复",
            "您对「{matter}」的评价已收到办理部门的答复，请在掌办查看。",
        ),
        Kind("feedback.received", ("department",), "收到新的反馈", "收到一条{feedback_kind}，请及时处理。"),
        Kind("feedback.unrouted", ("operators",), "收到新的反馈", "收到一条未指定部门的{feedback_kind}，请分派处理。"),
        Kind("feedback.answered", ("account",), "反馈已获答复", "您提交的反馈已收到答复，请在掌办查看。"),
        Kind(
            "certificate.issued",
            ("person", "department"),
            "电子证照已签发",
            "您的「{type_name}」已签发并放入证照夹。",
            wechat="certificate_notice",
            wechat_values=_certificate("已签发", "已放入您的证照夹"),
        ),
        Kind(
            "certificate.revoked",
            ("person", "department"),
            "电子证照已吊销",
            "您的「{type_name}」已被签发部门吊销，原因：{reason}。",
            urgent=True,
            sms="【掌办】您的「{type_name}」已被吊销，详情请登录掌办查看。",
            wechat="certificate_notice",
            wechat_values=_certificate("已吊销", "{reason}"),
        ),
        Kind(
            "certificate.suspended",
            ("person", "department"),
            "电子证照已暂停使用",
            "您的「{type_name}」已被签发部门暂停使用，原因：{reason}。",
            urgent=True,
            sms="【掌办】您的「{type_name}」已暂停使用，详情请登录掌办查看。",
            wechat="certificate_notice",
            wechat_values=_certificate("已暂停", "{reason}"),
        ),
        Kind(
            "certificate.resumed",
            ("person", "department"),
            "电子证照已恢复使用",
            "您的「{type_name}」已恢复使用。",
            wechat="certificate_notice",
            wechat_values=_certificate("已恢复", "证照已恢复正常使用"),
        ),
        Kind(
            "certificate_batch.finished",
            ("department",),
            "批量签发已完成",
            "一批电子证照（共 {total} 件）已处理完毕：新签发 {issued} 件，此前已签发 {existing} 件，失败 {failed} 件。",
        ),
        Kind(
            "certificate.expiring",
            ("person",),
            "电子证照即将到期",
            "您的「{type_name}」将于 {valid_until} 到期，请及时办理换领。",
            sms="【掌办】您的「{type_name}」将于{valid_until}到期，请及时办理换领。",
            wechat="certificate_notice",
            wechat_values=_certificate("即将到期", "请及时办理换领"),
        ),
        Kind(
            "organisation.changed",
            ("department",),
            "经营主体信息变更",
            "{entity_name}（统一社会信用代码 {credit_code}）已办理变更登记，请据此更新贵单位留存的该主体信息。",
        ),
        Kind("consent.granted", ("department",), "新的用证授权", "一位持证人授权贵单位调用其证照。"),
        Kind("consent.revoked", ("department",), "用证授权已撤销", "一位持证人撤销了对贵单位的用证授权。"),
        Kind(
            "consent.used",
            ("person",),
            "证照被调用",
            "{department}依据您的授权调用了您的证照，用途：{purpose}。",
            wechat="security_alert",
            wechat_values={"subject": "证照被调用：{department}", "at": "{at}", "note": "如有疑问可随时撤销授权"},
        ),
        Kind(
            "auth.new_device",
            ("account",),
            "新设备登录提醒",
            "您的账号于 {at} 通过{method_text}在新设备登录。如非本人操作，请立即修改绑定信息并联系客服。",
            urgent=True,
            sms="【掌办】您的账号于{at}在新设备登录，如非本人操作请立即联系客服。",
            wechat="security_alert",
            wechat_values={"subject": "账号在新设备登录", "at": "{at}", "note": "如非本人操作请联系客服"},
        ),
        # A login bound to a verified identity (auth/alerts.py): the one-tap "not me" link goes by text
        # message; the inbox item names the login for the app's own "not me" button.
        Kind(
            "auth.identity_login",
            ("person",),
            "实名身份登录提醒",
            "您的实名身份于 {at} 通过{method_text}用于一次登录。如非本人操作，请点「不是我」结束该登录，工作人员会尽快核查。",
            urgent=True,
            sms="【掌办】您的实名身份于{at}通过{method_text}登录，如非本人操作请点击 {not_me_url} 结束该登录。",
            wechat="security_alert",
            wechat_values={"subject": "实名身份登录提醒", "at": "{at}", "note": "如非本人操作请点此处理"},
            private=("not_me_url",),
        ),
        Kind(
            "identity_case.opened",
            ("operators",),
            "身份冒用核查",
            "一位用户报告一次登录不是本人所为，该登录已结束，请在身份核查工单中处理。",
            urgent=True,
        ),
        Kind("wallet.record_added", ("person",), "证照夹新增记录", "{department}向您的证照夹推送了一条记录。"),
        Kind(
            "wallet.life_event_added",
            ("person",),
            "证照夹新增人生事件",
            "{department}在您的证照夹中登记了一件人生事件。",
        ),
        Kind(
            "guardianship.set",
            ("person",),
            "监护关系已登记",
            "{department}已登记您为一位家庭成员的监护人，您可以在掌办为其查看证照、代办事项。",
            person_key="guardian_person_id",
        ),
        Kind(
            "wallet.closed",
            ("family",),
            "亲属证照夹已关闭",
            "您的亲属的证照夹已依法关闭，您可以在掌办继续办理身后事项。",
        ),
        Kind("webhook.test", ("webhook",), "回调测试", "这是一条测试事件，用于检查回调地址能否收到并验证签名。"),
    )
}

# What department systems may subscribe their webhooks to.
WEBHOOK_EVENTS = tuple(sorted(k.key for k in KINDS.values() if "department" in k.audiences))

_DECISIONS = {
    "application.task_approved": ("部门审核通过", "审核通过"),
    "application.task_rejected": ("部门不予通过", "未通过"),
}
_OUTCOMES = {"completed": "办理完成", "rejected": "不予办理"}
_FEEDBACK = {"complaint": "投诉", "suggestion": "建议", "error_report": "纠错"}
_METHODS = {
    "wechat": "微信",
    "sms": "短信验证码",
    "counter": "窗口实名核验",
    "wechat_face": "微信人脸核验",
    "assertion": "身份认证机构核验",
}


def kind_of(event: str, payload: dict[str, Any]) -> Kind | None:
    """The notification kind of an emitted event, or None for events nobody is told about."""
    status = payload.get("status")
    if event in _DECISIONS:
        return KINDS["application.completed" if status in _OUTCOMES else "application.task_decided"]
    if event == "feedback.received" and not payload.get("department_id"):
        return KINDS["feedback.unrouted"]
    if event == "auth.login":
        # An account's very first login is its creation, not a new device.
        return None if payload.get("new_account") else KINDS["auth.new_device"]
    return KINDS.get(event)


def derived_values(event: str, payload: dict[str, Any]) -> dict[str, str]:
    """Template values that follow from the event itself (lookups come from the recipients loader)."""
    out: dict[str, str] = {}
    if event in _DECISIONS:
        out["decision"], out["decision_short"] = _DECISIONS[event]
    if payload.get("status") in _OUTCOMES:
        out["outcome"] = _OUTCOMES[payload["status"]]
    if "kind" in payload:
        out["feedback_kind"] = _FEEDBACK.get(str(payload["kind"]), "反馈")
    if "method" in payload:
        out["method_text"] = _METHODS.get(str(payload["method"]), "其他方式")
    return out
