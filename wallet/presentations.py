"""亮证: a short-lived presentation token of one certificate, disclosing only the fields chosen.

The token is the certificate's own claims (type, licence id, masked holder, status slot, record
digest) with the chosen fields, a nonce and ``exp`` at most 300 s ahead, signed by the platform's
presentation seal (``esign.flows.presentation_token``). Verifiers check it offline with the trust
list and status lists like any token (``esign.codec.verify.verify_token``): a revoked certificate fails
there too, but it is refused here first, with the reason.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from uuid import UUID

from api.kernel import audit
from api.kernel.db import Conn
from esign import EsignState, certificate_view, presentation_token, qr_png
from wallet import access, service, store
from wallet.errors import ItemNotFound, NotPresentable, WalletNotFound
from wallet.models import Presentation, PresentIn


async def present(
    conn: Conn, esign: EsignState, actor: access.Actor, item_id: UUID, body: PresentIn, *, now: datetime
) -> Presentation:
    """Sign a presentation of a certificate item (holder or guardian, L3 recently, wallet open)."""
    item = await store.get_item(conn, item_id, person_id=actor.person_id)
    if item is None:
        raise ItemNotFound()
    try:
        await access.act_for(conn, actor, item.person_id, now=now)
    except WalletNotFound:
        raise ItemNotFound() from None
    if item.kind != "certificate" or item.certificate_id is None:
        raise NotPresentable("only certificates can be presented", reason="not_a_certificate")
    cert = await certificate_view(conn, esign, item.certificate_id, now=now)
    if cert.status != "valid":
        raise NotPresentable(f"the certificate is {cert.status}", reason=cert.status, certificate_status=cert.status)
    fields = service.chosen_fields(cert.fields, body.fields)
    token, claims = await presentation_token(conn, esign, cert.token, fields, now=now, ttl=body.ttl_seconds)
    await audit.append(
        conn,
        actor=actor.subject,
        action="wallet.presented",
        subject=f"wallet_item:{item_id}",
        data={"certificate": str(cert.id), "fields": sorted(fields), "ttl_seconds": body.ttl_seconds},
        at=now,
    )
    assert claims.exp is not None
    url = esign.qr_url(token)
    png = base64.b64encode(qr_png(url)).decode("ascii") if body.png else None
    return Presentation(qr=token, qr_url=url, expires_at=datetime.fromtimestamp(claims.exp, UTC), png_base64=png)
