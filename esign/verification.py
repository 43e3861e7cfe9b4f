"""Online verification: ``esign.codec.verify.verify_token`` against the current signed trust list and status list.

The server reads back its own signed lists, exactly as an offline verifier would after downloading
them, and runs the same function, so the two can never disagree. The names a token only refers to
(the issuing department by its credit code) is looked up for the answer; the type's name and its
fields' labels come from the trust list's type registry, as an offline verifier shows them.
"""

from __future__ import annotations

from datetime import datetime

from api.kernel.db import Conn
from esign import lists
from esign.codec import qr, tokens, zb2
from esign.codec.verify import Verdict, verify_token
from esign.codec.zb2_verify import status_refs
from esign.errors import MalformedToken, StatusListNotFound
from esign.models import MaskedHolder, StatusRef, VerifiedCertificate, VerifiedField, VerifiedIssuer, VerifyOut
from esign.state import EsignState
from esign.store import seal as seal_store


def _list_ids(token: object) -> list[int]:
    if not isinstance(token, str):
        return []
    text = qr.token_from_text(token)
    if text.startswith(zb2.PREFIX):
        return sorted({list_id for list_id, _ in status_refs(text)})
    try:
        return [tokens.decode_token(text).claims.status[0]]
    except MalformedToken:
        return []  # verify_token names the format problem itself


async def verdict_for(
    conn: Conn, esign: EsignState, token: str, *, now: datetime, cnonce: bytes | None = None
) -> Verdict:
    """The verdict on ``token`` (``ZB1:`` or ``ZB2:``) now, with the nonce the verifier showed; never raises for
    a bad token."""
    trust = esign.trust_list(await lists.trust_list_token(conn, esign, now=now))
    status_lists = {}
    for list_id in _list_ids(token):
        if list_id not in trust.status_lists:
            continue
        try:
            signed = await lists.status_list_token(conn, esign, list_id, now=now)
            status_lists[list_id] = esign.status_list(list_id, signed)
        except StatusListNotFound:
            pass  # verify_token answers status_unavailable
    return verify_token(token, trust, status_lists, now, cnonce=cnonce)


async def describe(conn: Conn, verdict: Verdict) -> VerifyOut:
    """The API's answer for a verdict, with the type and issuer names looked up."""
    found = verdict.certificate
    certificate = None
    if found is not None:
        department = await seal_store.get_department_by_credit_code(conn, found.issuer_credit_code)
        certificate = VerifiedCertificate(
            kind=found.kind,
            type_code=found.type_code,
            type_name=found.type_name,
            gb_type_code=found.gb_type_code,
            licence_id=found.licence_id,
            holder_masked=MaskedHolder(name=found.holder_name, id=found.holder_id),
            fields=[VerifiedField(n=f.n, key=f.key, label=f.label, value=f.value) for f in found.fields],
            issuer=VerifiedIssuer(
                name=department.name if department else found.issuer_name,
                credit_code=found.issuer_credit_code,
                department_id=department.id if department else None,
            ),
            issued_at=found.issued_at,
            valid_until=found.valid_until,
            status_ref=StatusRef(list_id=found.status_ref[0], index=found.status_ref[1]),
            holder_bound=found.holder_bound,
        )
    return VerifyOut(
        valid=verdict.valid,
        reasons=verdict.reasons,
        checks=verdict.checks,
        certificate=certificate,
        seal_kid=verdict.seal_kid,
        trust_list=verdict.trust_list,
    )
