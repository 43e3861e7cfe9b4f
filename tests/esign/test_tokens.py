"""ZB1 tokens: round trips for both algorithms, size, and the guards on hostile input."""

from __future__ import annotations

import dataclasses
import uuid
import zlib
from datetime import datetime, timedelta

import base45
import cbor2
import pytest

from esign import service
from esign.codec import cose, licence, tokens
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
    presentation = tokens.make_presentation(helpers.certificate_claims(), {1: "男"}, now=helpers.NOW)
    decoded = tokens.decode_token(tokens.encode_token(presentation, pki.seals["presenter"].signer))
    assert decoded.claims == presentation
    assert decoded.claims.exp - decoded.claims.iat == 300
    assert len(decoded.claims.nonce) == 16


def test_payload_is_the_formats_layout() -> None:
    import cbor2

    payload = cbor2.loads(tokens.encode_claims(helpers.certificate_claims()))
    assert set(payload) == {1, 6, 7, -65537}
    private = payload[-65537]
    assert set(private) == {"v", "p", "t", "l", "h", "hi", "f", "s", "d"}
    assert private["v"] == 2 and private["p"] == "c" and private["t"] == "household_register"
    assert private["s"] == [helpers.STATUS_LIST_ID, 7]
    assert private["l"] == ["2430599", 1]  # the verifier rebuilds the licence identifier
    # Fields by registry number; Chinese text as GB 18030 bytes, 2 a character instead of UTF-8's 3.
    assert private["f"] == {
        1: "男".encode("gb18030"),
        2: b"\xba\xba",
        3: "户主".encode("gb18030"),
        4: "长春市".encode("gb18030"),
    }


@pytest.mark.parametrize("value", ["男", "长春市南关区人民大街1号", "2026-01-01", "abc", "𠀀张", "Ⅻ", "€", "ÿ", ""])
def test_text_fields_take_the_shorter_encoding_and_read_back(value: str) -> None:
    claims = helpers.certificate_claims(fields={1: value, 2: 7})
    wire = cbor2.loads(tokens.encode_claims(claims))[-65537]["f"]
    utf8, gb = value.encode(), value.encode("gb18030")
    assert wire[1] == (gb if len(gb) < len(utf8) else value) and wire[2] == 7
    assert tokens.decode_claims(tokens.encode_claims(claims)).fields == {1: value, 2: 7}


def test_the_c_and_python_encoders_write_the_same_bytes() -> None:
    if tokens._payload_c is None:
        pytest.skip("esign/codec/_cbor.c was not built here")
    values = ["张三", "a", "长春市南关区人民大街1号", "𠀀", "2026-01-01", "ä"]
    for i in range(len(values)):
        claims = helpers.certificate_claims(fields={n + 1: v for n, v in enumerate(values[i:])} | {30: 5, 400: None})
        args = (
            claims.kind,
            claims.iss,
            claims.iat,
            claims.exp,
            claims.nbf,
            claims.cti,
            claims.type_code,
            claims.serial,
            claims.version,
            claims.holder_name,
            claims.holder_id,
            dict(claims.fields),
            claims.status,
            claims.digest,
            claims.nonce,
        )
        assert tokens._payload_c(*args) == tokens._payload_python(*args) == tokens.encode_claims(claims)


def test_field_bytes_that_are_not_gb18030_are_malformed(pki: helpers.Pki) -> None:
    payload = cbor2.loads(tokens.encode_claims(helpers.certificate_claims()))
    payload[-65537]["f"] = {1: b"\xff\xfe"}
    with pytest.raises(MalformedToken, match="GB 18030"):
        tokens.decode_claims(cbor2.dumps(payload, canonical=True))


