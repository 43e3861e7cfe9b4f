"""``GET /v1/me`` and the development SMS inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import get
from litestar.datastructures import State
from litestar.params import Parameter

from api.deps import Db, Keys
from api.kernel.crypto import mask_id_number, mask_name, mask_phone
from api.kernel.problems import Forbidden, Unauthorized, ValidationFailed
from auth.errors import problem_responses
from auth.guards import BEARER, CurrentPrincipal
from auth.models import DevSmsList, DevSmsMessage, Me, MeDepartment, MePerson
from auth.routes.login import PHONE_CONTEXT
from auth.sms import SinkProvider
from auth.store import accounts as store
from auth.store.realname import PERSON_ID_NUMBER, PERSON_NAME, get_person
from auth.tokens import level_name


@get(
    "/v1/me",
    operation_id="GetMe",
    tags=["auth"],
    security=BEARER,
    summary="The logged-in account: assurance, person (masked), roles and departments",
    description=(
        "`assurance_level` is the account's current level (it may be higher than the token's `acr` until the next "
        "refresh); `auth_time` is when that level was last proven. Department systems have no account (403)."
    ),
    responses=problem_responses(Unauthorized, Forbidden),
)
async def me(principal: CurrentPrincipal, db: Db, keyring: Keys) -> Me:
    account_id = principal.require_account()
    async with db.acquire() as conn:
        account = await store.get_account(conn, account_id)
        if account is None:
            raise Unauthorized("the account no longer exists")
        staff = await store.get_staff(conn, account_id)
        sealed = await get_person(conn, account.person_id) if account.person_id else None
        phone = await store.get_phone(conn, account_id)
        pending = staff is not None and "staff" not in principal.roles  # the login has not passed the second factor
        enrolled = pending and await store.get_totp(conn, account_id) is not None
    person = None
    if sealed is not None and account.person_id is not None:
        person = MePerson(
            id=account.person_id,
            name_masked=mask_name(keyring.decrypt_str(sealed[0], context=PERSON_NAME)),
            id_number_masked=mask_id_number(keyring.decrypt_str(sealed[1], context=PERSON_ID_NUMBER)),
        )
    roles = list(account.roles)
    departments = []
    if staff is not None and not pending:
        roles += ["staff", *staff.roles]
        departments.append(MeDepartment(id=staff.department_id, name=staff.department_name, roles=staff.roles))
    proven = account.verified_at if account.assurance_level > 1 and account.verified_at else principal.auth_time
    return Me(
        account_id=account.id,
        assurance_level=level_name(account.assurance_level),
        auth_time=proven.astimezone(UTC),
        person=person,
        roles=roles,
        departments=departments,
        phone_masked=mask_phone(keyring.decrypt_str(phone, context=PHONE_CONTEXT)) if phone else None,
        second_factor=("totp" if enrolled else "totp_enrol") if pending else None,
    )


@get(
    "/v1/dev/sms",
    operation_id="DevListSms",
    tags=["dev"],
    summary="Messages the `sink` SMS provider would have sent to this phone (development only)",
    description="Exists only when `ZB_SMS_PROVIDER=sink`. Newest first; kept for a day. Each message has its text, "
    "the gateway template code it would be sent under (`ZB_SMS_TEMPLATES`) and the template's parameters.",
    responses=problem_responses(ValidationFailed),
)
async def dev_sms(
    state: State, phone: Annotated[str, Parameter(pattern=r"^1[3-9][0-9]{9}$", description="Mainland mobile number.")]
) -> DevSmsList:
    sink: SinkProvider = state.sms
    messages = await sink.messages(phone)
    items = [
        DevSmsMessage(text=m.text, sent_at=datetime.fromtimestamp(m.sent_at, UTC), template=m.template, params=m.params)
        for m in messages
    ]
    return DevSmsList(items=items)
