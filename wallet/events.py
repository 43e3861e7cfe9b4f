"""Life events in a person's wallet, and closing the wallet of a person who died.

``add_life_event`` is the one way an event item is written, whoever found it: the derivation sweep
(a certificate issued, a bundle completed) or a department's push. Its ``source_key`` makes it
unique — per person for birth and death, per source otherwise — so a source seen twice writes once.
A death closes the wallet to new writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

import auth as orgs
from api.kernel import audit, changelog, outbox
from api.kernel.db import Conn
from api.kernel.ids import uuid7
from wallet import people_store, store
from wallet.service import CLOSING, LIFE_EVENTS, event_source_key

Source = Literal["certificate", "bundle", "department"]


async def add_life_event(
    conn: Conn,
    *,
    person_id: UUID,
    event: str,
    at: datetime,
    source: Source,
    source_id: str,
    now: datetime,
    title: str | None = None,
    detail: dict[str, Any] | None = None,
    certificate_id: UUID | None = None,
    application_id: UUID | None = None,
    bundle_code: str | None = None,
    pushed: store.Provenance | None = None,
) -> store.WalletItem | None:
    """Write the event (change log included) unless its source key is taken; None then.

    ``pushed`` carries a department's ``external_ref`` and request hash for pushed events.
    """
    data: dict[str, Any] = {"event": event, "source": source, "detail": detail or {}}
    if certificate_id is not None:
        data["certificate_id"] = str(certificate_id)
    item = store.WalletItem(
        id=uuid7(),
        person_id=person_id,
        kind="event",
        title=title or LIFE_EVENTS[event],
        at=at,
        summary={"event": event, "source": source},
        certificate_id=None,
        application_id=application_id,
        bundle_code=bundle_code,
        data=data,
        created_at=now,
        updated_at=now,
    )
    key = event_source_key(event, person_id, f"{source}:{source_id}")
    if not await store.insert_sourced_item(
        conn, item, msgspec.structs.replace(pushed or store.Provenance(), source_key=key)
    ):
        return None
    await changelog.record_change(conn, person_id, "wallet_item", item.id, "put", store.item_data(item))
    if event == "business_closed":
        await close_entity(conn, person_id, source=f"{source}:{source_id}", now=now)
    elif event in CLOSING:
        await close(conn, person_id, source=f"{source}:{source_id}", now=now)
    return item


async def close_entity(conn: Conn, org_id: UUID, *, source: str, now: datetime) -> bool:
    """Close a business entity after 注销: its wallet is kept, read only, as the law requires; audited."""
    await orgs.close_org(conn, org_id, now=now)
    if not await people_store.close_wallet(conn, org_id, source=source, now=now):
        return False
    await audit.append(
        conn,
        actor="system",
        action="wallet.closed",
        subject=f"person:{org_id}",
        data={"source": source, "kind": "organisation"},
        at=now,
    )
    return True


async def close(conn: Conn, person_id: UUID, *, source: str, now: datetime) -> bool:
    """Close a deceased person's wallet (once); audited, and the family told."""
    if not await people_store.close_wallet(conn, person_id, source=source, now=now):
        return False
    await audit.append(
        conn, actor="system", action="wallet.closed", subject=f"person:{person_id}", data={"source": source}, at=now
    )
    await outbox.enqueue(
        conn,
        "notify",
        {"event": "wallet.closed", "person_id": str(person_id)},
        dedup_key=f"wallet.closed:{person_id}",
        partition_key=str(person_id),
    )
    return True
