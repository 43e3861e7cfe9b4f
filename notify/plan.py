"""From events to rows, pure: one notification per event and recipient, one delivery per outside channel.

Recipients by audience (see :mod:`notify.catalogue`): a person's inbox and each of their accounts'
WeChat and SMS; a guardian gets a copy of what concerns their dependent; an account-only event
reaches that account's person (or the account itself when it has no person); operators get an
inbox item only; a department gets a notification only when a webhook of theirs subscribes, with
one delivery per such webhook.

WeChat goes out only while the account holds a grant for the template and has WeChat on; SMS only
where the kind has a text, the account has a phone and SMS on. Quiet hours hold non-urgent WeChat
and SMS deliveries until they end; the inbox item is there at once either way.

A kind's ``private`` values (a one-tap link's token) come sealed in the event and stay sealed: the
outside texts are rendered with a ``{name}`` placeholder and the delivery keeps the sealed value
beside it, for the sender to open at the moment of sending (:func:`notify.channels.opened`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from api.kernel.ids import Monotonic
from notify import catalogue, render, service
from notify.catalogue import Kind
from notify.models import AccountInfo, DeliveryRow, Event, NotificationRow
from notify.recipients import Context, as_uuid

Owner = tuple[str, UUID]  # ("person" | "account" | "department", id)

# Inboxes are read newest first by id; the notifications of one batch share a millisecond, and
# plain UUIDv7s within a millisecond are in random order.
next_id = Monotonic()


def values(event: Event, ctx: Context, *, at: str) -> dict[str, Any]:
    """What the kind's texts may show: the payload, what follows from it, and looked-up names."""
    p = event.payload
    out: dict[str, Any] = {k: v for k, v in p.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    out.update(catalogue.derived_values(event.name, p))
    out["at"] = at
    names = ctx.names
    out["matter"] = (
        names["matter"].get(str(p.get("matter_code")))
        or names["application"].get(str(p.get("application_id")))
        or "您的申请"
    )
    out["department"] = names["department"].get(str(p.get("department_id"))) or "有关部门"
    cert_name, valid_until = names["certificate"].get(str(p.get("certificate_id")), (None, None))
    out["type_name"] = p.get("type_name") or cert_name or "电子证照"
    out["valid_until"] = _date(p.get("valid_until")) or (render.china_date(valid_until) if valid_until else "")
    out["due"] = _time(p.get("due_at"))
    out["reason"] = p.get("reason") or "未说明"
    out["purpose"] = p.get("purpose") or names["consent"].get(str(p.get("consent_id"))) or "未说明"
    return out


def _date(value: Any) -> str:
    try:
        return render.china_date(datetime.fromisoformat(str(value))) if value else ""
    except ValueError:
        return ""


def _time(value: Any) -> str:
    try:
        return render.china_time(datetime.fromisoformat(str(value))) if value else ""
    except ValueError:
        return ""


def owners(kind: Kind, payload: dict[str, Any], ctx: Context) -> Iterator[tuple[Owner, list[UUID], list[UUID]]]:
    """Each recipient of the kind: (inbox owner, accounts to reach outside the app, webhooks)."""
    for audience in kind.audiences:
        if audience in ("person", "family"):
            pid = as_uuid(payload.get(kind.person_key))
            # The family are read from guardianship rows, so they exist; the person is checked.
            if pid is None or (audience == "person" and pid not in ctx.persons):
                continue
            people = [pid, *ctx.guardians.get(pid, ())] if audience == "person" else ctx.family.get(pid, [])
            for person in people:
                yield ("person", person), ctx.accounts_of.get(person, []), []
        elif audience == "account":
            aid = as_uuid(payload.get("account_id"))
            account = ctx.accounts.get(aid) if aid else None
            if account is not None:
                yield _inbox_of(account), [account.id], []
        elif audience == "operators":
            for account_id in ctx.operators:
                yield _inbox_of(ctx.accounts[account_id]), [], []
        elif audience == "department":
            did = as_uuid(payload.get("department_id"))
            hooks = [w for w, events in ctx.webhooks.get(did, []) if kind.key in events] if did else []
            if did and hooks:
                yield ("department", did), [], hooks
        elif audience == "webhook":
            did, wid = as_uuid(payload.get("department_id")), as_uuid(payload.get("webhook_id"))
            if did and wid and any(w == wid for w, _ in ctx.webhooks.get(did, [])):
                yield ("department", did), [], [wid]


def _inbox_of(account: AccountInfo) -> Owner:
    return ("person", account.person_id) if account.person_id else ("account", account.id)


def plan(events: list[Event], ctx: Context, *, now: datetime) -> tuple[list[NotificationRow], list[DeliveryRow]]:
    """The rows ``events`` make; dedup keys make a replayed event make none (the insert skips them)."""
    notes: dict[str, NotificationRow] = {}
    deliveries: list[DeliveryRow] = []
    at = render.china_time(now)
    for event in events:
        kind = catalogue.kind_of(event.name, event.payload)
        if kind is None:
            continue
        vals = values(event, ctx, at=at)
        sealed = _sealed(kind, vals) if kind.private else None
        title, body = render.render(kind.title, vals), render.render(kind.body, vals)
        data = {k: v for k, v in event.payload.items() if k != "event" and k not in kind.private}
        for (what, whom), accounts, hooks in owners(kind, event.payload, ctx):
            key = f"{event.dedup_key}#{kind.key}#{what}:{whom}"
            if key in notes:
                continue
            note = NotificationRow(
                id=next_id(),
                dedup_key=key,
                event=event.name,
                kind=kind.key,
                person_id=whom if what == "person" else None,
                account_id=whom if what == "account" else None,
                department_id=whom if what == "department" else None,
                title=title,
                body=body,
                data=data,
                urgent=kind.urgent,
                lane=event.lane,
                created_at=now,
            )
            notes[key] = note
            for account_id in accounts:
                deliveries.extend(_outside(kind, note, ctx.accounts[account_id], vals, sealed, now=now))
            if what == "person" and not accounts and kind.sms and whom in ctx.contact_phones:
                # No app: the text goes to the phone the person gave at a window (target: the person).
                deliveries.append(
                    DeliveryRow(
                        id=next_id(),
                        notification_id=note.id,
                        channel="sms",
                        target=whom,
                        lane=event.lane,
                        content={
                            "text": render.render(kind.sms, vals),
                            "params": render.sms_params(kind.sms, vals),
                            **({"sealed": sealed} if sealed else {}),
                        },
                        not_before=None,
                    )
                )
            deliveries.extend(
                DeliveryRow(
                    id=next_id(),
                    notification_id=note.id,
                    channel="webhook",
                    target=hook,
                    lane=event.lane,
                    content=None,
                    not_before=None,
                )
                for hook in hooks
            )
    return list(notes.values()), deliveries


def _sealed(kind: Kind, vals: dict[str, Any]) -> dict[str, str]:
    """The kind's private values as the event sealed them; ``vals`` shows a placeholder for each instead."""
    sealed = {name: vals[name] for name in kind.private if isinstance(vals.get(name), str)}
    vals.update({name: "{" + name + "}" for name in sealed})
    return sealed


def _outside(
    kind: Kind,
    note: NotificationRow,
    account: AccountInfo,
    vals: dict[str, Any],
    sealed: dict[str, str] | None,
    *,
    now: datetime,
) -> Iterator[DeliveryRow]:
    held = None if kind.urgent else service.quiet_until(now, account.quiet_from, account.quiet_to)
    extra = {"sealed": sealed} if sealed else {}
    if kind.wechat and account.openid and account.wechat and kind.wechat in account.templates:
        template = catalogue.WECHAT_TEMPLATES[kind.wechat]
        content = {
            "template": template.key,
            "page": f"{template.page}?id={note.id}",
            "data": render.wechat_data(template.fields, kind.wechat_values, vals),
            **extra,
        }
        yield DeliveryRow(
            id=next_id(),
            notification_id=note.id,
            channel="wechat",
            target=account.id,
            lane=note.lane,
            content=content,
            not_before=held,
        )
    if kind.sms and account.has_phone and account.sms:
        yield DeliveryRow(
            id=next_id(),
            notification_id=note.id,
            channel="sms",
            target=account.id,
            lane=note.lane,
            content={"text": render.render(kind.sms, vals), "params": render.sms_params(kind.sms, vals), **extra},
            not_before=held,
        )
