"""Real-person authentication routes: open a session, complete it, and the window clerk's attestation."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from api.deps import Config, Db, Keys, Now, Redis
from api.kernel import audit, authority, idempotency, ratelimit, responses
from api.kernel.authority import AuthorityRequired
from api.kernel.crypto import Keyring, mask_id_number, mask_name
from api.kernel.db import Conn
from api.kernel.identifiers import id_number_error, normalize_id_number
from api.kernel.ids import uuid7
from api.kernel.problems import BadRequest, FieldError, Forbidden, RateLimited, Unauthorized, ValidationFailed
from api.kernel.ratelimit import Limit
from api.openapi import IDEMPOTENT
from auth import realname
from auth.errors import (
    AssuranceRequired,
    IdNumberInvalid,
    RealnameFailed,
    RealnameIdNumberMismatch,
    RealnameMethodUnavailable,
    RealnamePersonMismatch,
    RealnameSessionClosed,
    RealnameSessionNotFound,
    WechatUnavailable,
    problem_responses,
)
from auth.guards import BEARER, CurrentPrincipal, Principal
from auth.store import accounts as store
from auth.store import admin as admin_store
from auth.store import realname as rs
from auth.wechat import WechatError, cert_hash

SESSION_TTL = timedelta(minutes=15)
OPEN_LIMIT = Limit("realname_open", 10, 3600)
COMPLETE_LIMIT = Limit("realname_complete", 30, 3600)


class OpenSession(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50, description="Name as on the ID card.")]
    id_number: Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="GB 11643 citizen ID number.")]
    method: Literal["wechat_face", "assertion", "counter"]


class SessionOpened(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    session_id: UUID
    method: str
    nonce: str
    expires_at: datetime
    verify_id: str | None = None


class CompleteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    assertion: Annotated[str, msgspec.Meta(max_length=16384)] | None = None


class AttestIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    session_id: UUID
    id_number: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=32,
            description=(
                "The ID number as the clerk reads it from the physical card in front of them (not from the session)."
            ),
        ),
    ]


class Attested(msgspec.Struct, frozen=True, kw_only=True):
    session_id: UUID
    assurance_level: str
    person_id: UUID
    name_masked: str
    id_number_masked: str


def _claimed(keyring: Keyring, session: rs.Session) -> tuple[str, str]:
    assert session.name is not None and session.id_number is not None
    return (
        keyring.decrypt_str(session.name, context=rs.SESSION_NAME),
        keyring.decrypt_str(session.id_number, context=rs.SESSION_ID_NUMBER),
    )


async def _open_session(
    conn: Conn,
    state: State,
    keyring: Keyring,
    account: store.Account,
    data: OpenSession,
    id_number: str,
    login_id: UUID | None,
    now: datetime,
) -> SessionOpened:
    index = keyring.blind_index(id_number, purpose="id_number")
    if account.person_id is not None and await rs.find_person_id(conn, index) != account.person_id:
        raise RealnamePersonMismatch("this account already proved another identity")
    session_id, verify_id, out_seq_no = uuid7(), None, None
    if data.method == "wechat_face":
        if not account.wechat_openid:
            raise RealnameMethodUnavailable("wechat_face needs an account logged in through the mini-program")
        out_seq_no = session_id.hex  # unique per session, 32 characters of [0-9a-f]
        try:
            verify_id = await state.wechat.get_verify_id(
                out_seq_no=out_seq_no, name=data.name, id_number=id_number, openid=account.wechat_openid
            )
        except WechatError as exc:
            raise WechatUnavailable(f"WeChat refused to open the face verification (errcode {exc.errcode})") from None
    session = rs.Session(
        id=session_id,
        account_id=account.id,
        method=data.method,
        nonce=secrets.token_urlsafe(24),
        name=keyring.encrypt(data.name, context=rs.SESSION_NAME),
        id_number=keyring.encrypt(id_number, context=rs.SESSION_ID_NUMBER),
        id_number_index=index,
        status="open",
        created_at=now,
        expires_at=now + SESSION_TTL,
        wechat_openid=account.wechat_openid if verify_id else None,
        verify_id=verify_id,
        out_seq_no=out_seq_no,
        login_id=login_id,
    )
    await rs.insert_session(conn, session)
    await audit.append(
        conn,
        actor=f"account:{account.id}",
        action="realname.started",
        subject=str(account.id),
        data={"session": str(session_id), "method": data.method},
        at=now,
    )
    return SessionOpened(
        session_id=session_id,
        method=data.method,
        nonce=session.nonce,
        expires_at=session.expires_at,
        verify_id=verify_id,
    )


async def _check_proof(
    state: State, conn: Conn, keyring: Keyring, session: rs.Session, data: CompleteIn, now: datetime
) -> int:
    """The level the presented proof establishes; raises :class:`RealnameFailed` with a reason."""
    name, id_number = _claimed(keyring, session)
    if session.method == "wechat_face":
        assert session.verify_id and session.out_seq_no and session.wechat_openid
        try:
            ret = await state.wechat.query_verify_info(
                verify_id=session.verify_id,
                out_seq_no=session.out_seq_no,
                cert_hash=cert_hash(name, id_number),
                openid=session.wechat_openid,
            )
        except WechatError as exc:
            raise RealnameFailed(
                "WeChat does not confirm this verification", reason="wechat_rejected", errcode=exc.errcode
            ) from None
        if ret is None:
            raise RealnameFailed("the face scan has not been done yet", reason="face_pending")
        if ret != realname.FACE_PASSED:
            raise RealnameFailed("the face did not match", reason="face_not_passed", verify_ret=ret)
        return 3
    if not data.assertion:
        raise ValidationFailed(errors=[FieldError(field="assertion", message="required for the assertion method")])
    provider = await admin_store.get_identity_provider_by_issuer(conn, realname.unverified_issuer(data.assertion))
    if provider is None:
        raise RealnameFailed("the assertion's issuer is not a registered identity provider", reason="issuer_unknown")
    claimed_nonce = realname.unverified_claim(data.assertion, "nonce")
    nonce_used = (
        isinstance(claimed_nonce, str) and claimed_nonce != session.nonce and await rs.nonce_used(conn, claimed_nonce)
    )
    return realname.verify_assertion(
        data.assertion,
        provider,
        audience=realname.audience_of(provider, state.settings.base_url),
        nonce=session.nonce,
        nonce_used=nonce_used,
        id_number=id_number,
        now=now,
    )


class RealnameController(Controller):
    path = "/v1/auth/realname/sessions"
    tags = ["realname"]
    security = BEARER

    @post(
        operation_id="OpenRealnameSession",
        opt=IDEMPOTENT,
        summary="Start proving who you are (实人认证)",
        description=(
            "`wechat_face`: the server opens a WeChat face verification (`getverifyid`) for the account's "
            "openid and returns `verify_id` for `wx.startFacialRecognitionVerify`. `assertion`: present a JWT "
            "from a registered identity provider carrying this `nonce`. `counter`: show the session at a "
            "service window; a clerk attests it. Sessions last 15 minutes. Accepts `Idempotency-Key`."
        ),
        responses=problem_responses(
            BadRequest,
            IdNumberInvalid,
            ValidationFailed,
            RealnameMethodUnavailable,
            Unauthorized,
            Forbidden,
            RealnamePersonMismatch,
            RateLimited,
            WechatUnavailable,
        ),
    )
    async def open(
        self,
        data: JSONBody[OpenSession],
        request: Request,
        principal: CurrentPrincipal,
        state: State,
        db: Db,
        redis: Redis,
        keyring: Keys,
        now: Now,
    ) -> Response[SessionOpened]:
        account_id = principal.require_account()
        name = data.name.strip()
        if not name or not name.isprintable():
            raise ValidationFailed(errors=[FieldError(field="name", message="must be the name as on the ID card")])
        error = id_number_error(data.id_number, today=now.date())
        if error:
            raise IdNumberInvalid(errors=[FieldError(field="id_number", message=error)])
        await ratelimit.hit(redis, f"account:{account_id}", OPEN_LIMIT)
        id_number = normalize_id_number(data.id_number)
        data = msgspec.structs.replace(data, name=name)
        async with db.acquire() as conn, conn.transaction():
            account = await store.get_account(conn, account_id)
            assert account is not None

            async def create() -> tuple[int, SessionOpened]:
                return 201, await _open_session(
                    conn, state, keyring, account, data, id_number, principal.session_id, now
                )

            made = await idempotency.run(request, conn, scope=f"realname:{account_id}", create=create)
            return responses.answer(made, SessionOpened)

    @post(
        "/{session_id:uuid}/complete",
        operation_id="CompleteRealnameSession",
        status_code=200,
        summary="Finish a real-name session; the server checks the proof itself",
        description=(
            "`wechat_face`: body `{}`; the server asks WeChat `queryverifyinfo` and accepts only `verify_ret` "
            "10000 (L3); before the scan it answers `realname_failed` with reason `face_pending` and the session "
            "stays open. `assertion`: body `{assertion}` (see the identity-provider registration). Any other "
            "failure closes the session: `realname_failed` with `reason` (`face_not_passed`, `wechat_rejected`, "
            "`malformed`, `issuer_unknown`, `signature`, `audience_missing`, `audience_mismatch`, "
            "`lifetime_unbounded` (no `iat` or `exp`), `lifetime_too_long` (`exp` more than 10 minutes after "
            "`iat`), `issued_in_future`, `expired`, `nonce_missing`, `nonce_used` (the nonce of a session already "
            "closed: a replay), `nonce_mismatch`, `subject_mismatch`, `acr_too_low`, `acr_not_allowed`). A used "
            "or expired session → `realname_session_closed`. "
            "On success refresh the tokens to carry the new `acr` and `auth_time`."
        ),
        responses=problem_responses(
            BadRequest,
            RealnameFailed,
            RealnameMethodUnavailable,
            Unauthorized,
            RealnameSessionNotFound,
            RealnameSessionClosed,
            RealnamePersonMismatch,
            RateLimited,
            WechatUnavailable,
        ),
    )
    async def complete(
        self,
        session_id: FromPath[UUID],
        principal: CurrentPrincipal,
        state: State,
        db: Db,
        redis: Redis,
        keyring: Keys,
        now: Now,
        data: JSONBody[CompleteIn | None] = None,
    ) -> rs.Verified:
        account_id = principal.require_account()
        await ratelimit.hit(redis, f"account:{account_id}", COMPLETE_LIMIT)
        async with db.acquire() as conn:
            session = await rs.get_session(conn, session_id)
            if session is None or session.account_id != account_id:
                raise RealnameSessionNotFound()
            if not session.is_open(now):
                raise RealnameSessionClosed()
            if session.method == "counter":
                raise RealnameMethodUnavailable("a counter session is completed by a clerk at the window")
            failure: RealnameFailed | None = None
            try:
                level = await _check_proof(state, conn, keyring, session, data or CompleteIn(), now)
            except RealnameFailed as exc:
                if exc.context.get("reason") == "face_pending":
                    raise
                failure = exc
            async with conn.transaction():
                session = await rs.get_session(conn, session_id, for_update=True)
                if session is None or not session.is_open(now):
                    raise RealnameSessionClosed()
                if failure is None:
                    return await rs.verify_session(
                        conn,
                        keyring,
                        session,
                        level=level,
                        actor=principal.subject,
                        login_id=principal.session_id,
                        base_url=state.settings.base_url,
                        now=now,
                    )
                await rs.fail_session(conn, session, reason=failure.context["reason"], actor=principal.subject, now=now)
            raise failure


# The clerk's own real-name proof (not their login) is this recent: a clerk's account left logged in
# at an unattended window cannot make anyone L3.
CLERK_PROOF_MAX_AGE = 900
# ID numbers keyed in that are not the session's before the session closes: a misread card is
# corrected at once; more looks like guessing.
MAX_ID_NUMBER_MISMATCHES = 3


async def _require_fresh_proof(conn: Conn, principal: Principal, now: datetime) -> None:
    """403 ``assurance_required`` unless the clerk proved their own identity at L3 within 15 minutes."""
    assert principal.account_id is not None
    clerk = await store.get_account(conn, principal.account_id)
    if (
        clerk is None
        or clerk.assurance_level < 3
        or clerk.verified_at is None
        or (now - clerk.verified_at).total_seconds() > CLERK_PROOF_MAX_AGE
    ):
        raise AssuranceRequired(
            f"the attesting clerk must have proven their own identity at L3 within {CLERK_PROOF_MAX_AGE}s",
            required_level="L3",
            max_age_seconds=CLERK_PROOF_MAX_AGE,
        )


async def _attest(
    conn: Conn,
    keyring: Keyring,
    principal: Principal,
    data: AttestIn,
    id_number: str,
    base_url: str,
    now: datetime,
) -> Attested | RealnameIdNumberMismatch:
    """The attestation, or the mismatch problem to raise once its count and audit entry are committed."""
    department_id = principal.require_staff("clerk")
    await authority.require(conn, department_id, authority.REALNAME_PROOFING, actor=principal.subject)
    await _require_fresh_proof(conn, principal, now)
    session = await rs.get_session(conn, data.session_id, for_update=True)
    if session is None or session.method != "counter":
        raise RealnameSessionNotFound()
    if session.account_id == principal.account_id:
        raise Forbidden("a clerk cannot attest their own identity")
    if not session.is_open(now):
        raise RealnameSessionClosed()
    if not hmac.compare_digest(keyring.blind_index(id_number, purpose="id_number"), session.id_number_index):
        count = await rs.count_id_number_mismatch(conn, session)
        tries_left = max(0, MAX_ID_NUMBER_MISMATCHES - count)
        await audit.append(
            conn,
            actor=principal.subject,
            action="realname.id_number_mismatch",
            subject=str(session.account_id),
            data={"session": str(session.id), "department": str(department_id), "mismatches": count},
            at=now,
        )
        if tries_left == 0:
            await rs.fail_session(conn, session, reason="id_number_mismatch", actor=principal.subject, now=now)
        return RealnameIdNumberMismatch(
            "the ID number keyed in is not the one the session claims"
            + ("; the session is closed" if not tries_left else ""),
            tries_left=tries_left,
        )
    name, claimed_id_number = _claimed(keyring, session)
    done = await rs.verify_session(
        conn,
        keyring,
        session,
        level=3,
        actor=principal.subject,
        now=now,
        attested_by=principal.account_id,
        department_id=department_id,
        login_id=session.login_id,
        base_url=base_url,
    )
    return Attested(
        session_id=session.id,
        assurance_level=done.assurance_level,
        person_id=done.person_id,
        name_masked=mask_name(name),
        id_number_masked=mask_id_number(claimed_id_number),
    )


@post(
    "/v1/dept/realname/attest",
    operation_id="AttestRealnameAtCounter",
    status_code=200,
    tags=["realname"],
    security=BEARER,
    summary="A window clerk confirms a counter session: they saw the person and the physical ID card (L3)",
    description=(
        "Staff role `clerk` of a department with the power `realname_proofing` (403 `authority_required` naming "
        "the power otherwise), whose own real-name proof at L3 (not their login) is at most 15 minutes old "
        "(403 `assurance_required` with `required_level` and `max_age_seconds` otherwise: prove again by face or "
        "by a colleague's attestation). The clerk keys in `id_number` as read from the physical card; it is "
        "compared with the session's by blind index. A mismatch answers 422 `realname_id_number_mismatch` with "
        "`tries_left` and is audited; the session stays open for the correction, and the third mismatch closes "
        "it (`realname_failed`, reason `id_number_mismatch`): the person opens a new session. A clerk cannot "
        "attest their own session (403). Answers the masked identity so the clerk can compare it with the card. "
        'The person is told of the new binding (inbox, SMS, WeChat) with a one-tap "not me".'
    ),
    responses=problem_responses(
        BadRequest,
        ValidationFailed,
        IdNumberInvalid,
        Unauthorized,
        Forbidden,
        AuthorityRequired,
        AssuranceRequired,
        RealnameSessionNotFound,
        RealnameSessionClosed,
        RealnamePersonMismatch,
        RealnameIdNumberMismatch,
    ),
)
async def attest(
    data: JSONBody[AttestIn], principal: CurrentPrincipal, db: Db, keyring: Keys, settings: Config, now: Now
) -> Attested:
    error = id_number_error(data.id_number, today=now.date())
    if error:
        raise IdNumberInvalid(errors=[FieldError(field="id_number", message=error)])
    id_number = normalize_id_number(data.id_number)
    async with db.acquire() as conn, conn.transaction():
        result = await _attest(conn, keyring, principal, data, id_number, settings.base_url, now)
    if isinstance(result, RealnameIdNumberMismatch):
        raise result  # after the commit: the mismatch stays counted and audited
    return result


ROUTES = [RealnameController, attest]
