"""The wallet's rules, without a database: values and ``now`` in, values out.

- life events: which certificates and completed bundles mean which event, and when it happened;
- coming of age: a dependent stops being one on the 18th birthday (China Standard Time);
- consents: the state of a grant at ``now``, and what a new grant may ask for;
- presentations: the fields a holder chose, taken from the certificate;
- department records: the split of a record's data into what travels and what stays sealed;
- expiry reminders: which threshold (30, 7, 1 days) a certificate has reached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Literal
from uuid import UUID

import msgspec

from api.kernel.problems import FieldError
from wallet.errors import ConsentInvalid, PresentationFieldsInvalid, RecordInvalid

CHINA = timezone(timedelta(hours=8))
MAJORITY_YEARS = 18
# Showing full content, presenting and granting are sensitive acts: L3, proven within five minutes.
SENSITIVE_LEVEL, RECENT_SECONDS = "L3", 300

LifeEvent = Literal[
    "born",
    "enrolled",
    "started_business",
    "bought_home",
    "married",
    "retired",
    "died",
    "business_opened",
    "business_changed",
    "business_closed",
]
LIFE_EVENTS: dict[str, str] = {
    "born": "出生",
    "enrolled": "入学",
    "started_business": "创业",
    "bought_home": "购房安居",
    "married": "结婚",
    "retired": "退休",
    "died": "身故",
    # A business entity's life (经营主体): opened (设立登记), changed (变更登记), closed (注销).
    "business_opened": "开业",
    "business_changed": "变更登记",
    "business_closed": "注销",
}
# A person is born once and dies once; the other events may happen again (a second home, a remarriage).
SINGULAR = frozenset({"born", "died", "business_opened", "business_closed"})
# Events after which the wallet is kept, read only: a death, an entity's 注销.
CLOSING = frozenset({"died", "business_closed"})

# Certificate type → (life event, the field that dates it; the time of issue when absent or unreadable).
CERTIFICATE_EVENTS: dict[str, tuple[str, str | None]] = {
    "birth_medical_certificate": ("born", "born_at"),
    "enrollment_notice": ("enrolled", None),
    "real_estate_certificate": ("bought_home", None),
    "marriage_certificate": ("married", "registered_on"),
    "retirement_certificate": ("retired", "retired_on"),
}
# Completed bundle → the life event of the person it was for. 身后一件事 is handled apart: its
# application is for the family member who applied, and the deceased is named in its form.
BUNDLE_EVENTS: dict[str, str] = {
    "birth": "born",
    "school_enrollment": "enrolled",
    "start_business": "started_business",
    "resale_home_transfer": "bought_home",
    "retirement": "retired",
}


def event_source_key(event: str, person_id: UUID, source: str) -> str:
    """The key that makes a life event unique: per person for singular events, else per source."""
    return f"{event}:{person_id}" if event in SINGULAR else f"{event}:{source}"


def day_start(d: date) -> datetime:
    """Midnight of ``d`` in China, in UTC: a date-only event happened on that local day."""
    return datetime.combine(d, time(), CHINA).astimezone(UTC)


def event_time(fields: Mapping[str, Any], field: str | None, fallback: datetime) -> datetime:
    """When a certificate says its event happened: its date field, else ``fallback``."""
    value = fields.get(field) if field else None
    if isinstance(value, str):
        try:
            return day_start(date.fromisoformat(value[:10]))
        except ValueError:
            pass
    return fallback


# --- coming of age ---------------------------------------------------------------------------------


def comes_of_age(born_on: date) -> datetime:
    """The start of the 18th birthday in China (a 29 February birthday counts from 28 February)."""
    try:
        birthday = born_on.replace(year=born_on.year + MAJORITY_YEARS)
    except ValueError:
        birthday = born_on.replace(year=born_on.year + MAJORITY_YEARS, day=28)
    return day_start(birthday)


def born_on_from_id_number(id_number: str) -> date | None:
    """The birth date a GB 11643 number carries (digits 7 to 14)."""
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except (ValueError, IndexError):
        return None


# --- consents ----------------------------------------------------------------------------------------

ConsentState = Literal["active", "expired", "used_up", "revoked"]
MAX_CONSENT_DAYS = 365


def consent_state(
    *, revoked_at: datetime | None, expires_at: datetime, uses: int, max_uses: int | None, now: datetime
) -> ConsentState:
    if revoked_at is not None:
        return "revoked"
    if expires_at <= now:
        return "expired"
    if max_uses is not None and uses >= max_uses:
        return "used_up"
    return "active"


def check_consent(item_ids: list[UUID], expires_at: datetime, *, now: datetime) -> list[UUID]:
    """The distinct items of a new grant, in order; ``consent_invalid`` naming what is wrong."""
    errors = []
    if expires_at <= now:
        errors.append(FieldError("expires_at", "must be in the future"))
    elif expires_at > now + timedelta(days=MAX_CONSENT_DAYS):
        errors.append(FieldError("expires_at", f"may be at most {MAX_CONSENT_DAYS} days ahead"))
    if errors:
        raise ConsentInvalid(errors=errors)
    return list(dict.fromkeys(item_ids))


def check_consent_fields(
    fields: Mapping[UUID, list[str]], keys: Mapping[UUID, list[str] | None]
) -> dict[UUID, list[str]]:
    """The fields a grant names per item, each a field of that item; ``consent_invalid`` naming what is wrong."""
    errors = []
    out: dict[UUID, list[str]] = {}
    for item, chosen in fields.items():
        known = keys.get(item)
        if item not in keys:
            errors.append(FieldError(f"fields.{item}", "is not one of item_ids"))
        elif known is None:
            errors.append(FieldError(f"fields.{item}", "this item has no fields to name"))
        else:
            unknown = [k for k in chosen if k not in known]
            errors += [FieldError(f"fields.{item}.{k[:64]}", "is not a field of this item") for k in unknown]
            out[item] = list(dict.fromkeys(chosen))
    if errors:
        raise ConsentInvalid(errors=errors)
    return out


# --- presentations -------------------------------------------------------------------------------------


def chosen_fields(fields: Mapping[str, Any], chosen: Iterable[str]) -> dict[str, Any]:
    """Exactly the chosen fields of a certificate; ``presentation_fields_invalid`` for unknown keys."""
    keys = list(dict.fromkeys(chosen))
    unknown = [k for k in keys if k not in fields]
    if unknown:
        raise PresentationFieldsInvalid(
            errors=[FieldError(f"fields.{k[:64]}", "is not a field of this certificate") for k in unknown]
        )
    return {k: fields[k] for k in keys}


# --- department records -----------------------------------------------------------------------------------

MAX_RECORD_BYTES = 16 * 1024


def split_record(data: dict[str, Any], sensitive: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(public, sealed)`` parts of a record's data; ``record_invalid`` when too large or a key is unknown."""
    keys = set(sensitive)
    errors = [FieldError(f"sensitive.{k[:64]}", "is not a key of data") for k in sorted(keys - set(data))]
    if len(msgspec.json.encode(data)) > MAX_RECORD_BYTES:
        errors.append(FieldError("data", f"may be at most {MAX_RECORD_BYTES} bytes of JSON"))
    if errors:
        raise RecordInvalid(errors=errors)
    public = {k: v for k, v in data.items() if k not in keys}
    return public, {k: v for k, v in data.items() if k in keys}


