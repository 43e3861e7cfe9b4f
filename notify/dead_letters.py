"""What operators do with dead letters (``zb:{notify}:dead``): look at them, put one back on the stream
it came from once its cause is fixed, or discard it. Each action is audited; the audit entry is
written first and commits only if the action in Redis succeeded."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from api.kernel import audit
from api.kernel.db import Conn
from notify import streams
from notify.errors import DeadLetterNotFound
from notify.models import DeadLetter, DeadLetterRetried

_ENTRY_ID = re.compile(r"(\d{1,20})-(\d{1,20})")


def is_entry_id(text: str) -> bool:
    """A Redis stream entry id (two unsigned 64-bit numbers); Redis refuses anything else with an error."""
    found = _ENTRY_ID.fullmatch(text)
    return found is not None and all(int(part) < 1 << 64 for part in found.groups())


def view(entry: streams.Entry) -> DeadLetter:
    _, letter_id, fields = entry
    text = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
    return DeadLetter(
        id=letter_id,
        dead_at=datetime.fromtimestamp(int(letter_id.split("-")[0]) / 1000, UTC),
        stream=text.pop("stream", ""),
        entry_id=text.pop("entry_id", ""),
        group=text.pop("group", ""),
        reason=text.pop("reason", ""),
        fields=text,
    )


def _checked(letter_id: str) -> str:
    if not is_entry_id(letter_id):
        raise DeadLetterNotFound(f"no dead letter {letter_id!r}")
    return letter_id


async def retry(conn: Conn, redis: Any, letter_id: str, *, actor: str, now: datetime) -> DeadLetterRetried:
    """Put the letter back on its stream (in the caller's transaction, which holds the audit entry)."""
    await audit.append(conn, actor=actor, action="notify.dead_letter_retried", subject=_checked(letter_id), at=now)
    done = await streams.retry_dead_letter(redis, letter_id)
    if done is None:
        raise DeadLetterNotFound(f"no dead letter {letter_id!r}")
    return DeadLetterRetried(stream=done[0], entry_id=done[1])


async def discard(conn: Conn, redis: Any, letter_id: str, *, actor: str, now: datetime) -> None:
    await audit.append(conn, actor=actor, action="notify.dead_letter_discarded", subject=_checked(letter_id), at=now)
    if not await streams.discard_dead_letter(redis, letter_id):
        raise DeadLetterNotFound(f"no dead letter {letter_id!r}")
