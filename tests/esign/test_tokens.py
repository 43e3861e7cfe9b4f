"""ZB1 tokens: round trips for both algorithms, size, and the guards on hostile input."""

from __future__ import annotations

import dataclasses
import zlib
from datetime import timedelta

import base45
import pytest

from esign import cose, tokens
from esign.errors import MalformedToken, TokenTooLarge
from tests.esign import helpers


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_round_trip(pki: helpers.Pki, alg: str) -> None:
    claims = helpers.certificate_claims(exp=int((helpers.NOW + timedelta(days=3650)).timestamp()))
    token = tokens.encode_token(claims, pki.seals[alg].signer)
    assert token.startswith("ZB1:")
    decoded = tokens.decode_token(token)
    assert decoded.claims == claims
    assert decoded.sign1.alg == alg
    assert decoded.sign1.kid == pki.seals[alg].signer.kid
    assert cose.decode_sign1(zlib.decompress(base45.b45decode(token[4:]))).protected == decoded.sign1.protected


def test_presentation_round_trip(pki: helpers.Pki) -> None:
    presentation = tokens.make_presentation(helpers.certificate_claims(), {"sex": "男"}, now=helpers.NOW)
    decoded = tokens.decode_token(tokens.encode_token(presentation, pki.seals["presenter"].signer))
    assert decoded.claims == presentation
    assert decoded.claims.exp - decoded.claims.iat == 300
    assert len(decoded.claims.nonce) == 16


def test_payload_is_the_formats_layout() -> None:
    import cbor2

    payload = cbor2.loads(tokens.encode_claims(helpers.certificate_claims()))
    assert set(payload) == {1, 6, 7, -65537}
    assert set(payload[-65537]) == {"v", "p", "t", "l", "h", "hi", "f", "s", "d"}
    assert payload[-65537]["v"] == 1 and payload[-65537]["p"] == "c"
    assert payload[-65537]["s"] == [helpers.STATUS_LIST_ID, 7]


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_size_of_a_common_certificate(pki: helpers.Pki, alg: str) -> None:
    """A 居民户口簿 token disclosing four Chinese-text fields fits a phone camera's budget."""
    claims = helpers.certificate_claims()
    assert len(claims.fields) == 4
    sizes = [len(tokens.encode_token(claims, pki.seals[alg].signer)) for _ in range(20)]
    bare = len(tokens.encode_token(dataclasses.replace(claims, fields={}), pki.seals[alg].signer))
    print(f"\n{alg}: certificate token with four Chinese-text fields: {max(sizes)} characters (max of 20); "
          f"with no fields: {bare}")
    assert max(sizes) <= 500


def test_size_with_longer_fields_is_reported(pki: helpers.Pki) -> None:
    """Not a bound: shows what longer field values cost, for whoever defines certificate types."""
    fields = {"spouse": "李*四", "office": "长春市朝阳区民政局", "date": "2024年5月20日", "kind": "结婚登记"}
    size = len(tokens.encode_token(helpers.certificate_claims(fields=fields), pki.seals["ES256"].signer))
    print(f"\nES256: marriage-style token with longer field values: {size} characters")
    assert size < 600


def test_a_token_has_one_spelling(pki: helpers.Pki) -> None:
    token = tokens.encode_token(helpers.certificate_claims(), pki.seals["ES256"].signer)
    for spelled in (token + "\n", token + "\n\n\n", token[:10] + "\n" + token[10:]):
        with pytest.raises(MalformedToken):
            tokens.decode_token(spelled)


def test_over_length_is_rejected_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(_: object) -> bytes:
        raise AssertionError("decoded a token that was too long")

    monkeypatch.setattr(tokens.base45, "b45decode", explode)
    with pytest.raises(MalformedToken, match="longer than 4500"):
        tokens.decode_token("ZB1:" + "0" * 4_497)


