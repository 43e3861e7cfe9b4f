""" "Not me": the person ends a login bound to their identity, from the app or from the link in a text.

``POST /v1/auth/logins/{id}/not-me`` is for the person, from another of their logins (the inbox
item of ``auth.identity_login`` carries the ``login_id``). ``/not-me/{token}`` is the one-tap link
of the SMS, for a phone with no login: ``GET`` only shows what happened and a button (link
previewers fetch URLs from texts, so looking changes nothing); the button's ``POST`` acts.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html import escape
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath

from api.deps import Db, Now, Redis
from api.kernel import ratelimit
from api.kernel.client_address import client_address
from api.kernel.problems import Forbidden, RateLimited, Unauthorized
from api.kernel.ratelimit import Limit
from auth import alerts
from auth.errors import LoginNotFound, NotMeOwnLogin, problem_responses
from auth.guards import BEARER, CurrentPrincipal
from auth.store import accounts as store

NOT_ME_IP = Limit("not_me_ip", 30, 3600)
CHINA = timezone(timedelta(hours=8))
METHODS = {
    "sms": "短信验证码登录",
    "wechat": "微信登录",
    "counter": "窗口实名核验",
    "wechat_face": "微信人脸核验",
    "assertion": "身份认证机构核验",
}


@post(
    "/v1/auth/logins/{login_id:uuid}/not-me",
    operation_id="ReportLoginNotMe",
    status_code=200,
    tags=["auth"],
    security=BEARER,
    summary='"Not me": end a login bound to your identity that you did not make',
    description=(
        "For the person (any account bound to them), about a login their `auth.identity_login` notification "
        "names (`data.login_id`). The login ends at once (its tokens are refused); when the binding was a "
        "real-name proof made from another account, that account's logins all end and it loses the identity "
        "(back to L1). An identity case opens for the operators. Answered again for the same notification, "
        "the same case. The login you are using cannot be reported (409 `not_me_own_login`: log out instead); "
        "a login that never concerned your identity → 404 `login_not_found`."
    ),
    responses=problem_responses(Unauthorized, Forbidden, LoginNotFound, NotMeOwnLogin),
)
async def report_not_me(
    login_id: FromPath[UUID], request: Request, principal: CurrentPrincipal, state: State, db: Db, now: Now
) -> alerts.Reported:
    account_id = principal.require_account()
    if login_id == principal.session_id:
        raise NotMeOwnLogin("this is the login you are using: log out instead")
    async with db.acquire() as conn, conn.transaction():
        account = await store.get_account(conn, account_id)
        alert = None
        if account is not None and account.person_id is not None:
            alert = await alerts.get_latest_alert_for_login(conn, login_id, account.person_id)
        if alert is None:
            raise LoginNotFound()
        result = await alerts.report(
            conn,
            alert,
            via="app",
            reported_by=account_id,
            actor=principal.subject,
            client_address=client_address(request),
            now=now,
        )
    state.revoked_logins.stale()  # this process refuses the login's access tokens at once
    return result


def _page(title: str, body: str) -> Response[str]:
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>body{{font-family:sans-serif;max-width:480px;margin:0 auto;"
        "padding:16px;line-height:1.6}button{font-size:18px;padding:12px 20px;background:#c62828;color:#fff;"
        f"border:0;border-radius:8px}}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        },
    )


GONE = ("链接已失效", "<p>此链接已使用或已过期。如仍有疑问，请登录掌办查看或联系客服。</p>")


def _when(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M")


@get(
    "/not-me/{token:str}",
    operation_id="NotMePage",
    tags=["auth"],
    summary='The one-tap "not me" page of an identity-login text (zh-CN HTML, no login)',
    description=(
        "Shows when and how a login was bound to the person's identity and a button that `POST`s to the same "
        "address; looking changes nothing. Always 200: a used, expired or unknown token says the link is no "
        "longer valid. Tokens are single-use and last 7 days."
    ),
    media_type="text/html",
    responses=problem_responses(RateLimited),
)
async def not_me_page(token: FromPath[str], request: Request, db: Db, redis: Redis, now: Now) -> Response[str]:
    await ratelimit.hit(redis, f"ip:{client_address(request)}", NOT_ME_IP)
    async with db.acquire() as conn:
        alert = await alerts.get_alert_by_token(conn, token)
    if alert is None or not alert.usable(now):
        return _page(*GONE)
    what = METHODS.get(alert.method, "其他方式")
    return _page(
        "这是您本人的操作吗？",
        (
            f"<p>您的实名身份于 {escape(_when(alert.created_at))} 通过{escape(what)}用于一次登录。</p>"
            "<p>如果不是您本人，请点击下方按钮：该登录会立即结束，工作人员会尽快核查。</p>"
            '<form method="post"><button type="submit">不是我，结束这次登录</button></form>'
        ),
    )


@post(
    "/not-me/{token:str}",
    operation_id="NotMeConfirm",
    status_code=200,
    tags=["auth"],
    summary='The "not me" page\'s button: end the login the text was about (no login)',
    description=(
        "Does what `ReportLoginNotMe` does for the login the token names, once: the token is spent. Answers a "
        "zh-CN HTML page, 200 either way (a used, expired or unknown token says the link is no longer valid)."
    ),
    media_type="text/html",
    responses=problem_responses(RateLimited),
)
async def not_me_confirm(
    token: FromPath[str], request: Request, state: State, db: Db, redis: Redis, now: Now
) -> Response[str]:
    address = client_address(request)
    await ratelimit.hit(redis, f"ip:{address}", NOT_ME_IP)
    async with db.acquire() as conn, conn.transaction():
        alert = await alerts.get_alert_by_token(conn, token, for_update=True)
        if alert is None or not alert.usable(now):
            return _page(*GONE)
        result = await alerts.report(
            conn, alert, via="link", reported_by=None, actor="anonymous", client_address=address, now=now
        )
    state.revoked_logins.stale()
    return _page(
        "已结束这次登录",
        (f"<p>该登录已结束，工作人员会尽快核查并与您联系。</p><p>核查工单号：{escape(str(result.case_id))}</p>"),
    )


ROUTES = [report_not_me, not_me_page, not_me_confirm]
