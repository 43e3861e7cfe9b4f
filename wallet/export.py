"""The PIPL right of access (个人信息保护法 第四十五条): everything held about one person, as one document.

The caller's own person, or a dependent's (a guardian exercises a minor's rights, art. 31), or a
deceased family member's (art. 49: close relatives may read and copy it; items stay masked as in
the wallet). One JSON document: identity in full (the caller proved L3 moments ago), every wallet
item, the timeline, every application made by or for the person (as the applications API shows
them), consents, the access log, guardians and dependents; and, for the caller's own person,
their logins (with their phone number) and their notifications.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import auth
import matters
import notify
from api.kernel.crypto import Keyring
from api.kernel.db import Conn, one
from api.kernel.identifiers import id_number_sex
from esign import EsignState
from wallet import access, consent_store, consents, dependents, people_store, service, store, views
from wallet.models import Export, PersonOut


async def export(
    conn: Conn,
    esign: EsignState,
    keyring: Keyring,
    actor: access.Actor,
    person_id: UUID | None,
    *,
    now: datetime,
) -> Export:
    """One person, whole: the caller's own when ``person_id`` is None (L3 recently)."""
    wallet = await access.open_wallet(conn, actor, person_id, now=now)
    access.require_recent_l3(actor, now)
    me = wallet.person_id
    own = me == actor.person_id
    # open_wallet has found the person.
    born_on, sex = one(await auth.get_birth(conn, me), "person")
    number = await auth.get_id_number(conn, keyring, me)
    if number is not None:  # someone first seen at a login or an issuing: their number says both
        born_on = born_on or service.born_on_from_id_number(number)
        sex = sex or id_number_sex(number)
    stored = await store.list_stored_items(conn, me)
    applications = [
        await matters.application(conn, keyring, p, a)
        for p, a in await store.application_ids(conn, me, await auth.family(conn, me))
    ]
    return Export(
        exported_at=now,
        person=PersonOut(
            id=me,
            name=await auth.get_name(conn, keyring, me),
            id_number=number,
            born_on=born_on.isoformat() if born_on else None,
            sex=sex,
        ),
        items=await views.render_all(conn, esign, stored, full=wallet.full_view, now=now),
        timeline=[views.timeline_entry(s) for s in stored],
        applications=applications,
        consents=[
            consents.to_model(r, now=now) for r in await consent_store.list_consents(conn, me, before=None, limit=None)
        ],
        access_log=[
            consents.access_entry(r) for r in await consent_store.list_access(conn, me, before=None, limit=None)
        ],
        guardians=await auth.active_guardians(conn, me, now=now),
        dependents=await dependents.list_dependents(conn, keyring, me, now=now),
        closed_at=await people_store.closed_at(conn, me),
        # Logins and the inbox are the person's own business: a guardian's export leaves them out.
        accounts=await auth.accounts_of(conn, keyring, me) if own else [],
        notifications=await notify.export_for_person(conn, me) if own else [],
    )
