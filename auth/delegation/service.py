"""The rules of a 代办 authorisation, pure: values and ``now`` in, a decision out."""

from __future__ import annotations

from datetime import datetime, timedelta

from auth.delegation.errors import DelegationInactive, DelegationOutOfScope
from auth.delegation.models import DelegationStatus

MAX_LIFETIME = timedelta(days=366)
EVERY_MATTER = "*"


def status(*, expires_at: datetime, revoked_at: datetime | None, now: datetime) -> DelegationStatus:
    if revoked_at is not None:
        return DelegationStatus.REVOKED
    return DelegationStatus.ACTIVE if expires_at > now else DelegationStatus.EXPIRED


def check(
    *,
    expires_at: datetime,
    revoked_at: datetime | None,
    matters: list[str],
    actions: list[str],
    matter_codes: list[str] | None,
    action: str,
    now: datetime,
) -> None:
    """Raise unless the authorisation is active and covers ``action`` on one of ``matter_codes`` (a bundle's code or
    its matters' codes: naming the bundle covers its matters); ``matter_codes`` None checks all but the matter."""
    state = status(expires_at=expires_at, revoked_at=revoked_at, now=now)
    if state is not DelegationStatus.ACTIVE:
        raise DelegationInactive(f"the authorisation is {state}", reason=str(state))
    if action not in actions:
        raise DelegationOutOfScope(f"the authorisation does not cover the action {action}", action=action)
    if matter_codes is not None and EVERY_MATTER not in matters and not set(matters) & set(matter_codes):
        raise DelegationOutOfScope("the authorisation does not cover this matter", matter_codes=matter_codes)