def request_hash(body: Any) -> bytes:
    """What makes two pushes "the same body" for ``external_ref`` idempotency."""
    return hashlib.sha256(msgspec.json.encode(msgspec.to_builtins(body), order="sorted")).digest()


MASK = "***"


def masked(values: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """``values`` with the named keys' values replaced by ``***``."""
    hide = set(keys)
    return {k: (MASK if k in hide else v) for k, v in values.items()}


# --- expiry reminders ---------------------------------------------------------------------------------------

THRESHOLDS = (1, 7, 30)


def expiry_threshold(valid_until: datetime, now: datetime) -> int | None:
    """The nearest threshold (in days) a certificate expiring at ``valid_until`` has reached, if any."""
    left = valid_until - now
    if left <= timedelta(0):
        return None
    return next((days for days in THRESHOLDS if left <= timedelta(days=days)), None)


# --- the synced copy: wallet items as sync pulls carry them ------------------------------------------------


def token_sha256(token: str) -> str:
    """The tag a synced item carries instead of its token: SHA-256 of the token's text, lower-case hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def slim_item(item: dict[str, Any]) -> dict[str, Any]:
    """A wallet item as a pull carries it: the certificate's token (about 1 KB, the bulk of an item, and
    the same on every change of the item) replaced by ``token_sha256``; the device fetches the token once
    from ``GET /v1/wallet/items/{id}/token``. Everything else, enough to list and show the item, stays."""
    data = item.get("data")
    if not isinstance(data, dict) or "token" not in data:
        return item
    token = data["token"]
    slim = {k: v for k, v in data.items() if k != "token"}
    if isinstance(token, str):
        slim["token_sha256"] = token_sha256(token)
    return item | {"data": slim}
