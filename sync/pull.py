"""Pull: the changes of a person and their dependents after a cursor, one page at a time.

The whole page is read in one REPEATABLE READ snapshot, so every person's log is seen at one
instant: versions at or below each head are all committed (the head's row lock makes commit order
equal version order), and a person whose log was read to the end can move to its head.

The ETag of a page that ends the changes (``has_more`` false) is that of the next request with the
returned cursor, so a client polling with it is answered 304 until something changes; a page with
more to come carries the tag of its own request.

A page holds, in order: deletions for persons who left the client's scope (a guardianship that
ended), then the latest entry of each changed record of the caller, then of each dependent. A
person new to the scope (or everyone, on a reset) is read without deletions: the client holds
nothing of theirs to delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

import auth
import wallet
from api.kernel import responses
from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from sync import cursor, drafts, service, store
from sync.models import Change, Checkpoint, PullPage


@dataclass(frozen=True)
class PullAnswer:
    page: PullPage | None  # None: the client's copy is current (304)
    etag: str


async def pull(
    conn: Conn,
    keyring: Keyring,
    *,
    person_id: UUID | None,
    cursor_text: str | None,
    limit: int,
    if_none_match: str | None,
    now: datetime,
    account_id: UUID | None = None,
    client_id: UUID | None = None,
) -> PullAnswer:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        epoch = await store.get_epoch(conn)
        # The push ledger is read in the same snapshot as the changes: a mutation counted in last_seq
        # has its effect in this page or an earlier one.
        client = None
        if client_id is not None and account_id is not None:
            client = (client_id, await store.last_seq(conn, account_id, client_id))
        last_seq = client[1] if client else None
        if person_id is None:
            # A login without a verified identity mirrors nothing: an empty state, every time.
            etag = service.pull_etag(epoch, cursor.NO_OWNER, None, limit, [], {}, client)
            if responses.etag_matches(if_none_match, etag):
                return PullAnswer(None, etag)
            text = cursor.encode(keyring, cursor.SyncCursor(epoch, cursor.NO_OWNER))
            count, digest = service.checkpoint([])
            return PullAnswer(
                PullPage(
                    changes=[],
                    cursor=text,
                    has_more=False,
                    reset=True,
                    last_seq=last_seq,
                    checkpoint=Checkpoint(count=count, digest=digest),
                ),
                etag,
            )

        parsed = cursor.parse(keyring, cursor_text) if cursor_text else None
        deps = await auth.dependents_of(conn, person_id, now=now)
        scope = list(dict.fromkeys([person_id, *deps]))
        known = [*parsed.cursor.versions, *parsed.cursor.leaving] if parsed else []
        heads = await store.get_heads(conn, list(dict.fromkeys(scope + known)))
        etag = service.pull_etag(epoch, person_id, cursor_text, limit, scope, heads, client)
        if responses.etag_matches(if_none_match, etag):
            return PullAnswer(None, etag)

        plan = service.plan_pull(parsed, epoch=epoch, owner=person_id, scope=scope, heads=heads)
        page = _Page(limit)
        leaving: dict[UUID, int] = {}
        for pos in plan.leaving:
            rows = (
                await store.list_leaving(conn, pos.person_id, pos.after, keep=scope, limit=page.room + 1)
                if page.room
                else None
            )
            if rows is None or len(rows) > page.room:
                rows = (rows or [])[: page.room]
                leaving[pos.person_id] = rows[-1]["version"] if rows else pos.after
                page.has_more = True
            page.changes += [
                Change(entity=r["entity"], id=r["entity_id"], op="del", version=r["version"]) for r in rows
            ]

        versions: dict[UUID, int] = {}
        floors: dict[UUID, int] = {}
        for pos in plan.positions:
            head = heads[pos.person_id].version
            # A read from the start sees nothing compacted before it: the cursor keeps that horizon
            # so the read goes on page by page instead of starting over.
            floors[pos.person_id] = heads[pos.person_id].horizon if pos.after == 0 else pos.floor
            if not page.room:
                if pos.after == 0 and pos.with_dels:
                    leaving[pos.person_id] = 0  # back in scope, not yet re-read: keep it marked
                versions[pos.person_id] = pos.after
                page.has_more = page.has_more or head > pos.after
                continue
            rows = await store.list_latest(
                conn,
                pos.person_id,
                pos.after,
                with_dels=pos.with_dels,
                with_drafts=pos.person_id == person_id,
                limit=page.room + 1,
            )
            if len(rows) > page.room:
                rows = rows[: page.room]
                versions[pos.person_id] = rows[-1]["version"]
                page.has_more = True
            else:
                versions[pos.person_id] = head  # read to the end of this snapshot
            page.changes += [_change(keyring, r) for r in rows]

        # A reset goes on over several pages: the cursor remembers it until its last page, which carries the
        # checkpoint, read in this page's snapshot (the state the client holds once it applied every page).
        resetting = plan.reset or (parsed is not None and parsed.cursor.resetting)
        text = cursor.encode(
            keyring,
            cursor.SyncCursor(epoch, person_id, versions, leaving, floors, resetting=resetting and page.has_more),
        )
        check = None
        if resetting and not page.has_more:
            count, digest = await store.checkpoint(conn, scope, person_id)
            check = Checkpoint(count=count, digest=digest)
        if not page.has_more:
            # The tag names the position the new cursor stands for: a client polling with that cursor
            # and this tag gets 304 until one of its persons writes, its scope changes, or the client's
            # last_seq moves.
            etag = service.pull_etag(epoch, person_id, text, limit, scope, heads, client)
        page_out = PullPage(
            changes=page.changes,
            cursor=text,
            has_more=page.has_more,
            reset=plan.reset,
            last_seq=last_seq,
            checkpoint=check,
        )
        return PullAnswer(page_out, etag)


class _Page:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.changes: list[Change] = []
        self.has_more = False

    @property
    def room(self) -> int:
        return self.limit - len(self.changes)


def _change(keyring: Keyring, r: asyncpg.Record) -> Change:
    if r["op"] == "del":
        return Change(entity=r["entity"], id=r["entity_id"], op="del", version=r["version"])
    if r["entity"] == "draft":
        data = drafts.to_wire(keyring, msgspec.json.decode(r["data"]))
        return Change(entity="draft", id=r["entity_id"], op="put", version=r["version"], data=data)
    if r["entity"] == "device_credential":  # sealed in the log like a draft's form; opened for the pull
        import esign

        return Change(
            entity="device_credential",
            id=r["entity_id"],
            op="put",
            version=r["version"],
            data=esign.credential_to_wire(keyring, msgspec.json.decode(r["data"])),
        )
    if r["entity"] == "wallet_item" and '"token"' in r["data"]:
        # The slim projection: the token is fetched once, not carried with every change of the item.
        data = wallet.slim_item(msgspec.json.decode(r["data"]))
        return Change(entity="wallet_item", id=r["entity_id"], op="put", version=r["version"], data=data)
    # Stored JSON goes out as it is, without a decode and re-encode per record.
    return Change(entity=r["entity"], id=r["entity_id"], op="put", version=r["version"], data=msgspec.Raw(r["data"]))
