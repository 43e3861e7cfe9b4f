"""Citizen logins (WeChat mini-program, SMS), phone binding, refresh and logout."""

from __future__ import annotations

import re

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.deps import Config, Db, Keys, Now, Redis
from api.kernel import audit, ratelimit
from api.kernel.client_address import client_address
from api.kernel.crypto import mask_phone
from api.kernel.problems import BadRequest, Problem, RateLimited, Unauthorized, ValidationFailed
from api.kernel.ratelimit import Limit
from auth import flows as service
from auth import sms
from auth.errors import (
    PhoneInUse,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SmsCodeInvalid,
    SmsUnavailable,
    WechatCodeInvalid,
    WechatUnavailable,
    WechatUserBlocked,
    problem_responses,
)
from auth.guards import BEARER, CurrentPrincipal, MaybePrincipal
from auth.models import LogoutIn, PhoneBound, RefreshIn, SmsLogin, SmsSend, TokenPair, WechatCode
from auth.store import accounts as store
from auth.wechat import WechatError

LOGIN_IP = Limit("login_ip", 60, 60)
REFRESH_IP = Limit("refresh_ip", 120, 60)
SMS_SEND_IP = Limit("sms_send_ip", 30, 3600)
SMS_SEND_PHONE = (Limit("sms_send_minute", 1, 60), Limit("sms_send_day", 10, 86400))
PHONE_BIND = Limit("phone_bind", 10, 3600)
MAINLAND = re.compile(r"^1[3-9][0-9]{9}$")
SESSION_KEY_CONTEXT = "auth_account.wechat_session_key"
PHONE_CONTEXT = "auth_account.phone"


def _wechat_problem(exc: WechatError) -> Problem:
    if exc.errcode == 40226:
        return WechatUserBlocked()
    if exc.errcode in (40029, 40163):
        return WechatCodeInvalid()
    # Anything else (wrong appid/secret, malformed call) is our side; the client can only retry later.
    return WechatUnavailable(f"WeChat refused the call (errcode {exc.errcode})")


