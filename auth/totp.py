"""Staff logins' second factor: TOTP codes (RFC 6238, 30-second steps, 6 digits, SHA-1 as authenticator
apps expect), pure — the secret, the code and ``now`` in, the accepted time step out.

A code is good for its own step and the one before or after (phones' clocks drift), and only once:
the caller keeps the newest accepted step and a code of that step or an earlier one is refused, so a
code seen over a shoulder or replayed from a log cannot open a second login.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

from auth.errors import TotpCodeInvalid, TotpCodeReused

ISSUER = "掌办"
DRIFT = 1  # steps accepted either side of now


def new_secret() -> str:
    """A new random shared secret (160 bits, base32), as authenticator apps take it."""
    return pyotp.random_base32(32)


def uri(secret: str, *, account_name: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def accept(secret: str, code: str, *, last_step: int, now: datetime) -> int:
    """The time step ``code`` belongs to, if it is a good code not used before; else raise.

    ``TotpCodeReused`` when the code matches a step already spent (or an earlier one), so the
    audit can tell a replay from a typo; ``TotpCodeInvalid`` otherwise.
    """
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT, current + DRIFT + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if step <= last_step:
                raise TotpCodeReused("this code was already used; wait for the next one")
            return step
    raise TotpCodeInvalid("the code is wrong or too old")
