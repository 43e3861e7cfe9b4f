"""The offline verifier: every named reason, both algorithms, and garbage that never raises."""

from __future__ import annotations

import dataclasses
import zlib
from datetime import timedelta

import base45
import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esign.codec import cose, statuslist, tokens, trustlist
from esign.codec.verify import Field, Verdict, verify_token
from tests.esign import helpers

NOW = helpers.NOW


def _verify(pki: helpers.Pki, token: str, *, now=NOW, bits=None, trust=None, lists=None) -> Verdict:
    trust = helpers.trust_list(pki) if trust is None else trust
    lists = helpers.status_lists(pki, bits) if lists is None else lists
    return verify_token(token, trust, lists, now)


def _token(pki: helpers.Pki, seal: str = "ES256", **overrides: object) -> str:
    return tokens.encode_token(helpers.certificate_claims(**overrides), pki.seals[seal].signer)


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_valid_certificate(pki: helpers.Pki, alg: str) -> None:
    verdict = _verify(pki, _token(pki, alg))
    assert verdict.valid and verdict.reasons == []
    assert verdict.checks == {"format": "ok", "signature": "ok", "chain": "ok", "validity": "ok", "status": "ok"}
    disclosed = verdict.certificate
    assert disclosed is not None and disclosed.kind == "certificate"
    # Fields by the registry's number, shown with its key and zh-CN label.
    assert disclosed.fields == [
        Field(n=1, key="sex", label="性别", value="男"),
        Field(n=2, key="eth", label="民族", value="汉"),
        Field(n=3, key="rel", label="与户主关系", value="户主"),
        Field(n=4, key="addr", label="住址", value="长春市"),
    ]
    # The licence identifier is rebuilt from the registry's GB code, iss, serial and version, check char computed.
    assert disclosed.licence_id == "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
    assert (disclosed.type_code, disclosed.type_name, disclosed.gb_type_code) == (
        "household_register",
        "居民户口簿",
        helpers.GB_TYPE_CODE,
    )
    assert (disclosed.issuer_credit_code, disclosed.issuer_name) == (helpers.ISSUER_CODE, "吉林省民政厅")
    assert disclosed.holder_name == "张*三" and disclosed.valid_until is None
    assert disclosed.issued_at == NOW - timedelta(hours=1)
    assert verdict.seal_kid == pki.seals[alg].signer.kid.hex() and verdict.trust_list == "fresh"


def test_token_from_another_root_fails_chain(pki: helpers.Pki, other_pki: helpers.Pki) -> None:
    """A seal of another platform, even listed in our trust list, does not chain to our root."""
    foreign = other_pki.seals["ES256"]
    entries = [trustlist.seal_entry(foreign.cert, role="issuer")]
    verdict = _verify(pki, _token(other_pki), trust=helpers.trust_list(pki, entries=entries))
    assert not verdict.valid and verdict.reasons == ["chain"]
    assert verdict.checks["signature"] == "ok" and verdict.checks["chain"] == "failed"
    assert verdict.checks["status"] == "skipped" and verdict.certificate is None


def test_token_from_a_seal_not_in_the_list(pki: helpers.Pki, other_pki: helpers.Pki) -> None:
    verdict = _verify(pki, _token(other_pki))
    assert verdict.reasons == ["unknown_seal"] and verdict.checks["signature"] == "failed"


def test_kid_collisions_try_every_seal(pki: helpers.Pki, other_pki: helpers.Pki) -> None:
    trust = helpers.trust_list(pki)
    real = trust.seals_for(pki.seals["ES256"].signer.kid)[0]
    impostor = dataclasses.replace(trustlist.seal_entry(other_pki.seals["ES256"].cert, role="issuer"), kid=real.kid)
    collided = dataclasses.replace(trust, seals=(impostor, *trust.seals))
    assert len(collided.seals_for(real.kid)) == 2
    verdict = _verify(pki, _token(pki), trust=collided)
    assert verdict.valid, verdict.reasons
    only_impostor = dataclasses.replace(trust, seals=(impostor,))
    assert _verify(pki, _token(pki), trust=only_impostor).reasons == ["signature"]


@pytest.mark.parametrize(("value", "reason"), [(statuslist.REVOKED, "revoked"), (statuslist.SUSPENDED, "suspended")])
def test_status(pki: helpers.Pki, value: int, reason: str) -> None:
    bits = statuslist.new_status_bits()
    statuslist.set_status(bits, 7, value)
    verdict = _verify(pki, _token(pki), bits=bits)
    assert not verdict.valid and verdict.reasons == [reason]
    assert verdict.checks["status"] == "failed" and verdict.checks["validity"] == "ok"
    assert verdict.certificate is not None  # the verifier may still show what was revoked


