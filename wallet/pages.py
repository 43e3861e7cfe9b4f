"""Wallet pages a server process built, kept while the holder's change-log version stands.

A wallet is read far more often than it changes, and every change to what a page shows — an item
added or updated, a certificate revoked or suspended, an application moving on — bumps the holder's
``sync_head`` version in the writing transaction (``api.kernel.changelog``). A page is stored under the
version read *before* its items were read, so it can only be newer than its key says, never older.
Two things change a page without a version: time (a certificate past ``valid_until`` shows
``expired``), so a page lives no longer than its earliest expiry; and the names of departments,
certificate types and matters, so a page also lives at most ``MAX_AGE``.

The store is per process, least recently used first out, bounded in bytes.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wallet.models import WalletItemPage

MAX_AGE = timedelta(seconds=60)
MAX_BYTES = 32 * 1024 * 1024

Key = tuple[Any, ...]  # (person id, full view, kind, cursor, limit)


@dataclass(frozen=True, slots=True)
class Page:
    version: int
    fresh_until: datetime
    body: bytes


def fresh_until(page: WalletItemPage, now: datetime) -> datetime:
    """When the page stops being true by itself: its first valid certificate's expiry, or ``MAX_AGE``."""
    until = now + MAX_AGE
    for item in page.items:
        cert = item.certificate
        if cert is not None and cert.status == "valid" and cert.valid_until is not None:
            until = min(until, cert.valid_until)
    return until


class Pages:
    """Encoded pages by ``(person, view...)``; ``get`` answers only for the same version, before expiry."""

    @classmethod
    def of(cls, state: Any) -> Pages:
        """The process's store, on the app's state (made on first use)."""
        found = state.get("wallet_pages")
        if found is None:
            found = state.wallet_pages = cls()
        return found

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._pages: OrderedDict[Key, Page] = OrderedDict()

    def get(self, key: Key, version: int, now: datetime) -> bytes | None:
        page = self._pages.get(key)
        if page is None or page.version != version or page.fresh_until <= now:
            return None
        self._pages.move_to_end(key)
        return page.body

    def put(self, key: Key, version: int, until: datetime, body: bytes) -> None:
        old = self._pages.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        if len(body) > self.max_bytes // 16:
            return  # a page this large is rare; it would push out many others
        self._pages[key] = Page(version, until, body)
        self.size += len(body)
        while self.size > self.max_bytes:
            _, dropped = self._pages.popitem(last=False)
            self.size -= len(dropped.body)