def test_a_masked_id_number_cannot_be_confirmed_from_a_token(pki: helpers.Pki) -> None:
    """The old attack: a token shows 430***********1234 and the digest of the full record, so trying each
    ID number that fits the mask (five districts, birth dates over eight years: 15,000 guesses) finds the
    one whose record hashes to ``d``. With the record's random salt, which no token carries, none does."""
    holder = service.Holder(kind="person", name="张三", id_number="430203201201011234")
    draft = service.Draft(
        id=uuid.UUID(int=1),
        licence_id=licence.build_licence_id(helpers.GB_TYPE_CODE, helpers.ISSUER_CODE, "2430599"),
        serial="2430599",
        type_code=helpers.TYPE_CODE,
        gb_type_code=helpers.GB_TYPE_CODE,
        issuer_code=helpers.ISSUER_CODE,
        holder=holder,
        public_fields={"rel": "户主"},
        sensitive_fields={},
        issued_at=helpers.NOW,
        valid_from=helpers.NOW,
        valid_until=None,
        status_ref=(1, 7),
        field_numbers={"rel": 3},
    )
    token, _ = service.sign_draft(draft, pki.seals["ES256"].signer)
    claims = tokens.decode_token(token).claims
    assert claims.holder_id == "430***********1234" and draft.salt not in base45.b45decode(token[4:])
    record = service.record(draft)
    unsalted = {k: v for k, v in record.items() if k != "salt"}  # all the token lets an attacker rebuild
    candidates = [
        f"{district}{(datetime(2008, 1, 1) + timedelta(days=day)):%Y%m%d}1234"
        for district in ("430202", "430203", "430204", "430211", "430212")
        for day in range(3000)
    ]
    assert len(candidates) == 15_000 and holder.id_number in candidates

    def confirmed(digest: bytes, salt: str | None) -> list[str]:
        found = []
        for guess in candidates:
            guessed = unsalted | {"holder": {**unsalted["holder"], "id": guess}}
            if salt is not None:
                guessed["salt"] = salt
            if tokens.record_digest(guessed) == digest:
                found.append(guess)
        return found

    assert confirmed(claims.digest, None) == [] and confirmed(claims.digest, "AAAAAAAAAAAAAAAAAAAAAA") == []
    # The same search against a digest of the unsalted record (format v1) finds the number; and the archive,
    # which keeps the salt, still proves the token is of this record.
    assert confirmed(tokens.record_digest(unsalted), None) == [holder.id_number]
    assert confirmed(claims.digest, record["salt"]) == [holder.id_number]


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_size_of_a_common_certificate(pki: helpers.Pki, alg: str) -> None:
    """A 居民户口簿 token disclosing four Chinese-text fields fits a phone camera's budget."""
    claims = helpers.certificate_claims()
    assert len(claims.fields) == 4
    sizes = [len(tokens.encode_token(claims, pki.seals[alg].signer)) for _ in range(20)]
    bare = len(tokens.encode_token(dataclasses.replace(claims, fields={}), pki.seals[alg].signer))
    print(
        f"\n{alg}: certificate token with four Chinese-text fields: {max(sizes)} characters (max of 20); "
        f"with no fields: {bare}"
    )
    assert max(sizes) <= 500


def test_size_with_longer_fields_is_reported(pki: helpers.Pki) -> None:
    """Not a bound: shows what longer field values cost, for whoever defines certificate types."""
    fields = {1: "李*四", 2: "长春市朝阳区民政局", 3: "2024年5月20日", 4: "结婚登记"}
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
    fields = {i: "".join(chr(0x4E00 + (i * 7919 + j * 104729) % 20000) for j in range(40)) for i in range(60)}
    with pytest.raises(TokenTooLarge):
        tokens.encode_token(helpers.certificate_claims(fields=fields), pki.seals["ES256"].signer)


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "11220000013544541N"},
        {"cti": b"short"},
        {"digest": b"\x00" * 31},
        {"status": (1, 131_072)},
        {"serial": "2430-599"},
        {"version": 0},
        {"version": 1000},
        {"type_code": "11100000000013338W032"},
        {"fields": {"sex": "男"}},
        {"fields": {-1: "男"}},
        {"exp": 0},
        {"nonce": b"\x00" * 16},
        {"kind": "x"},
        {"fields": {1: object()}},
        {"fields": {1: ["a"]}},
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
