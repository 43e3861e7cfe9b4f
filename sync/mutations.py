"""Mutation names → the service functions the HTTP routes call (no rule is implemented twice).

Each handler runs inside the mutation's transaction (a savepoint of it) and returns an
:class:`Effect`; any :class:`~api.kernel.problems.Problem` it raises becomes a ``rejected`` result with the
problem's slug as ``code``. Guards are the routes' own: ``require_applicant`` asks for an account, L2 and
a person, and acting for a dependent asks for a recent L3, exactly as ``POST /v1/applications``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

import msgspec

import auth
import matters
import notify
import wallet
from api.config import Settings
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from api.kernel.problems import FieldError, ValidationFailed
from auth import Principal
from matters import (
    FOR_OTHERS_LEVEL,
    FOR_OTHERS_MAX_AGE,
    Calendar,
    EvaluationIn,
    SubmitApplication,
    SupplementIn,
    require_applicant,
)
from sync import drafts
from sync.errors import MutationUnknown, ServerOwned
from sync.models import ApplicationRef, ConsentRef, DraftDeleteArgs, DraftSaveArgs, MutationIn, SubmitRefs
from wallet import ConsentIn, IdentityRequired

T = TypeVar("T")


@dataclass
class Context:
    principal: Principal
    keyring: Keyring
    settings: Settings
    now: datetime
    _calendar: Calendar | None = field(default=None, repr=False)

    async def calendar(self, conn: Conn) -> Calendar:
        # Read once per push: a batch of a hundred mutations should not read the holidays a hundred times.
        if self._calendar is None:
            self._calendar = await matters.load_calendar(conn)
        return self._calendar


@dataclass(frozen=True)
class Effect:
    status: Literal["applied", "conflict"]
    version: int | None = None
    data: Any = None  # JSON values, as stored in the ledger
    draft: bool = False  # data is a stored draft: its form is sealed until answered


Handler = Callable[[Conn, Context, MutationIn], Awaitable[Effect]]


def _args(m: MutationIn, type_: type[T], *, extra: dict[str, Any] | None = None) -> T:
    """The mutation's args as ``type_``; 422-style ``validation_failed`` naming the field otherwise."""
    try:
        return msgspec.convert({**m.args, **(extra or {})}, type_)
    except msgspec.ValidationError as exc:
        text, _, path = str(exc).rpartition(" - at `$")
        key = path.rstrip("`").lstrip(".") if text else ""
        raise ValidationFailed(errors=[FieldError(f"args.{key}" if key else "args", text or str(exc))]) from None


def _person(ctx: Context) -> tuple[Any, Any]:
    account_id = ctx.principal.require_account()
    if ctx.principal.person_id is None:
        raise IdentityRequired("drafts belong to a verified person")
    return account_id, ctx.principal.person_id


async def _within_authorisation(
    conn: Conn, ctx: Context, action: str, codes: list[str] | None, *, application_id: UUID | None = None
) -> None:
    """A 经办人's mutation must be within their authorisation, as the HTTP routes check it: the use is logged when
    served; a refusal rejects the mutation with the problem's code (its transaction rolls back whole, the log row
    with it; the push's ledger keeps the rejected mutation and its code)."""
    p = ctx.principal
    if p.org_role != "agent" or p.delegation_id is None or p.person_id is None or p.actor_person_id is None:
        return
    number = await auth.get_id_number(conn, ctx.keyring, p.actor_person_id)
    refusal = await auth.use(
        conn,
        ctx.keyring,
        p.delegation_id,
        principal_kind="organisation",
        principal_id=p.person_id,
        agent_id_number=number or "",
        action=action,
        matter_codes=codes,
        department_id=None,
        actor=p.subject,
        application_id=application_id,
        now=ctx.now,
    )
    if refusal is not None:
        raise refusal


