"""An entity's applications signed with its 企业电子印章, and the departments' check of that signature.

Submitting acting for a business entity that has an e-seal signs the stored application's id, target
and form (its declarations) with the seal, in the submitting transaction; each department task shows
the signer and whether the signature verifies now (seal the entity's, active, chained to the root).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from esign import canonical, sign_submission, verify_submission
from matters.applications import store
from matters.applications.models import SubmissionSignature


def _payload(keyring: Keyring, app: asyncpg.Record) -> bytes:
    return canonical(app["id"], app["bundle_code"] or app["matter_code"], store.open_form(keyring, app["form"]))


async def sign(conn: Conn, esign: Any, keyring: Keyring, person: UUID, application_id: UUID, org_id: UUID) -> None:
    """Sign a new application of the entity (for ``person``) with its seal (nothing when it has none yet)."""
    app = await store.get_application(conn, person, application_id)
    signature = await sign_submission(conn, esign, org_id, _payload(keyring, app))
    if signature is not None:
        await store.set_application(conn, person, application_id, entity_signature=signature)


async def check(
    conn: Conn, esign: Any, keyring: Keyring, app: asyncpg.Record, *, now: datetime
) -> SubmissionSignature | None:
    """The entity's signature on the application as verified now; None for an unsigned one."""
    signature = app["entity_signature"]
    if signature is None or esign is None:
        return None
    found = await verify_submission(conn, esign, app["for_person_id"], _payload(keyring, app), signature, now=now)
    return SubmissionSignature(
        signer_name=found.signer_name,
        signer_credit_code=found.signer_credit_code,
        seal_kid=found.seal_kid,
        algorithm=found.algorithm,
        valid=found.valid,
    )