def test_status_unavailable(pki: helpers.Pki) -> None:
    assert _verify(pki, _token(pki), lists={}).reasons == ["status_unavailable"]
    stale_lists = helpers.status_lists(pki, now=NOW - timedelta(days=8))
    assert _verify(pki, _token(pki), lists=stale_lists).reasons == ["status_unavailable"]
    assert _verify(pki, _token(pki, status=(2, 7))).reasons == ["status_unavailable"]


def test_expired_and_not_yet_valid_certificates(pki: helpers.Pki) -> None:
    now = int(NOW.timestamp())
    expired = _verify(pki, _token(pki, exp=now - 120))
    assert expired.reasons == ["expired"] and expired.checks["validity"] == "failed"
    within_leeway = _verify(pki, _token(pki, exp=now - 30))
    assert within_leeway.valid
    assert _verify(pki, _token(pki, nbf=now + 3600)).reasons == ["not_yet_valid"]
    assert _verify(pki, _token(pki, iat=now + 3600)).reasons == ["not_yet_valid"]
    bits = statuslist.new_status_bits()
    statuslist.set_status(bits, 7, statuslist.REVOKED)
    assert _verify(pki, _token(pki, exp=now - 120), bits=bits).reasons == ["expired", "revoked"]


def test_presentation(pki: helpers.Pki) -> None:
    claims = tokens.make_presentation(helpers.certificate_claims(), {1: "男", 9: "?"}, now=NOW - timedelta(seconds=10))
    token = tokens.encode_token(claims, pki.seals["presenter"].signer)
    verdict = _verify(pki, token)
    assert verdict.valid, verdict.reasons
    assert verdict.checks["presentation_fresh"] == "ok"
    assert verdict.certificate.kind == "presentation"
    assert verdict.certificate.fields == [
        Field(n=1, key="sex", label="性别", value="男"),
        Field(n=9, key=None, label=None, value="?"),
    ]  # a number the registry lacks
    late = _verify(pki, token, now=NOW + timedelta(minutes=10))
    assert late.reasons == ["presentation_expired"] and late.checks["presentation_fresh"] == "failed"


def test_presentation_lifetime_over_five_minutes(pki: helpers.Pki) -> None:
    claims = tokens.make_presentation(helpers.certificate_claims(), {}, now=NOW)
    payload = cbor2.loads(tokens.encode_claims(claims))
    payload[4] = payload[6] + 3600  # a presentation that lives an hour
    signer = pki.seals["presenter"].signer
    protected = cose.protected_header(signer.alg, signer.kid)
    body = cbor2.dumps(payload, canonical=True)
    token = tokens.assemble_token(protected, body, signer.sign(cose.sig_structure(protected, body)))
    assert _verify(pki, token).reasons == ["presentation_lifetime"]


def test_roles_and_issuer_binding(pki: helpers.Pki) -> None:
    # The presenter seal belongs to the platform, so its certificate also names another issuer.
    assert _verify(pki, _token(pki, "presenter")).reasons == ["seal_role", "issuer_mismatch"]
    presentation = tokens.make_presentation(helpers.certificate_claims(), {}, now=NOW)
    assert _verify(pki, tokens.encode_token(presentation, pki.seals["ES256"].signer)).reasons == ["seal_role"]
    other_issuer = helpers.certificate_claims(iss=helpers.OTHER_ISSUER_CODE)
    verdict = _verify(pki, tokens.encode_token(other_issuer, pki.seals["SM2"].signer))
    assert verdict.reasons == ["issuer_mismatch"]


def test_a_seal_signing_a_type_outside_its_types_fails_seal_type(pki: helpers.Pki) -> None:
    """A department's seal signs only the types its department issues: a 居民身份证 from a seal of the
    household register's issuer is refused, and so is a type the registry does not know."""
    verdict = _verify(pki, _token(pki, type_code="id_card"))
    assert verdict.reasons == ["seal_type"] and verdict.checks["chain"] == "failed"
    assert verdict.checks["validity"] == "skipped" and verdict.certificate is None
    assert _verify(pki, _token(pki, type_code="fishing_licence")).reasons == ["seal_type"]
    # Presenter seals have no types: they present any type of the registry, none outside it.
    presentation = tokens.make_presentation(helpers.certificate_claims(type_code="id_card"), {}, now=NOW)
    assert _verify(pki, tokens.encode_token(presentation, pki.seals["presenter"].signer)).valid
    unknown = tokens.make_presentation(helpers.certificate_claims(type_code="fishing_licence"), {}, now=NOW)
    assert _verify(pki, tokens.encode_token(unknown, pki.seals["presenter"].signer)).reasons == ["seal_type"]


