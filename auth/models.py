"""Wire types of logins, tokens and ``/v1/me``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

PHONE = msgspec.Meta(pattern=r"^1[3-9][0-9]{9}$", description="Mainland mobile number, 11 digits (1[3-9]xxxxxxxxx).")
Phone = Annotated[str, PHONE]
Level = Literal["L1", "L2", "L3"]


class WechatCode(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=256, description="From wx.login / getPhoneNumber.")]


class SmsSend(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Phone


class SmsLogin(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Phone
    code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="The 6-digit code from the SMS.")]


class RefreshIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class LogoutIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(max_length=256)] | None = None


class AccountSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    assurance_level: Level
    person_id: UUID | None


class TokenPair(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    account: AccountSummary
    second_factor: Annotated[
        Literal["totp", "totp_enrol"] | None,
        msgspec.Meta(
            description="Set for staff whose login still needs its second factor: `totp` — send a code from the "
            "authenticator to `POST /v1/auth/totp/verify`; `totp_enrol` — none bound yet, start with "
            "`POST /v1/auth/totp/enrol`. Until then the tokens carry no staff roles."
        ),
    ] = None


class PhoneBound(msgspec.Struct, frozen=True, kw_only=True):
    phone_masked: str


class ClientCredentials(msgspec.Struct, kw_only=True):
    """``POST /v1/auth/token`` body, as form fields or JSON (RFC 6749 §4.4)."""

    grant_type: str
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None


class ClientToken(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: str


class MePerson(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name_masked: str
    id_number_masked: str


class MeDepartment(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    roles: list[str]


class Me(msgspec.Struct, frozen=True, kw_only=True):
    account_id: UUID
    assurance_level: Level
    auth_time: datetime
    person: MePerson | None
    roles: list[str]
    departments: list[MeDepartment]
    phone_masked: str | None = None
    second_factor: Annotated[
        Literal["totp", "totp_enrol"] | None,
        msgspec.Meta(
            description="As in the token pair: staff whose login has not passed its second factor yet (their roles "
            "and departments are not listed until it has)."
        ),
    ] = None


class DevSmsMessage(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    sent_at: datetime
    template: str | None = None  # the gateway template code the text would be sent under
    params: dict[str, str] = {}  # the template's parameters


class DevSmsList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DevSmsMessage]


class Jwks(msgspec.Struct, frozen=True):
    keys: list[dict[str, str]]


OrgRole = Literal["legal_representative", "agent"]


class ActAsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    credit_code: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=18,
                max_length=18,
                description="The entity's unified social credit code (GB 32100); null to act as oneself again.",
            ),
        ]
        | None
    ) = None
    person_id: (
        Annotated[
            UUID,
            msgspec.Meta(
                description="A person who named the caller their 代办人 (`GET /v1/delegations`: the principal of an "
                "authorisation received); not with `credit_code`."
            ),
        ]
        | None
    ) = None


class Organisation(msgspec.Struct, frozen=True, kw_only=True):
    """A business entity the caller may act for, and on what ground."""

    id: UUID
    credit_code: str
    name: str
    status: Literal["active", "closed"]
    role: OrgRole
    # A 经办人's authorisation and when it ends (the acting token ends then too).
    delegation_id: UUID | None = None
    expires_at: datetime | None = None


class OrganisationList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Organisation]


class ActingToken(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    organisation: Organisation | None
    person: ActingForPerson | None = None


class ActingForPerson(msgspec.Struct, frozen=True, kw_only=True):
    """The person a 代办人 acts for, under which authorisation, and until when (the token ends then too)."""

    id: UUID
    name_masked: str
    delegation_id: UUID
    matters: list[str]
    actions: list[str]
    expires_at: datetime


class TotpCode(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[
        str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="The 6-digit code the authenticator shows now.")
    ]


class TotpEnrolment(msgspec.Struct, frozen=True, kw_only=True):
    """A new authenticator secret, shown this once; it counts after a first code confirms it."""

    secret: str
    otpauth_uri: str
    qr_svg: Annotated[str, msgspec.Meta(description="The URI's QR code as an SVG data URL, for the app to scan.")]
