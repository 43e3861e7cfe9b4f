"""The reference sync client: what a phone app does, in a hundred lines (FORMATS.md §sync).

A device keeps a local copy of its person's records, a queue of mutations made while offline
(each with its own id and the next seq of this install), and the pull cursor. ``push`` sends the
queue and drops what the server has answered for good; ``pull`` pages until ``has_more`` is false,
clearing the copy on ``reset``. Draft edits name the version they were based on; on a conflict the
device takes the server copy, lays its own edit over it and queues the edit again (its fields
win), or gives the edit up when the draft was deleted elsewhere.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx

FINAL = {"applied", "duplicate", "rejected", "conflict"}


class SyncClient:
    def __init__(self, http: Any, token: str, *, page_size: int = 50) -> None:
        self.http = http
        self.token = token
        self.page_size = page_size
        self.online = True
        self.lose_everything()

    def lose_everything(self) -> None:
        """A reinstall: no copy, no cursor, no queue, a new install id (its seq starts at 1 again)."""
        self.client_id = str(uuid.uuid4())
        self.records: dict[tuple[str, str], Any] = {}
        self.cursor: str | None = None
        self.etag: str | None = None
        self.queue: list[dict[str, Any]] = []
        self.next_seq = 1
        self.expected: dict[str, int] = {}  # draft id → its version once the queue is applied
        self.outcomes: dict[str, dict[str, Any]] = {}  # mutation id → the final result
        self.sent: dict[str, dict[str, Any]] = {}  # mutation id → the mutation

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    # --- local changes ------------------------------------------------------------------------------

    def mutate(self, name: str, args: dict[str, Any], base_version: int | None = None) -> str:
        m: dict[str, Any] = {"id": str(uuid.uuid4()), "seq": self.next_seq, "name": name, "args": args}
        if base_version is not None:
            m["base_version"] = base_version
        self.next_seq += 1
        self.queue.append(m)
        self.sent[m["id"]] = m
        return m["id"]

    def draft_version(self, draft_id: str) -> int | None:
        if draft_id in self.expected:
            return self.expected[draft_id]
        held = self.records.get(("draft", draft_id))
        return held["version"] if held else None

    def save_draft(
        self, draft_id: str, form: dict[str, Any], *, matter_code: str = "430200-YB-003", **more: Any
    ) -> str:
        base = self.draft_version(draft_id)
        self.expected[draft_id] = (base or 0) + 1
        return self.mutate("draft.save", {"draft_id": draft_id, "matter_code": matter_code, "form": form, **more}, base)

    def delete_draft(self, draft_id: str) -> str:
        base = self.draft_version(draft_id)
        self.expected[draft_id] = (base or 0) + 1
        return self.mutate("draft.delete", {"draft_id": draft_id}, base)

    # --- talking to the server ------------------------------------------------------------------------

    async def push(self, *, drop_response: bool = False, shuffle: random.Random | None = None) -> httpx.Response | None:
        """Send the queue (in seq order unless shuffled). A dropped response is one the device never saw."""
        if not self.online or not self.queue:
            return None
        batch = list(self.queue)
        if shuffle is not None:
            shuffle.shuffle(batch)
        r = await self.http.post(
            "/v1/sync/push", json={"client_id": self.client_id, "mutations": batch}, headers=self.headers
        )
        if drop_response or r.status_code == 503:
            return r
        assert r.status_code == 200, r.text
        for result in r.json()["results"]:
            if result["status"] in FINAL:
                self._settle(result)
        return r

    def _settle(self, result: dict[str, Any]) -> None:
        m = next((q for q in self.queue if q["id"] == result["id"]), None)
        if m is None:
            return  # answered earlier in this batch (the same id twice)
        self.queue.remove(m)
        self.outcomes[m["id"]] = result
        if m["name"].startswith("draft.") and not any(
            q["args"]["draft_id"] == m["args"]["draft_id"] for q in self.queue if q["name"].startswith("draft.")
        ):
            self.expected.pop(m["args"]["draft_id"], None)
        if result["status"] == "conflict":
            self._rebase(m, result)
        elif result["status"] in ("applied", "duplicate") and m["name"].startswith("draft."):
            key = ("draft", m["args"]["draft_id"])
            held = self.records.get(key)
            if result.get("data") is None:
                self.records.pop(key, None)
            elif held is None or held["version"] < result["data"]["version"]:
                self.records[key] = result["data"]

    def _rebase(self, m: dict[str, Any], result: dict[str, Any]) -> None:
        server = result.get("data")
        draft_id = m["args"]["draft_id"]
        if server is None:
            return  # deleted on another device: deletion wins, the edit is given up
        self.records[("draft", draft_id)] = server
        self.expected.pop(draft_id, None)
        if m["name"] == "draft.delete":
            self.delete_draft(draft_id)
        else:
            self.save_draft(draft_id, {**server["form"], **m["args"]["form"]}, matter_code=m["args"]["matter_code"])

    async def pull(self) -> int:
        """Page until caught up; the number of pages read (0 when the server said 304)."""
        if not self.online:
            return 0
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": self.page_size} | ({"cursor": self.cursor} if self.cursor else {})
            headers = self.headers | ({"If-None-Match": self.etag} if self.etag else {})
            r = await self.http.get("/v1/sync/pull", params=params, headers=headers)
            if r.status_code == 304:
                return pages
            assert r.status_code == 200, r.text
            page = r.json()
            pages += 1
            if page["reset"]:
                self.records.clear()
            for change in page["changes"]:
                key = (change["entity"], change["id"])
                if change["op"] == "put":
                    self.records[key] = change["data"]
                else:
                    self.records.pop(key, None)
            self.cursor, self.etag = page["cursor"], r.headers.get("etag")
            if not page["has_more"]:
                return pages

    async def sync(self, *, rounds: int = 10) -> None:
        """Push until the queue is empty (rebased edits included), then pull."""
        for _ in range(rounds):
            if not self.queue:
                break
            await self.push()
        assert not self.queue, self.queue
        await self.pull()