async def draft_save(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    account_id, person_id = _person(ctx)
    args = _args(m, DraftSaveArgs)
    # A draft is the start of an application: a 经办人 keeps only drafts they may submit.
    await _within_authorisation(conn, ctx, "apply", [args.bundle_code or args.matter_code or ""])
    out = await drafts.save(
        conn,
        ctx.keyring,
        account_id=account_id,
        person_id=person_id,
        args=args,
        base_version=m.base_version,
        now=ctx.now,
    )
    return Effect(out.status, out.version, out.data, draft=out.data is not None)


async def draft_delete(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    _, person_id = _person(ctx)
    args = _args(m, DraftDeleteArgs)
    out = await drafts.delete(
        conn, person_id=person_id, draft_id=args.draft_id, base_version=m.base_version, now=ctx.now
    )
    return Effect(out.status, out.version, out.data, draft=out.data is not None)


async def application_submit(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    who = require_applicant(ctx.principal, ctx.now)
    refs = _args(_only(m, "application_id", "draft_id"), SubmitRefs)
    if "id" in m.args:
        raise ValidationFailed(errors=[FieldError("args.id", "name the application with application_id")])
    data = _args(_without(m, "application_id", "draft_id"), SubmitApplication, extra={"id": str(refs.application_id)})
    if data.for_person_id not in (None, who.person_id):
        ctx.principal.require_assurance(FOR_OTHERS_LEVEL, now=ctx.now, max_age_seconds=FOR_OTHERS_MAX_AGE)
    await _within_authorisation(
        conn, ctx, "apply", [data.bundle_code or data.matter_code or ""], application_id=refs.application_id
    )
    app, _ = await matters.submit(conn, ctx.keyring, who, data, now=ctx.now, cal=await ctx.calendar(conn))
    if refs.draft_id is not None:
        await drafts.discard_submitted(conn, person_id=who.person_id, draft_id=refs.draft_id, now=ctx.now)
    return Effect("applied", data=msgspec.to_builtins(app))


async def application_withdraw(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    who = require_applicant(ctx.principal, ctx.now)
    ref = _args(m, ApplicationRef)
    app = await matters.withdraw(conn, ctx.keyring, who, ref.application_id, now=ctx.now)
    return Effect("applied", data=msgspec.to_builtins(app))


async def application_supplement(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    who = require_applicant(ctx.principal, ctx.now)
    ref = _args(_only(m, "application_id"), ApplicationRef)
    data = _args(_without(m, "application_id"), SupplementIn)
    await _within_authorisation(conn, ctx, "supplement", None, application_id=ref.application_id)
    app = await matters.supplement(
        conn, ctx.keyring, who, ref.application_id, data.materials, now=ctx.now, cal=await ctx.calendar(conn)
    )
    return Effect("applied", data=msgspec.to_builtins(app))


async def evaluation_submit(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    who = require_applicant(ctx.principal, ctx.now)
    ref = _args(_only(m, "application_id"), ApplicationRef)
    data = _args(_without(m, "application_id"), EvaluationIn)
    evaluation = await matters.evaluate(
        conn,
        ctx.keyring,
        account_id=ctx.principal.require_account(),
        person_id=who.person_id,
        application_id=ref.application_id,
        data=data,
        now=ctx.now,
        cal=await ctx.calendar(conn),
        rectification_days=ctx.settings.rectification_days,
    )
    return Effect("applied", data=msgspec.to_builtins(evaluation))


def _only(m: MutationIn, *keys: str) -> MutationIn:
    return MutationIn(id=m.id, seq=m.seq, name=m.name, args={k: v for k, v in m.args.items() if k in keys})


def _without(m: MutationIn, *keys: str) -> MutationIn:
    return MutationIn(id=m.id, seq=m.seq, name=m.name, args={k: v for k, v in m.args.items() if k not in keys})


async def consent_grant(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    # The wallet's own guard: holder or guardian, L3 proven recently (a queued grant may find it stale); consents
    # are the holder's own acts, or the entity's 法定代表人's, never a 经办人's.
    ctx.principal.require_own_person()
    consent = await wallet.grant(conn, ctx.keyring, ctx.principal, _args(m, ConsentIn), now=ctx.now)
    return Effect("applied", data=msgspec.to_builtins(consent))


async def consent_revoke(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    ctx.principal.require_own_person()
    ref = _args(m, ConsentRef)
    consent = await wallet.revoke(conn, ctx.keyring, ctx.principal, ref.consent_id, now=ctx.now)
    return Effect("applied", data=msgspec.to_builtins(consent))


class NotificationRef(msgspec.Struct, forbid_unknown_fields=True):
    notification_id: UUID


async def notification_read(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    account_id = ctx.principal.require_account()
    ref = _args(m, NotificationRef)
    view, _ = await notify.read(conn, ctx.principal.person_id, account_id, ref.notification_id, now=ctx.now)
    return Effect("applied", data=msgspec.to_builtins(view))


class ReadAllArgs(msgspec.Struct, forbid_unknown_fields=True):
    up_to: UUID | None = None


async def notification_read_all(conn: Conn, ctx: Context, m: MutationIn) -> Effect:
    account_id = ctx.principal.require_account()
    args = _args(m, ReadAllArgs)
    marked, _ = await notify.read_all(conn, ctx.principal.person_id, account_id, up_to=args.up_to, now=ctx.now)
    return Effect("applied", data={"marked": marked})


HANDLERS: dict[str, Handler] = {
    "draft.save": draft_save,
    "draft.delete": draft_delete,
    "application.submit": application_submit,
    "application.withdraw": application_withdraw,
    "application.supplement": application_supplement,
    "evaluation.submit": evaluation_submit,
    "consent.grant": consent_grant,
    "consent.revoke": consent_revoke,
    "notification.read": notification_read,
    "notification.read_all": notification_read_all,
}

# Issued certificates and department records belong to the departments that issued them.
SERVER_OWNED = ("wallet_item.", "certificate.", "record.")


def handler_for(name: str) -> Handler:
    if name in HANDLERS:
        return HANDLERS[name]
    if name.startswith(SERVER_OWNED):
        raise ServerOwned(name=name)
    raise MutationUnknown(name=name)
