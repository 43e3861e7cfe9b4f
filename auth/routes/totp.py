"""Staff logins' second factor: binding an authenticator (TOTP), passing the factor, and the operator's reset.

A member of staff logs in as everyone does (SMS code, or WeChat); the answer says ``second_factor`` and
the tokens carry no staff roles yet. With a code from the authenticator bound to the account
(``POST /v1/auth/totp/verify``) the login is marked as having passed the second factor, and from then on
its tokens — refreshed ones too — carry the staff roles and ``amr`` ``otp``/``mfa``. The first time, the
member of staff binds an authenticator (``/enrol``: the secret shown once, as an ``otpauth://`` URI and
its QR code) and confirms it with a first code (``/verify``). A lost phone is an operator's reset, which
also ends every login of the account. Department systems (client credentials) are not concerned.
"""

from __future__ import annotations

import base64
from uuid import UUID

import segno
from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from api.deps import Config, Db, Keys, Now, Redis
from api.kernel import audit, ratelimit
from api.kernel.client_address import client_address
from api.kernel.problems import Forbidden, RateLimited, Unauthorized, ValidationFailed
from api.kernel.ratelimit import Limit
from auth import flows, totp
from auth.errors import (
    AccountNotFound,
    TotpAlreadyEnrolled,
    TotpCodeInvalid,
    TotpCodeReused,
    TotpNotEnrolled,
    problem_responses,
)
from auth.guards import BEARER, CurrentPrincipal
from auth.models import TokenPair, TotpCode, TotpEnrolment
from auth.store import accounts as store

SECRET_CONTEXT = "auth_totp.secret"
# Three codes are good at any moment: five tries in five minutes leave a guesser ~1 in 66,000.
VERIFY_ACCOUNT = Limit("totp_verify", 5, 300)
VERIFY_IP = Limit("totp_verify_ip", 60, 60)
ENROL_ACCOUNT = Limit("totp_enrol", 10, 3600)


