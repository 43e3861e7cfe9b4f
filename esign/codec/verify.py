"""Offline verification of ``ZB1:`` tokens: the one function behind ``/v1/verify`` and every verifier.

``verify_token`` is pure: the token, a verified trust list, verified status lists and ``now`` in,
a ``Verdict`` out. It never raises; a string that is not one of our tokens gives
``valid: false, reasons: ["format"]``. The server and offline verifiers agree because they run
this same function.

Order (FORMATS.md): decode → every trust-list seal whose kid matches (kids may collide, each is
tried) → signature → seal active at ``iat``, chained to the root and allowed this type → ``nbf`` /
``exp`` against the clock → status bit → for presentations, ``exp`` not passed. The SDK's offline
verifier (``clients/js/src/verifier``) makes the same checks in the same order with the same names. A failed format, signature or chain
check stops there (the content is not trustworthy, so judging it further would mislead); the
checks after that are all made, so one verdict can say both "expired" and "revoked".

Reasons, by check:

- format: ``format``
- signature: ``unknown_seal`` (no seal has this kid), ``signature``
- chain: ``trust_list_expired``, ``seal_revoked``, ``seal_not_active`` (``iat`` outside the seal's
  validity), ``seal_role`` (a certificate not signed by an issuer seal, or a presentation not by
  a presenter seal), ``issuer_mismatch`` (``iss`` is not the seal's department), ``chain``,
  ``seal_type`` (an issuer seal signing a type outside its ``types``, or a type the registry lacks)
- validity: ``not_yet_valid``, ``expired``
- status: ``revoked``, ``suspended``, ``status_unavailable`` (list missing, expired or too short)
- presentation_fresh: ``presentation_lifetime`` (``exp − iat`` over 300 s), ``presentation_expired``

A seal whose trust-list status is ``revoked`` fails every token, whenever signed: the list carries
no revocation time, and a seal is revoked when its key can no longer be trusted. A seal that is
merely retired stays ``active`` with a ``valid_until``, so what it signed before stays valid.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import msgspec

from esign.codec import qr, tokens
from esign.codec.keys import verify_raw
from esign.codec.statuslist import REVOKED, SUSPENDED, VALID, StatusList
from esign.codec.trustlist import EXPIRED, Freshness, SealEntry, TrustList, TypeEntry
from esign.codec.x509 import chain_problem
from esign.errors import MalformedToken

log = logging.getLogger("zhangban.esign")

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
LEEWAY_SECONDS = 60  # clock skew between a phone and the issuer


class Field(msgspec.Struct, frozen=True, kw_only=True):
    """A disclosed field, named by the trust list's type registry (``key`` and ``label`` None for a number
    the registry does not know)."""

    n: int
    key: str | None
    label: str | None
    value: Any


class Disclosed(msgspec.Struct, frozen=True, kw_only=True):
    """What a verified token discloses about its certificate."""

    kind: Literal["certificate", "presentation"]
    certificate_id: str  # hex of cti
    type_code: str  # the catalogue's code
    type_name: str
    gb_type_code: str
    licence_id: str  # rebuilt from the registry's GB code, iss, serial and version
    holder_name: str  # masked
    holder_id: str  # masked
    fields: list[Field]  # in registry number order
    issuer_credit_code: str
    issuer_name: str | None  # known for certificate tokens (the signing seal's department)
    issued_at: datetime
    valid_until: datetime | None
    status_ref: tuple[int, int]
    holder_bound: bool = False  # a ZB2: presentation, made on the holder's device with its key


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of verifying one token."""

    valid: bool
    reasons: list[str]
    checks: dict[str, str]
    certificate: Disclosed | None = None
    seal_kid: str | None = None  # hex kid of the seal whose signature checked
    trust_list: Freshness | None = None
    detail: str | None = None  # why the format check failed, for logs; never personal data


def _checks(kind: str | None) -> dict[str, str]:
    names = ["format", "signature", "chain", "validity", "status"]
    if kind == tokens.PRESENTATION:
        names.append("presentation_fresh")
    return dict.fromkeys(names, SKIPPED)


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Chained(Protocol):
    """What the chain rules read of a token's claims (``tokens.Claims``, or a ZB2 credential's as a presentation)."""

    @property
    def kind(self) -> str: ...
    @property
    def iss(self) -> str: ...
    @property
    def iat(self) -> int: ...
    @property
    def type_code(self) -> str: ...


def _chain_reasons(seal: SealEntry, claims: Chained, trust: TrustList, now: datetime) -> list[str]:
    reasons = []
    if trust.freshness(now) == EXPIRED:
        reasons.append("trust_list_expired")
    if seal.status != "active":
        reasons.append("seal_revoked")
    if not seal.valid_from <= claims.iat <= seal.valid_until:
        reasons.append("seal_not_active")
    if seal.role != ("issuer" if claims.kind == tokens.CERTIFICATE else "presenter"):
        reasons.append("seal_role")
    if claims.kind == tokens.CERTIFICATE and claims.iss != seal.credit_code:
        reasons.append("issuer_mismatch")
    if chain_problem(seal.cert, trust.root_cert, at=_time(claims.iat)) is not None:
        reasons.append("chain")
    if claims.type_code not in trust.types or (seal.types is not None and claims.type_code not in seal.types):
        reasons.append("seal_type")
    return reasons