def test_chain_reasons_come_in_the_formats_order(pki: helpers.Pki) -> None:
    """Signature → seal active at iat → chain → seal types: a retired seal signing a type outside its types
    after its retirement names both, in that order (the SDK's verifier says the same)."""
    retired_at = int((NOW - timedelta(days=30)).timestamp())
    entries = [
        trustlist.seal_entry(
            pki.seals["ES256"].cert, role="issuer", valid_until=retired_at, types=["household_register"]
        )
    ]
    trust = helpers.trust_list(pki, entries=entries)
    assert _verify(pki, _token(pki, type_code="id_card"), trust=trust).reasons == ["seal_not_active", "seal_type"]


def test_revoked_or_inactive_seal(pki: helpers.Pki) -> None:
    revoked = [trustlist.seal_entry(pki.seals["ES256"].cert, role="issuer", status="revoked")]
    assert _verify(pki, _token(pki), trust=helpers.trust_list(pki, entries=revoked)).reasons == ["seal_revoked"]
    retired_at = int((NOW - timedelta(days=30)).timestamp())
    retired = [trustlist.seal_entry(pki.seals["ES256"].cert, role="issuer", valid_until=retired_at)]
    trust = helpers.trust_list(pki, entries=retired)
    assert _verify(pki, _token(pki), trust=trust).reasons == ["seal_not_active"]
    signed_before = _token(pki, iat=retired_at - 60)
    assert _verify(pki, signed_before, trust=trust).valid  # what a retired seal signed stays valid


def test_trust_list_freshness(pki: helpers.Pki) -> None:
    token = _token(pki, iat=int(NOW.timestamp()) + 3 * 86_400)
    later = NOW + timedelta(days=3)
    stale = _verify(pki, token, now=later, lists=helpers.status_lists(pki, now=later))
    assert stale.valid and stale.trust_list == "stale"
    late = NOW + timedelta(days=8)
    expired = _verify(pki, token, now=late, lists=helpers.status_lists(pki, now=late))
    assert expired.reasons == ["trust_list_expired"] and expired.trust_list == "expired"


def test_alg_in_header_must_match_the_seal(pki: helpers.Pki) -> None:
    """An ES256 seal's kid with an SM2 header (or the reverse) finds no seal to try."""
    signer = pki.seals["ES256"].signer
    parts = tokens.signing_input(helpers.certificate_claims(), "SM2", signer.kid)
    token = tokens.assemble_token(parts.protected, parts.payload, signer.sign(parts.to_be_signed))
    assert _verify(pki, token).reasons == ["unknown_seal"]


@pytest.mark.parametrize(
    "garbage", ["", "ZB1:", "ZB1:" + "A" * 5000, "\x00", "ZB1:%%%", "https://example.cn/v/ZB1:6BF"]
)
def test_garbage_is_format(pki: helpers.Pki, garbage: str) -> None:
    verdict = _verify(pki, garbage)
    assert verdict == Verdict(
        valid=False,
        reasons=["format"],
        checks=dict.fromkeys(["format", "signature", "chain", "validity", "status"], "skipped") | {"format": "failed"},
        trust_list="fresh",
        detail=verdict.detail,
    )


def test_non_text_is_format(pki: helpers.Pki) -> None:
    for value in (None, b"ZB1:", 42, ["ZB1:"]):
        assert _verify(pki, value).reasons == ["format"]  # type: ignore[arg-type]


_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@pytest.fixture(scope="module")
def offline(pki: helpers.Pki) -> tuple[trustlist.TrustList, dict[int, statuslist.StatusList]]:
    """Lists built once for the property tests, which run many examples each."""
    return helpers.trust_list(pki), helpers.status_lists(pki)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=600), st.text(alphabet=_B45, max_size=600).map(lambda s: "ZB1:" + s)))
def test_arbitrary_text_never_raises(offline: tuple, text: str) -> None:
    verdict = verify_token(text, *offline, NOW)
    assert not verdict.valid and verdict.reasons == ["format"]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_compressed_bytes_never_raise(offline: tuple, data: bytes) -> None:
    for blob in (data, zlib.compress(data)):
        verdict = verify_token("ZB1:" + base45.b45encode(blob).decode(), *offline, NOW)
        assert verdict.reasons == ["format"]
