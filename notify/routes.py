"""Citizen-facing notification routes (inbox, live stream, WeChat grants, preferences) and the
operators' view of one notification and of the dead letters."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent

from api.deps import Db, Now, Redis
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, CursorInvalid, Limit, decode_cursor, encode_cursor
from api.kernel.problems import BadRequest, Forbidden, Unauthorized, ValidationFailed
from auth import BEARER, CurrentPrincipal, MaybePrincipal, problem_responses
from notify import catalogue, dead_letters, inbox, live, store, streams
from notify.errors import DeadLetterNotFound, NotificationNotFound, WechatNotBound, WechatTemplateUnknown
from notify.models import (
    AdminNotification,
    DeadLetterPage,
    DeadLetterRetried,
    Grant,
    GrantIn,
    GrantPage,
    Notification,
    NotificationPage,
    Preferences,
    PreferencesIn,
    ReadAllIn,
    ReadAllOut,
    StreamTicketOut,
    UnreadCount,
)
from notify.socket import DESCRIPTION as SOCKET_DESCRIPTION
from notify.socket import PATH as SOCKET_PATH

Unread = Annotated[bool, QueryParameter(description="Only items not yet read.")]
LastEventId = Annotated[
    str | None, HeaderParameter(name="last-event-id", description="Resume after this notification id.")
]
ResumeAfter = Annotated[
    str | None,
    QueryParameter(
        name="last_event_id",
        max_length=64,
        description=(
            "`Last-Event-ID` as a parameter, for a new `EventSource` (made with a new ticket) resuming an old one's stream."
        ),
    ),
]
StreamTicket = Annotated[
    str | None,
    QueryParameter(
        max_length=64,
        description="A ticket from `POST /v1/notifications/stream-tickets`, "
        "for callers that cannot send an Authorization header.",
    ),
]


class InboxController(Controller):
    path = "/v1/notifications"
    tags = ["notifications"]
    security = BEARER

    @get(
        operation_id="ListNotifications",
        summary="My inbox, newest first",
        description="The caller's person's inbox (every account of the person sees it) and the account's own items. "
        "Items are also mirrored to devices through the change log as entity `notification`.",
        responses=problem_responses(CursorInvalid, Unauthorized, Forbidden),
    )
    async def list_notifications(
        self,
        principal: CurrentPrincipal,
        db: Db,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        unread: Unread = False,
    ) -> NotificationPage:
        account_id = principal.require_account()
        before = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            items = await store.list_inbox(
                conn, principal.person_id, account_id, before=before, unread=unread, limit=limit
            )
        return NotificationPage(
            items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None
        )

    @post(
        "/{notification_id:uuid}/read",
        operation_id="MarkNotificationRead",
        status_code=200,
        summary="Mark an item read (once; repeating it changes nothing)",
        responses=problem_responses(NotificationNotFound, Unauthorized, Forbidden),
    )
    async def read(
        self, notification_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, redis: Redis, now: Now
    ) -> Notification:
        account_id = principal.require_account()
        async with db.acquire() as conn, conn.transaction():
            view, version = await inbox.read(conn, principal.person_id, account_id, notification_id, now=now)
        if version is not None and principal.person_id is not None:
            await live.poke_sync(redis, principal.person_id, version)
        return view

    @get(
        "/unread-count",
        operation_id="CountUnreadNotifications",
        summary="How many inbox items are not yet read",
        description="`{unread}`: the items `GET /v1/notifications?unread=true` would list, counted (for a badge).",
        responses=problem_responses(Unauthorized, Forbidden),
    )
    async def unread_count(self, principal: CurrentPrincipal, db: Db) -> UnreadCount:
        account_id = principal.require_account()
        async with db.acquire() as conn:
            return UnreadCount(unread=await store.count_unread(conn, principal.person_id, account_id))

    @post(
        "/read-all",
        operation_id="MarkAllNotificationsRead",
        status_code=200,
        summary="Mark every inbox item read",
        description="Marks every unread item of the caller read, or only those up to `up_to` (an item id: the newest "
        "the device has shown, so items that arrived meanwhile stay unread); the body may be empty. "
        "`{marked}` counts the items this call changed; repeating it marks nothing more. Each item goes "
        "through the change log (entity `notification`, with its `read_at`), so the person's other "
        "devices see it on their next pull, and they get a `sync` event on the live stream. Offline, "
        "the sync mutation `notification.read_all {up_to?}` does the same.",
        responses=problem_responses(BadRequest, ValidationFailed, Unauthorized, Forbidden),
    )
    async def read_all(
        self, principal: CurrentPrincipal, db: Db, redis: Redis, now: Now, data: JSONBody[ReadAllIn | None] = None
    ) -> ReadAllOut:
        account_id = principal.require_account()
        async with db.acquire() as conn, conn.transaction():
            marked, heads = await inbox.read_all(
                conn, principal.person_id, account_id, up_to=data.up_to if data else None, now=now
            )
        for person, version in heads.items():
            await live.poke_sync(redis, person, version)
        return ReadAllOut(marked=marked)

    @get(
        "/stream",
        operation_id="StreamNotifications",
        summary="Live notifications (Server-Sent Events)",
        description="`text/event-stream`: `notification` events (id = the notification id, data = the item), "
        "`sync` events (`{version}`: the change log moved, pull `/v1/sync/pull`) and a comment line as "
        "heartbeat every `ZB_NOTIFY_HEARTBEAT_SECONDS`. Reconnect with `Last-Event-ID` to get what was "
        "missed. Every device of the person, connected to any server process, receives the same items. "
        "The caller is named by `Authorization` or, for a browser's `EventSource` (which cannot send "
        "headers), by `?ticket=` from `POST /v1/notifications/stream-tickets`. The same events come over "
        "a WebSocket for mini-programs (`wx.connectSocket`): see `POST /v1/notifications/stream-tickets`.",
        media_type="text/event-stream",
        response_description="A stream of Server-Sent Events",
        responses=problem_responses(Unauthorized, Forbidden),
    )
    async def stream(
        self,
        maybe_principal: MaybePrincipal,
        state: State,
        redis: Redis,
        last_event_id: LastEventId = None,
        ticket: StreamTicket = None,
        after: ResumeAfter = None,
    ) -> ServerSentEvent:
        principal = maybe_principal
        if principal is None and ticket is not None:
            principal = await live.redeem_ticket(redis, ticket)
        if principal is None:
            raise Unauthorized("an access token or an unused stream ticket is required")
        account_id = principal.require_account()
        try:
            resume = UUID(last_event_id or after) if (last_event_id or after) else None
        except ValueError:
            resume = None  # not one of our ids: nothing to replay
        events = live.events(
            state,
            person_id=principal.person_id,
            account_id=account_id,
            last_event_id=resume,
            heartbeat=state.settings.notify_heartbeat_seconds,
        )
        return ServerSentEvent(events, headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    @post(
        "/stream-tickets",
        operation_id="CreateStreamTicket",
        status_code=201,
        summary="A one-time ticket for opening the live stream from a browser",
        description=f"`{{ticket, expires_in}}`: pass it as `?ticket=` to `GET /v1/notifications/stream` or to the "
        f"WebSocket `{SOCKET_PATH}` within {live.TICKET_TTL} s; it opens one stream or socket, as the "
        "caller, and is then spent. For `EventSource`, which cannot send an Authorization header; apps "
        "send the header itself.\n\n" + SOCKET_DESCRIPTION,
        responses=problem_responses(Unauthorized, Forbidden),
    )
    async def stream_ticket(self, principal: CurrentPrincipal, redis: Redis) -> StreamTicketOut:
        principal.require_account()
        return StreamTicketOut(ticket=await live.open_ticket(redis, principal), expires_in=live.TICKET_TTL)

    @post(
        "/wechat-grants",
        operation_id="RecordWechatGrant",
        status_code=200,
        summary="Record what wx.requestSubscribeMessage answered for a template",
        description="`accepted` with `always: false` adds one message (a one-time subscription, spent by one "
        "message); with `always: true` a long-term grant is kept. `accepted: false` drops every grant of "
        "the template. WeChat answering 43101 (the user refused) also drops them, until the user accepts "
        f"again. Template keys: {', '.join(f'`{k}`' for k in catalogue.WECHAT_TEMPLATES)}.",
        responses=problem_responses(BadRequest, WechatTemplateUnknown, Unauthorized, Forbidden, WechatNotBound),
    )
    async def grant(self, data: JSONBody[GrantIn], principal: CurrentPrincipal, db: Db, now: Now) -> Grant:
        account_id = principal.require_account()
        if data.template_key not in catalogue.WECHAT_TEMPLATES:
            raise WechatTemplateUnknown(f"unknown template_key {data.template_key!r}")
        async with db.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT wechat_openid IS NOT NULL FROM auth_account WHERE id = $1", account_id):
                raise WechatNotBound()
            return await store.record_grant(
                conn, account_id, data.template_key, accepted=data.accepted, always=data.always, now=now
            )

    @get(
        "/wechat-grants",
        operation_id="ListWechatGrants",
        summary="The WeChat templates this account may receive",
        responses=problem_responses(Unauthorized, Forbidden),
    )
    async def grants(self, principal: CurrentPrincipal, db: Db) -> GrantPage:
        account_id = principal.require_account()
        async with db.acquire() as conn:
            return GrantPage(items=await store.list_grants(conn, account_id))

    @put(
        "/preferences",
        operation_id="PutNotificationPreferences",
        summary="Channels and quiet hours of this account",
        description="`channels` turns WeChat and SMS on or off (the inbox is always on). `quiet_hours` (`HH:MM`, China "
        "time; `from` may be later than `to`, spanning midnight) hold non-urgent WeChat and SMS messages "
        "until they end; urgent ones (a new-device login, a revoked certificate) go at once.",
        responses=problem_responses(BadRequest, ValidationFailed, Unauthorized, Forbidden),
    )
    async def put_preferences(
        self, data: JSONBody[PreferencesIn], principal: CurrentPrincipal, db: Db, now: Now
    ) -> Preferences:
        account_id = principal.require_account()
        async with db.acquire() as conn:
            return await store.put_preferences(conn, account_id, data, now=now)

    @get(
        "/preferences",
        operation_id="GetNotificationPreferences",
        summary="Channels and quiet hours of this account",
        responses=problem_responses(Unauthorized, Forbidden),
    )
    async def get_preferences(self, principal: CurrentPrincipal, db: Db) -> Preferences:
        account_id = principal.require_account()
        async with db.acquire() as conn:
            return await store.get_preferences(conn, account_id)


@get(
    "/v1/admin/notifications/{notification_id:uuid}",
    operation_id="GetNotificationForOperator",
    tags=["admin"],
    security=BEARER,
    summary="A notification's status on every channel, with every attempt (operators)",
    responses=problem_responses(NotificationNotFound, Unauthorized, Forbidden),
)
async def admin_notification(notification_id: FromPath[UUID], principal: CurrentPrincipal, db: Db) -> AdminNotification:
    principal.require_roles("operator")
    async with db.acquire() as conn:
        return await store.get_for_operator(conn, notification_id)


class DeadLetterController(Controller):
    path = "/v1/admin/notifications/dead-letters"
    tags = ["admin"]
    security = BEARER

    @get(
        operation_id="ListDeadLetters",
        summary="Stream entries the notification workers gave up on (operators)",
        description="Newest first. An entry goes here when it is not a message the workers understand, or after it "
        f"was read {streams.MAX_READS} times without its work committing (a poison message). `stream` and "
        "`entry_id` say where it was read from, `fields` hold the entry as it was. The notification, "
        "delivery or event it names is still in the database.",
        responses=problem_responses(CursorInvalid, Unauthorized, Forbidden),
    )
    async def list_letters(
        self, principal: CurrentPrincipal, redis: Redis, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> DeadLetterPage:
        principal.require_roles("operator")
        before = decode_cursor(cursor, str) if cursor else None
        if before is not None and not dead_letters.is_entry_id(before):
            raise CursorInvalid()
        items = [dead_letters.view(e) for e in await streams.dead_letters(redis, before=before, limit=limit)]
        return DeadLetterPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(items) == limit else None)

    @post(
        "/{letter_id:str}/retry",
        operation_id="RetryDeadLetter",
        status_code=200,
        summary="Put a dead letter back on the stream it came from (operators, audited)",
        description="For after the cause is fixed: the entry goes back as it was and the workers take it as new. "
        "Reading it fails again the same way if the cause is still there.",
        responses=problem_responses(DeadLetterNotFound, Unauthorized, Forbidden),
    )
    async def retry(
        self, letter_id: FromPath[str], principal: CurrentPrincipal, db: Db, redis: Redis, now: Now
    ) -> DeadLetterRetried:
        principal.require_roles("operator")
        async with db.acquire() as conn, conn.transaction():
            return await dead_letters.retry(conn, redis, letter_id, actor=principal.subject, now=now)

    @delete(
        "/{letter_id:str}",
        operation_id="DiscardDeadLetter",
        status_code=204,
        summary="Discard a dead letter (operators, audited)",
        responses=problem_responses(DeadLetterNotFound, Unauthorized, Forbidden),
    )
    async def discard(
        self, letter_id: FromPath[str], principal: CurrentPrincipal, db: Db, redis: Redis, now: Now
    ) -> None:
        principal.require_roles("operator")
        async with db.acquire() as conn, conn.transaction():
            await dead_letters.discard(conn, redis, letter_id, actor=principal.subject, now=now)