class TotpController(Controller):
    path = "/v1/auth/totp"
    tags = ["auth"]
    security = BEARER

    @post(
        "/enrol",
        operation_id="TotpEnrol",
        status_code=201,
        summary="Bind an authenticator app to a member of staff's account (the secret is shown this once)",
        description="For staff whose login answered `second_factor: totp_enrol`. Answers a new secret, its "
        "`otpauth://` URI and the URI's QR code; it counts once `POST /v1/auth/totp/verify` confirms "
        "it with a first code. Enrolling again before that replaces the secret; after it, 409 "
        "`totp_already_enrolled` (an operator resets a lost authenticator). Not staff → 403.",
        responses=problem_responses(Unauthorized, Forbidden, TotpAlreadyEnrolled, RateLimited),
    )
    async def enrol(self, principal: CurrentPrincipal, db: Db, redis: Redis, keyring: Keys, now: Now) -> TotpEnrolment:
        account_id = principal.require_account()
        await ratelimit.hit(redis, f"account:{account_id}", ENROL_ACCOUNT)
        secret = totp.new_secret()
        async with db.acquire() as conn, conn.transaction():
            if await store.get_staff(conn, account_id) is None:
                raise Forbidden("only staff bind an authenticator")
            if not await store.put_totp(conn, account_id, keyring.encrypt(secret, context=SECRET_CONTEXT), now=now):
                raise TotpAlreadyEnrolled("an authenticator is bound already; an operator can reset it")
            await audit.append(
                conn, actor=principal.subject, action="auth.totp_enrol_started", subject=str(account_id), at=now
            )
        uri = totp.uri(secret, account_name=f"staff-{str(account_id)[-12:]}")
        svg = segno.make_qr(uri, error="m").svg_inline(scale=4)
        return TotpEnrolment(
            secret=secret,
            otpauth_uri=uri,
            qr_svg="data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(),
        )

    @post(
        "/verify",
        operation_id="TotpVerify",
        status_code=200,
        summary="Pass the second factor of this login with a code from the authenticator",
        description="Answers a new token pair of the same login whose access token carries the staff roles and "
        '`amr` `["sms"|"wechat", "otp", "mfa"]`; the login\'s later refreshes keep them. The '
        "first good code after `/enrol` confirms the authenticator. A code is good for its 30 seconds "
        "and one step either side, once: a code already used → 400 `totp_code_reused`, a wrong one → "
        "400 `totp_code_invalid` (both audited as `auth.totp_failed`). At most 5 tries in 5 minutes "
        "per account (429 `rate_limited`). No authenticator bound → 409 `totp_not_enrolled`.",
        responses=problem_responses(
            TotpCodeInvalid, TotpCodeReused, TotpNotEnrolled, ValidationFailed, Unauthorized, Forbidden, RateLimited
        ),
    )
    async def verify(
        self,
        data: JSONBody[TotpCode],
        principal: CurrentPrincipal,
        request: Request,
        state: State,
        db: Db,
        redis: Redis,
        keyring: Keys,
        settings: Config,
        now: Now,
    ) -> TokenPair:
        account_id = principal.require_account()
        if principal.session_id is None or principal.org_id is not None or principal.for_person_id is not None:
            raise Forbidden("send the access token of the login itself")
        address = client_address(request)
        await ratelimit.hit(redis, f"ip:{address}", VERIFY_IP)
        await ratelimit.hit(redis, f"account:{account_id}", VERIFY_ACCOUNT, detail="at most 5 codes in 5 minutes")
        keys = await state.signing_keys.for_signing(now=now)
        failure: TotpCodeInvalid | TotpCodeReused | None = None
        async with db.acquire() as conn, conn.transaction():
            found = await store.get_totp(conn, account_id, for_update=True)  # two tries of one code: one wins
            if found is None:
                raise TotpNotEnrolled("bind an authenticator first (POST /v1/auth/totp/enrol)")
            try:
                step = totp.accept(
                    keyring.decrypt_str(found["secret"], context=SECRET_CONTEXT),
                    data.code,
                    last_step=found["last_step"],
                    now=now,
                )
            except (TotpCodeInvalid, TotpCodeReused) as exc:
                failure = exc
            else:
                await store.use_totp(conn, account_id, step, now=now)
                if not await store.pass_second_factor(conn, principal.session_id, account_id, now=now):
                    raise Unauthorized("this login has ended")
                await audit.append(
                    conn,
                    actor=principal.subject,
                    action="auth.second_factor",
                    subject=str(account_id),
                    data={
                        "method": "totp",
                        "session": str(principal.session_id),
                        "enrolled": found["confirmed_at"] is None,
                    },
                    client_address=address,
                    at=now,
                )
                account = await store.get_account(conn, account_id)
                assert account is not None
                return await flows.pair(
                    conn,
                    keys,
                    account,
                    family_id=principal.session_id,
                    login_time=principal.auth_time,
                    issuer=settings.base_url,
                    now=now,
                )
        await audit.append_separately(
            db,
            actor=principal.subject,
            action="auth.totp_failed",
            subject=str(account_id),
            client_address=address,
            at=now,
            data={"reason": failure.slug},
        )
        raise failure


class TotpAdminController(Controller):
    path = "/v1/admin/accounts"
    tags = ["admin"]
    security = BEARER

    @post(
        "/{account_id:uuid}/totp/reset",
        operation_id="ResetStaffTotp",
        status_code=204,
        summary="Unbind a member of staff's authenticator (lost or replaced phone) and end their logins",
        description="Operators. The account binds a new authenticator at its next login (`second_factor: "
        "totp_enrol`). Every live login of the account ends at once, so whoever holds the old phone "
        "holds nothing. Audited as `admin.totp_reset`. An account without one → 422 `account_not_found`.",
        responses=problem_responses(Unauthorized, Forbidden, AccountNotFound),
    )
    async def reset(
        self, account_id: FromPath[UUID], principal: CurrentPrincipal, state: State, db: Db, now: Now
    ) -> None:
        principal.require_roles("operator")
        async with db.acquire() as conn, conn.transaction():
            if not await store.delete_totp(conn, account_id):
                raise AccountNotFound("no authenticator is bound to this account")
            ended = await store.revoke_logins(conn, account_id, reason="second_factor_reset", now=now)
            await audit.append(
                conn,
                actor=principal.subject,
                action="admin.totp_reset",
                subject=str(account_id),
                data={"logins_ended": ended},
                at=now,
            )
        state.revoked_logins.stale()


ROUTES = [TotpController, TotpAdminController]