class WechatController(Controller):
    path = "/v1/auth/wechat"
    tags = ["auth"]

    @post(
        "/login",
        operation_id="WechatLogin",
        status_code=200,
        summary="Log in with a wx.login code (mini-program)",
        description=(
            "Exchanges the code at WeChat (`jscode2session`); the account is found by openid (or unionid) and "
            "made on first login. The WeChat session_key is kept encrypted and never returned. WeChat errors: "
            "40029/40163 → `wechat_code_invalid`, 40226 → `wechat_user_blocked`, busy/quota/timeouts are "
            "retried, then `wechat_unavailable`. At most 60 logins a minute per client address."
        ),
        responses=problem_responses(
            WechatCodeInvalid, BadRequest, ValidationFailed, WechatUserBlocked, RateLimited, WechatUnavailable
        ),
    )
    async def login(
        self,
        data: JSONBody[WechatCode],
        request: Request,
        state: State,
        db: Db,
        redis: Redis,
        keyring: Keys,
        settings: Config,
        now: Now,
    ) -> TokenPair:
        address = client_address(request)
        await ratelimit.hit(redis, f"ip:{address}", LOGIN_IP)
        try:
            session = await state.wechat.code2session(data.code)
        except WechatError as exc:
            problem = _wechat_problem(exc)
            await audit.append_separately(
                db,
                actor="anonymous",
                action="auth.login_failed",
                client_address=address,
                at=now,
                data={"method": "wechat", "reason": problem.slug, "errcode": exc.errcode},
            )
            raise problem from None
        keys = await state.signing_keys.for_signing(now=now)
        sealed_key = keyring.encrypt(session.session_key, context=SESSION_KEY_CONTEXT)
        async with db.acquire() as conn, conn.transaction():
            account, created = await store.login_wechat(
                conn, openid=session.openid, unionid=session.unionid, session_key=sealed_key, now=now
            )
            return await service.start_session(
                conn,
                keys,
                keyring,
                account,
                method="wechat",
                created=created,
                issuer=settings.base_url,
                client_address=address,
                now=now,
            )

    @post(
        "/phone",
        operation_id="WechatBindPhone",
        status_code=200,
        security=BEARER,
        summary="Bind the phone number from a getPhoneNumber code to the logged-in account",
        description=(
            "The server asks WeChat (`getuserphonenumber`) and accepts the number only when the watermark "
            "names our appid. Only mainland numbers are accepted. The number is stored encrypted and "
            "answered masked. A number already bound to another account → `phone_in_use`."
        ),
        responses=problem_responses(
            WechatCodeInvalid, BadRequest, Unauthorized, PhoneInUse, ValidationFailed, RateLimited, WechatUnavailable
        ),
    )
    async def bind_phone(
        self,
        data: JSONBody[WechatCode],
        principal: CurrentPrincipal,
        state: State,
        db: Db,
        redis: Redis,
        keyring: Keys,
        settings: Config,
        now: Now,
    ) -> PhoneBound:
        account_id = principal.require_account()
        await ratelimit.hit(redis, f"account:{account_id}", PHONE_BIND)
        try:
            info = await state.wechat.phone_number(data.code)
        except WechatError as exc:
            raise _wechat_problem(exc) from None
        if (info.get("watermark") or {}).get("appid") != settings.wechat_appid:
            raise WechatCodeInvalid("the phone code was issued to another mini-program")
        phone = str(info.get("purePhoneNumber") or "")
        if str(info.get("countryCode")) != "86" or not MAINLAND.match(phone):
            raise ValidationFailed("only mainland mobile numbers can be bound")
        async with db.acquire() as conn, conn.transaction():
            await store.set_phone(
                conn,
                account_id,
                phone=keyring.encrypt(phone, context=PHONE_CONTEXT),
                phone_index=sms.phone_index(keyring, phone),
            )
            await audit.append(
                conn,
                actor=principal.subject,
                action="auth.phone_bound",
                subject=str(account_id),
                data={"phone": mask_phone(phone), "via": "wechat"},
                at=now,
            )
        return PhoneBound(phone_masked=mask_phone(phone))


class SmsController(Controller):
    path = "/v1/auth/sms"
    tags = ["auth"]

    @post(
        "/send",
        operation_id="SmsSendCode",
        status_code=202,
        summary="Send a 6-digit login code by SMS",
        description=(
            "The code is valid for 5 minutes; 5 wrong tries burn it. At most 1 code a minute and 10 a day per "
            "phone, 30 an hour per client address (429 `rate_limited` with `Retry-After`). A new code replaces "
            "the previous one."
        ),
        responses=problem_responses(BadRequest, ValidationFailed, RateLimited, SmsUnavailable),
    )
    async def send(self, data: JSONBody[SmsSend], request: Request, state: State, redis: Redis, keyring: Keys) -> None:
        await ratelimit.hit(redis, f"ip:{client_address(request)}", SMS_SEND_IP)
        index = sms.phone_index(keyring, data.phone).hex()
        await ratelimit.hit(redis, f"phone:{index}", *SMS_SEND_PHONE, detail="at most 1 code a minute, 10 a day")
        code = await sms.issue_code(redis, keyring, data.phone)
        await state.sms.send(data.phone, sms.login_text(code), about=sms.LOGIN_CODE, params={"code": code})

    @post(
        "/login",
        operation_id="SmsLogin",
        status_code=200,
        summary="Log in with the phone number and the SMS code",
        description=(
            "A wrong code answers `sms_code_invalid` with `tries_left`; after 5 wrong tries, or after 5 "
            "minutes, a new code must be requested. The account is made on first login (assurance L1)."
        ),
        responses=problem_responses(SmsCodeInvalid, ValidationFailed, RateLimited),
    )
    async def login(
        self,
        data: JSONBody[SmsLogin],
        request: Request,
        state: State,
        db: Db,
        redis: Redis,
        keyring: Keys,
        settings: Config,
        now: Now,
    ) -> TokenPair:
        address = client_address(request)
        await ratelimit.hit(redis, f"ip:{address}", LOGIN_IP)
        try:
            await sms.check_code(redis, keyring, data.phone, data.code)
        except SmsCodeInvalid as exc:
            await audit.append_separately(
                db,
                actor="anonymous",
                action="auth.login_failed",
                subject=f"phone:{sms.phone_index(keyring, data.phone).hex()}",
                client_address=address,
                at=now,
                data={"method": "sms", "reason": exc.slug, "phone": mask_phone(data.phone), **exc.context},
            )
            raise
        keys = await state.signing_keys.for_signing(now=now)
        async with db.acquire() as conn, conn.transaction():
            account, created = await store.login_phone(
                conn,
                phone=keyring.encrypt(data.phone, context=PHONE_CONTEXT),
                phone_index=sms.phone_index(keyring, data.phone),
                now=now,
            )
            return await service.start_session(
                conn,
                keys,
                keyring,
                account,
                method="sms",
                created=created,
                issuer=settings.base_url,
                client_address=address,
                now=now,
            )


