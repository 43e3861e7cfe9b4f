"""Plain helpers for sync tests: mutations, server-side writes, and the server's own view of a person."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from api.kernel import changelog
from api.kernel.crypto import Keyring
from sync import drafts
from tests.auth.helpers import auth, claims

MATTER = "430200-YB-003"  # 生育津贴申领: one department (医保), no result certificate


def person_of(token: str) -> uuid.UUID:
    return uuid.UUID(claims(token)["pid"])


def mutation(
    seq: int, name: str, args: dict[str, Any], *, base_version: int | None = None, id: str | None = None
) -> dict[str, Any]:
    m: dict[str, Any] = {"id": id or str(uuid.uuid4()), "seq": seq, "name": name, "args": args}
    if base_version is not None:
        m["base_version"] = base_version
    return m


def save(
    seq: int, draft_id: str, form: dict[str, Any] | None = None, *, base_version: int | None = None
) -> dict[str, Any]:
    return mutation(
        seq, "draft.save", {"draft_id": draft_id, "matter_code": MATTER, "form": form or {}}, base_version=base_version
    )


async def push(client: Any, token: str, client_id: str, mutations: list[dict[str, Any]]) -> Any:
    return await client.post(
        "/v1/sync/push", json={"client_id": client_id, "mutations": mutations}, headers=auth(token)
    )


async def pushed(client: Any, token: str, client_id: str, mutations: list[dict[str, Any]]) -> dict[str, Any]:
    r = await push(client, token, client_id, mutations)
    assert r.status_code == 200, r.text
    return r.json()


async def pull_all(
    client: Any, token: str, cursor: str | None = None, *, limit: int = 500
) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    """Every page from ``cursor``: (changes in order, the last cursor, the pages)."""
    changes, pages = [], []
    while True:
        r = await client.get(
            "/v1/sync/pull", params={"limit": limit} | ({"cursor": cursor} if cursor else {}), headers=auth(token)
        )
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, cursor, pages


def apply(records: dict[tuple[str, str], Any], changes: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    for c in changes:
        if c["op"] == "put":
            records[(c["entity"], c["id"])] = c["data"]
        else:
            records.pop((c["entity"], c["id"]), None)
    return records


async def wallet_write(
    pool: asyncpg.Pool, person_id: uuid.UUID, item_id: uuid.UUID, data: dict[str, Any] | None
) -> int:
    """What esign does when it puts a certificate into a wallet (None: takes it out)."""
    async with pool.acquire() as c, c.transaction():
        op = "put" if data is not None else "del"
        return await changelog.record_change(c, person_id, "wallet_item", item_id, op, data)


async def server_drafts(conn: asyncpg.Connection, keyring: Keyring, person_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """The person's live drafts as the table has them: id → {version, form}."""
    rows = await conn.fetch(
        "SELECT id, version, form FROM sync_draft WHERE person_id = $1 AND deleted_at IS NULL", person_id
    )
    return {
        str(r["id"]): {
            "version": r["version"],
            "form": msgspec.json.decode(keyring.decrypt(r["form"], context=drafts.CONTEXT)),
        }
        for r in rows
    }


def device_drafts(records: dict[tuple[str, str], Any]) -> dict[str, dict[str, Any]]:
    return {i: {"version": d["version"], "form": d["form"]} for (e, i), d in records.items() if e == "draft"}


def at(value: datetime) -> str:
    return value.isoformat()