def _validity_reasons(claims: tokens.Claims, t: float, leeway: int) -> list[str]:
    reasons = []
    if claims.iat > t + leeway or (claims.nbf is not None and claims.nbf > t + leeway):
        reasons.append("not_yet_valid")
    if claims.kind == tokens.CERTIFICATE and claims.exp is not None and t - leeway >= claims.exp:
        reasons.append("expired")
    return reasons


def _status_reasons(
    slot: tuple[int, int], trust: TrustList, lists: Mapping[int, StatusList], now: datetime
) -> list[str]:
    list_id, index = slot
    ref, status_list = trust.status_lists.get(list_id), lists.get(list_id)
    if ref is None or status_list is None or status_list.url != ref.url or status_list.expired(now):
        return ["status_unavailable"]
    try:
        value = status_list.status(index)
    except IndexError:
        return ["status_unavailable"]
    return {VALID: [], REVOKED: ["revoked"], SUSPENDED: ["suspended"]}.get(value, ["status_unavailable"])


def _fresh_reasons(claims: tokens.Claims, t: float, leeway: int) -> list[str]:
    reasons = []
    if claims.exp is None or claims.exp - claims.iat > tokens.PRESENTATION_MAX_TTL:
        reasons.append("presentation_lifetime")
    if claims.exp is not None and t - leeway >= claims.exp:
        reasons.append("presentation_expired")
    return reasons


def _disclosed(claims: tokens.Claims, seal: SealEntry, ctype: TypeEntry) -> Disclosed:
    certificate = claims.kind == tokens.CERTIFICATE
    fields = []
    for n in sorted(claims.fields):
        known = ctype.field(n)
        fields.append(
            Field(n=n, key=known.key if known else None, label=known.label if known else None, value=claims.fields[n])
        )
    return Disclosed(
        kind="certificate" if certificate else "presentation",
        certificate_id=claims.cti.hex(),
        type_code=claims.type_code,
        type_name=ctype.name,
        gb_type_code=ctype.gb_code,
        licence_id=claims.licence_id(ctype.gb_code),
        holder_name=claims.holder_name,
        holder_id=claims.holder_id,
        fields=fields,
        issuer_credit_code=claims.iss,
        issuer_name=seal.department_name if certificate else None,
        issued_at=_time(claims.iat),
        valid_until=_time(claims.exp) if certificate and claims.exp is not None else None,
        status_ref=claims.status,
    )


def verify_token(
    token: str,
    trust_list: TrustList,
    status_lists: Mapping[int, StatusList],
    now: datetime,
    *,
    leeway: int = LEEWAY_SECONDS,
    cnonce: bytes | None = None,
) -> Verdict:
    """Verify a ``ZB1:`` or ``ZB2:`` token (bare, or the URL of its QR code) offline against a trust list and
    status lists at ``now``; ``cnonce`` is the nonce a verifier showed the holder (``ZB2:`` only). Never raises."""
    try:
        text = qr.token_from_text(token)
        if isinstance(text, str) and text.startswith("ZB2:"):
            from esign.codec.zb2_verify import verify_presentation  # it builds on this module

            return verify_presentation(text, trust_list, status_lists, now, cnonce=cnonce, leeway=leeway)
        return _verify(token, trust_list, status_lists, now, leeway)
    except Exception:  # a bug must not turn into a 500 on a public endpoint; it is logged loudly
        log.exception("token verification failed unexpectedly")
        checks = _checks(None) | {"format": FAILED}
        return Verdict(valid=False, reasons=["format"], checks=checks, detail="internal")


def _verify(token: str, trust: TrustList, lists: Mapping[int, StatusList], now: datetime, leeway: int) -> Verdict:
    freshness = trust.freshness(now)
    try:
        decoded = tokens.decode_token(qr.token_from_text(token))
    except MalformedToken as exc:
        checks = _checks(None) | {"format": FAILED}
        return Verdict(valid=False, reasons=["format"], checks=checks, trust_list=freshness, detail=str(exc))
    claims, sign1 = decoded.claims, decoded.sign1
    checks = _checks(claims.kind) | {"format": OK}

    candidates = [seal for seal in trust.seals_for(sign1.kid) if seal.alg == sign1.alg]
    to_be_signed = sign1.to_be_signed()
    seal = next((s for s in candidates if verify_raw(s.public_key, to_be_signed, sign1.signature)), None)
    if seal is None:
        checks["signature"] = FAILED
        reason = "signature" if candidates else "unknown_seal"
        return Verdict(valid=False, reasons=[reason], checks=checks, trust_list=freshness)
    checks["signature"] = OK

    reasons = _chain_reasons(seal, claims, trust, now)
    checks["chain"] = FAILED if reasons else OK
    if reasons:
        return Verdict(valid=False, reasons=reasons, checks=checks, seal_kid=seal.kid.hex(), trust_list=freshness)

    t = now.timestamp()
    steps = [
        ("validity", _validity_reasons(claims, t, leeway)),
        ("status", _status_reasons(claims.status, trust, lists, now)),
    ]
    if claims.kind == tokens.PRESENTATION:
        steps.append(("presentation_fresh", _fresh_reasons(claims, t, leeway)))
    for name, found in steps:
        checks[name] = FAILED if found else OK
        reasons += found
    return Verdict(
        valid=not reasons,
        reasons=reasons,
        checks=checks,
        certificate=_disclosed(claims, seal, trust.types[claims.type_code]),
        seal_kid=seal.kid.hex(),
        trust_list=freshness,
    )