def test_zip_bomb_is_capped() -> None:
    bomb = zlib.compress(b"\x00" * (2 * 1024 * 1024), 9)  # 32 times the cap, from ~2 KB
    token = "ZB1:" + base45.b45encode(bomb).decode()
    assert len(token) < tokens.MAX_TOKEN_CHARS  # passes the length guard, so only the cap stops it
    with pytest.raises(MalformedToken, match="64 KiB"):
        tokens.decode_token(token)
    exactly = zlib.compress(b"\x00" * tokens.MAX_DECOMPRESSED)
    assert tokens.decompress(exactly) == b"\x00" * tokens.MAX_DECOMPRESSED


def test_encoding_refuses_oversized_tokens(pki: helpers.Pki) -> None:
    fields = {f"k{i}": "".join(chr(0x4E00 + (i * 7919 + j * 104729) % 20000) for j in range(40)) for i in range(40)}
    with pytest.raises(TokenTooLarge):
        tokens.encode_token(helpers.certificate_claims(fields=fields), pki.seals["ES256"].signer)


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "11220000013544541N"},
        {"cti": b"short"},
        {"digest": b"\x00" * 31},
        {"status": (1, 131_072)},
        {"licence_id": "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"},
        {"exp": 0},
        {"nonce": b"\x00" * 16},
        {"kind": "x"},
        {"fields": {"k": object()}},
    ],
)
def test_malformed_claims_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        tokens.encode_claims(helpers.certificate_claims(**overrides))


def test_presentations_live_at_most_five_minutes() -> None:
    with pytest.raises(ValueError):
        tokens.make_presentation(helpers.certificate_claims(), {}, now=helpers.NOW, ttl=301)


@pytest.mark.parametrize(
    "text",
    ["", "ZB1:", "ZB1", "zb1:NCF", "HC1:NCFOXN", "ZB1:!!!", "ZB1:A", "ZB1:" + base45.b45encode(b"hello").decode()],
)
def test_garbage_is_malformed(text: str) -> None:
    with pytest.raises(MalformedToken):
        tokens.decode_token(text)


def test_untagged_or_padded_cose_is_malformed(pki: helpers.Pki) -> None:
    parts = tokens.signing_input(helpers.certificate_claims(), "ES256", pki.seals["ES256"].signer.kid)
    signature = pki.seals["ES256"].signer.sign(parts.to_be_signed)
    good = cose.encode_sign1(parts.protected, parts.payload, signature)
    assert cose.decode_sign1(good).signature == signature
    for bad in (good[1:], good + b"\x00", good[:-1]):
        with pytest.raises(MalformedToken):
            cose.decode_sign1(bad)


def test_external_signer_flow(pki: helpers.Pki) -> None:
    """A department that keeps its key signs ``to_be_signed``; the platform assembles the token."""
    seal = pki.seals["SM2"]
    parts = tokens.signing_input(helpers.certificate_claims(), "SM2", seal.signer.kid)
    token = tokens.assemble_token(parts.protected, parts.payload, seal.signer.sign(parts.to_be_signed))
    assert tokens.decode_token(token).claims == helpers.certificate_claims()


def test_set_deflate_padding_bits_are_malformed(pki: helpers.Pki) -> None:
    """zlib ignores the padding after the last block; a token must still have one spelling only."""
    checked = 0
    for _ in range(10):
        raw = base45.b45decode(tokens.encode_token(helpers.certificate_claims(), pki.seals["ES256"].signer)[4:])
        out, last = zlib.decompress(raw), len(raw) - 5
        for bit in range(8):
            flipped = raw[:last] + bytes([raw[last] ^ (1 << bit)]) + raw[last + 1 :]
            try:
                padding = zlib.decompress(flipped) == out
            except zlib.error:
                padding = False
            if padding:
                assert not raw[last] >> bit & 1  # we write zeros
                with pytest.raises(MalformedToken, match="padding"):
                    tokens.decode_token("ZB1:" + base45.b45encode(flipped).decode())
                checked += 1
    assert checked > 0
