"""What identity holds about a person, for the wallet's export (PIPL right of access)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from api.kernel.crypto import Keyring
from api.kernel.db import Conn


class AccountOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    roles: list[str]
    assurance_level: str
    verified_at: datetime | None
    # The person's own phone number, in full: the export goes to them alone.
    phone: str | None
    wechat_openid: str | None
    created_at: datetime
    last_login_at: datetime | None


ACCOUNTS = """
SELECT id, roles, assurance_level, verified_at, phone, wechat_openid, created_at, last_login_at
FROM auth_account WHERE person_id = $1 ORDER BY created_at
"""


async def accounts_of(conn: Conn, keyring: Keyring, person_id: UUID) -> list[AccountOut]:
    """Every login of the person; the session key is never exported (it is WeChat's, not theirs)."""
    return [
        AccountOut(
            id=r["id"],
            roles=list(r["roles"]),
            assurance_level=f"L{r['assurance_level']}",
            verified_at=r["verified_at"],
            phone=keyring.decrypt_str(r["phone"], context="auth_account.phone") if r["phone"] else None,
            wechat_openid=r["wechat_openid"],
            created_at=r["created_at"],
            last_login_at=r["last_login_at"],
        )
        for r in await conn.fetch(ACCOUNTS, person_id)
    ]
