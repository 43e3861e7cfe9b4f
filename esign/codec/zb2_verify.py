"""Offline verification of ``ZB2:`` presentations: ``verify_presentation``, which ``esign.codec.verify.verify_token``
calls for a ``ZB2:`` token, so ``/v1/verify``, the ``/V/`` page and every offline verifier take both kinds.

Order (FORMATS.md): decode → the credential's signature by a presenter seal of the trust list (kids may
collide: each is tried) and that seal's chain → the credential's ``exp`` → the token's signature by
the ``cnf`` key → its ``iat`` no older than 300 s and not in the future, with the 60 s leeway → the
nonce, where the verifier asked for one → every disclosure's hash listed → the certificate's and the
credential's status. A failed format, signature, chain or holder binding stops there (nothing after
it is trustworthy); the checks after that are all made.

Reasons, by check (those of ``ZB1:`` where the check is the same):

- format: ``format``
- signature: ``unknown_seal``, ``signature`` (the credential's)
- chain: ``trust_list_expired``, ``seal_revoked``, ``seal_not_active``, ``seal_role`` (not a presenter
  seal), ``chain``, ``seal_type`` (a type the registry lacks)
- validity: ``not_yet_valid`` (credential ``iat`` ahead of the clock), ``credential_expired``
- holder_binding: ``holder_binding`` (not signed by the device key the credential names)
- presentation_fresh: ``presentation_expired`` (older than 300 s, or from the future)
- nonce: ``nonce`` (the verifier showed a nonce and the token does not carry it)
- disclosure: ``disclosure`` (a disclosure whose hash the credential does not list, unreadable, or twice)
- status: ``revoked``, ``suspended``, ``status_unavailable``; the certificate's slot, then the credential's
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from esign.codec import licence, tokens, zb2
from esign.codec.keys import verify_raw
from esign.codec.statuslist import StatusList
from esign.codec.trustlist import TrustList, TypeEntry
from esign.codec.verify import FAILED, OK, SKIPPED, Disclosed, Field, Verdict, _chain_reasons, _status_reasons, _time
from esign.errors import MalformedToken

CHECKS = (
    "format",
    "signature",
    "chain",
    "validity",
    "holder_binding",
    "presentation_fresh",
    "nonce",
    "disclosure",
    "status",
)


class _AsPresentation(NamedTuple):
    """A credential's claims as the chain rules read a presentation's (``verify.Chained``)."""

    kind: str
    iss: str
    iat: int
    type_code: str


def status_refs(token: str) -> list[tuple[int, int]]:
    """The status slots a ``ZB2:`` token refers to (the certificate's, the credential's); [] when unreadable."""
    try:
        claims = zb2.decode_presentation(token).credential.claims
    except MalformedToken:
        return []
    return [claims.status, claims.credential_status]


def verify_presentation(
    token: str,
    trust: TrustList,
    lists: Mapping[int, StatusList],
    now: datetime,
    *,
    cnonce: bytes | None = None,
    leeway: int = 60,
) -> Verdict:
    """Verify a bare ``ZB2:`` token at ``now``; ``cnonce`` is the nonce the verifier showed, if it did."""
    freshness = trust.freshness(now)
    checks = dict.fromkeys(CHECKS, SKIPPED)
    try:
        shown = zb2.decode_presentation(token)
    except MalformedToken as exc:
        checks["format"] = FAILED
        return Verdict(valid=False, reasons=["format"], checks=checks, trust_list=freshness, detail=str(exc))
    checks["format"] = OK
    credential, claims = shown.credential, shown.credential.claims

    candidates = [s for s in trust.seals_for(credential.kid) if s.alg == credential.alg]
    to_be_signed = credential.to_be_signed()
    seal = next((s for s in candidates if verify_raw(s.public_key, to_be_signed, credential.signature)), None)
    if seal is None:
        checks["signature"] = FAILED
        reason = "signature" if candidates else "unknown_seal"
        return Verdict(valid=False, reasons=[reason], checks=checks, trust_list=freshness)
    checks["signature"] = OK

    # The chain rules of a ZB1 presentation: a presenter seal, active at iat, chained, a known type.
    as_presentation = _AsPresentation(tokens.PRESENTATION, claims.iss, claims.iat, claims.type_code)
    reasons = _chain_reasons(seal, as_presentation, trust, now)
    checks["chain"] = FAILED if reasons else OK
    kid = seal.kid.hex()
    if reasons:
        return Verdict(valid=False, reasons=reasons, checks=checks, seal_kid=kid, trust_list=freshness)

    t = now.timestamp()
    validity = []
    if claims.iat > t + leeway:
        validity.append("not_yet_valid")
    if t - leeway >= claims.exp:
        validity.append("credential_expired")
    checks["validity"] = FAILED if validity else OK

    device = zb2.device_public_key(claims.device_key)
    if not verify_raw(device, shown.to_be_signed(), shown.signature):
        checks["holder_binding"] = FAILED
        return Verdict(
            valid=False, reasons=[*validity, "holder_binding"], checks=checks, seal_kid=kid, trust_list=freshness
        )
    checks["holder_binding"] = OK

    steps = [("validity", validity)]
    stale = t - leeway >= shown.iat + zb2.PRESENTATION_MAX_AGE or shown.iat > t + leeway
    steps.append(("presentation_fresh", ["presentation_expired"] if stale else []))
    if cnonce is not None:
        ok = shown.cnonce is not None and hmac.compare_digest(shown.cnonce, cnonce)
        steps.append(("nonce", [] if ok else ["nonce"]))
    fields, disclosure = _disclosed(credential)
    steps.append(("disclosure", disclosure))
    status = [
        *_status_reasons(claims.status, trust, lists, now),
        *_status_reasons(claims.credential_status, trust, lists, now),
    ]
    steps.append(("status", list(dict.fromkeys(status))))
    reasons = []
    for name, found in steps:
        checks[name] = FAILED if found else OK
        reasons += found
    ctype = trust.types[claims.type_code]
    certificate = Disclosed(
        kind="presentation",
        certificate_id="",
        type_code=claims.type_code,
        type_name=ctype.name,
        gb_type_code=ctype.gb_code,
        licence_id=licence.build_licence_id(ctype.gb_code, claims.iss, claims.serial, claims.version),
        holder_name=claims.holder_name,
        holder_id=claims.holder_id,
        fields=[_field(ctype, n, v) for n, v in sorted(fields.items())],
        issuer_credit_code=claims.iss,
        issuer_name=None,
        issued_at=_time(shown.iat),
        valid_until=None,
        status_ref=claims.status,
        holder_bound=True,
    )
    return Verdict(
        valid=not reasons, reasons=reasons, checks=checks, certificate=certificate, seal_kid=kid, trust_list=freshness
    )


def _field(ctype: TypeEntry, n: int, value: object) -> Field:
    known = ctype.field(n)
    return Field(n=n, key=known.key if known else None, label=known.label if known else None, value=value)


def _disclosed(credential: zb2.Credential) -> tuple[dict[int, object], list[str]]:
    """The disclosed fields by number, and ``["disclosure"]`` if any disclosure does not check."""
    listed = set(credential.claims.hashes)
    fields: dict[int, object] = {}
    for encoded in credential.disclosures:
        try:
            d = zb2.read_disclosure(encoded)
        except MalformedToken:
            return {}, ["disclosure"]
        if d.digest not in listed or d.n in fields:
            return {}, ["disclosure"]
        fields[d.n] = d.value
    return fields, []