class SessionController(Controller):
    path = "/v1/auth"
    tags = ["auth"]

    @post(
        "/refresh",
        operation_id="RefreshTokens",
        status_code=200,
        summary="Trade a refresh token for a new token pair (the old refresh token is spent)",
        description=(
            "Refresh tokens live 30 days and rotate on every use. Presenting a spent one again answers 401 "
            "`refresh_token_reused` and revokes every token of that login (another party holds a copy). "
            "Roles and assurance proven since the last refresh appear in the new access token."
        ),
        responses=problem_responses(BadRequest, RefreshTokenInvalid, RefreshTokenReused, ValidationFailed, RateLimited),
    )
    async def refresh(
        self,
        data: JSONBody[RefreshIn],
        request: Request,
        state: State,
        db: Db,
        redis: Redis,
        settings: Config,
        now: Now,
    ) -> TokenPair:
        address = client_address(request)
        await ratelimit.hit(redis, f"ip:{address}", REFRESH_IP)
        keys = await state.signing_keys.for_signing(now=now)
        reused: RefreshTokenReused | None = None
        async with db.acquire() as conn, conn.transaction():
            try:
                pair = await service.refresh(
                    conn, keys, data.refresh_token, issuer=settings.base_url, client_address=address, now=now
                )
            except RefreshTokenReused as exc:
                reused = exc  # the revocation must commit before the client hears about it
        if reused is not None:
            state.revoked_logins.stale()  # this process refuses the login's access tokens at once
            raise reused
        return pair

    @post(
        "/logout",
        operation_id="Logout",
        status_code=204,
        summary="Revoke the refresh family of this login",
        description=(
            "Revokes the login named by the body's `refresh_token`, or else by the bearer access token. "
            "Its access tokens are refused from then on: at once by the server process that answered, within "
            "two seconds by the others."
        ),
        responses=problem_responses(BadRequest, Unauthorized),
    )
    async def logout(
        self, maybe_principal: MaybePrincipal, state: State, db: Db, now: Now, data: JSONBody[LogoutIn | None] = None
    ) -> None:
        token = data.refresh_token if data else None
        if maybe_principal is None and not token:
            raise Unauthorized("send the refresh token or a bearer access token")
        async with db.acquire() as conn, conn.transaction():
            await service.logout(
                conn,
                account_id=maybe_principal.account_id if maybe_principal else None,
                session_id=maybe_principal.session_id if maybe_principal else None,
                refresh_token=token,
                now=now,
            )
        state.revoked_logins.stale()


ROUTES = [WechatController, SmsController, SessionController]
