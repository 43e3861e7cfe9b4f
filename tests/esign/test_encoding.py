"""Issuing's hand-made encodings write exactly what the reference code writes: canonical CBOR as
cbor2's, the COSE structures, and a batch-signed certificate as a single one; token compression is
a strict zlib stream as small as zlib's level 9."""

from __future__ import annotations

import secrets
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import base45
import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.config import Settings
from api.kernel.crypto import Keyring
from esign import service
from esign.batch import rows as batch_rows
from esign.batch import sign as batch_sign
from esign.codec import cose, keys, licence, tokens
from esign.errors import InvalidLicenceId
from tests.esign import helpers
from tests.native import built

_cbor = built("esign.codec._cbor")
KEYRING = Keyring.from_settings(Settings(master_key="a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="))
cbor_keys = st.text(max_size=6) | st.integers(min_value=-(2**70), max_value=2**70)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=30)
    | st.binary(max_size=30)
    | st.floats(allow_nan=False)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(cbor_keys, inner, max_size=5), max_leaves=25
)


@given(values)
def test_canonical_is_cbor2s(value: object) -> None:
    reference = cbor2.dumps(value, canonical=True)
    assert cose.canonical(value) == reference and cose.canonical_python(value) == reference
    if _cbor is not None:  # the C form writes what it takes, and leaves floats and big integers to Python
        assert _cbor.canonical(value) in (reference, None)


@pytest.mark.skipif(_cbor is None, reason="built without a C compiler")
def test_the_c_canonical_takes_what_tokens_hold() -> None:
    value = {"b": [1, -1, 2**64 - 1, -(2**64)], "a": {"张": None, "x": True}, 7: b"\x00" * 30, "": ("t", False)}
    assert _cbor.canonical(value) == cbor2.dumps(value, canonical=True)
    assert _cbor.canonical({"a": [1.5]}) is None and _cbor.canonical(2**64) is None
    assert _cbor.canonical(-(2**64) - 1) is None and _cbor.canonical(object()) is None
    with pytest.raises(UnicodeEncodeError):
        _cbor.canonical({"a": "\ud800"})
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(RecursionError):
        _cbor.canonical(nested)


@given(st.binary(max_size=300), st.binary(max_size=70_000), st.binary(max_size=64))
def test_cose_structures_are_cbor2s(protected: bytes, payload: bytes, signature: bytes) -> None:
    assert cose.sig_structure(protected, payload) == cbor2.dumps(["Signature1", protected, b"", payload])
    assert cose.encode_sign1(protected, payload, signature) == cbor2.dumps(
        cbor2.CBORTag(cose.TAG_SIGN1, [protected, {}, payload, signature])
    )


def _reference_payload(c: tokens.Claims) -> bytes:
    private = {
        "v": 2,
        "p": c.kind,
        "t": c.type_code,
        "l": [c.serial, c.version],
        "h": c.holder_name,
        "hi": c.holder_id,
        "f": {n: tokens.compact_text(v) for n, v in c.fields.items()},
        "s": list(c.status),
        "d": c.digest,
    }
    if c.nonce is not None:
        private["n"] = c.nonce
    payload = {1: c.iss, 6: c.iat, 7: c.cti, -65537: private}
    if c.exp is not None:
        payload[4] = c.exp
    if c.nbf is not None:
        payload[5] = c.nbf
    return cbor2.dumps(payload, canonical=True)


field_values = st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53) | st.text(max_size=30)


@given(
    fields=st.dictionaries(st.integers(min_value=0, max_value=2**32 - 1), field_values, max_size=6),
    exp=st.none() | st.integers(min_value=1, max_value=2**37),
    nbf=st.none() | st.integers(min_value=0, max_value=2**37),
    status=st.tuples(st.integers(min_value=0, max_value=2**40), st.integers(min_value=0, max_value=131_071)),
    name=st.text(max_size=12),
)
def test_claims_payload_is_cbor2s(fields: dict, exp: int | None, nbf: int | None, status: tuple, name: str) -> None:
    base = helpers.certificate_claims()
    claims = tokens.Claims(
        **{
            **base.__dict__,
            "fields": fields,
            "exp": None if exp is None else base.iat + exp,
            "nbf": nbf,
            "status": status,
            "holder_name": name,
        }
    )
    assert tokens.encode_claims(claims) == _reference_payload(claims)
    presentation = tokens.make_presentation(claims, fields, now=helpers.NOW)
    assert tokens.encode_claims(presentation) == _reference_payload(presentation)
    for c in (claims, presentation):  # the Python form too, where the C one is built
        assert tokens._payload_python(
            c.kind,
            c.iss,
            c.iat,
            c.exp,
            c.nbf,
            c.cti,
            c.type_code,
            c.serial,
            c.version,
            c.holder_name,
            c.holder_id,
            c.fields,
            c.status,
            c.digest,
            c.nonce,
        ) == _reference_payload(c)


@settings(max_examples=300)
@given(
    st.binary(max_size=1_500)
    | st.lists(st.sampled_from([b"ZB1", b"\x00", "张三".encode(), b"abc"]), max_size=300).map(b"".join)
)
def test_compress_writes_a_zlib_stream_the_strict_reader_takes(data: bytes) -> None:
    compressed = tokens.compress(data)
    assert zlib.decompress(compressed) == data
    assert tokens.decompress(compressed) == data  # zero padding bits, one stream, nothing after it


def test_compress_from_many_threads_at_once_writes_what_one_thread_writes() -> None:
    inputs = [bytes([i]) * 500 + secrets.token_bytes(300) for i in range(64)]
    with ThreadPoolExecutor(8) as pool:
        outputs = list(pool.map(lambda d: [tokens.compress(d) for _ in range(20)], inputs))
    assert all(set(o) == {tokens.compress(d)} for d, o in zip(inputs, outputs, strict=True))


@pytest.mark.parametrize("data", [secrets.token_bytes(60_000), b"ZB1" * 20_000, secrets.token_bytes(5_000) * 9, b"Z"])
def test_compress_takes_inputs_of_any_size(data: bytes) -> None:
    assert tokens.decompress(tokens.compress(data)) == data


def _signed_chunk(count: int, sensitive: dict) -> list:
    """A chunk of ``count`` household-register-like certificates signed as batch issuing signs them."""
    signer = helpers.make_pki().seals["ES256"].signer
    specs = [
        (
            uuid.uuid4().bytes,
            helpers.GB_TYPE_CODE,
            helpers.ISSUER_CODE,
            f"2026{i:07d}",
            helpers.TYPE_CODE,
            ("person", "欧阳娜娜", "11010519491231002X", None),
            {"household_head": "欧阳娜娜", "relation": "户主", "address": f"株洲市天元区泰山路{i}号"},
            sensitive,
            1_790_000_000,
            1_790_000_000,
            None,
            1,
            i,
            {"household_head": 1, "relation": 2, "address": 3},
            signer.kid,
        )
        for i in range(count)
    ]
    return batch_sign.sign_specs({signer.kid: ("ES256", keys.private_key_to_der(signer.key))}, specs, KEYRING)


def test_tokens_compress_as_small_as_with_zlib_level_9() -> None:
    signed = _signed_chunk(200, {})
    sign1s = [zlib.decompress(base45.b45decode(s.token.removeprefix("ZB1:"))) for s in signed]
    ours = sum(len(tokens.compress(b)) for b in sign1s)
    assert ours <= sum(len(zlib.compress(b, 9)) for b in sign1s) * 1.005


def test_a_batch_signed_certificate_is_what_a_single_issue_signs() -> None:
    pki = helpers.make_pki()
    signer = pki.seals["ES256"].signer
    issued = datetime(2026, 11, 21, 12, 0, 30, tzinfo=UTC)
    cases = [
        (
            service.Holder(kind="person", name="欧阳娜娜", id_number="11010519491231002X"),
            {"b": "乙", "n": 3},
            issued,
            issued + timedelta(days=3650),
        ),
        (
            service.Holder(kind="organisation", name="某公司", credit_code=helpers.OTHER_ISSUER_CODE),
            {},
            issued + timedelta(days=1),
            None,
        ),
    ]
    for holder, sensitive, start, end in cases:
        cid, serial = uuid.uuid4(), "20260000042"
        numbers = {"a": 1, "z": 2, "b": 3, "n": 4}
        spec = (
            cid.bytes,
            helpers.GB_TYPE_CODE,
            helpers.ISSUER_CODE,
            serial,
            helpers.TYPE_CODE,
            (holder.kind, holder.name, holder.id_number, holder.credit_code),
            {"a": "甲", "z": 12},
            sensitive,
            int(issued.timestamp()),
            int(start.timestamp()),
            None if end is None else int(end.timestamp()),
            1,
            5,
            numbers,
            signer.kid,
        )
        [signed] = batch_sign.sign_specs({signer.kid: ("ES256", keys.private_key_to_der(signer.key))}, [spec], KEYRING)
        draft = service.Draft(
            id=cid,
            licence_id=licence.build_licence_id(helpers.GB_TYPE_CODE, helpers.ISSUER_CODE, serial),
            serial=serial,
            type_code=helpers.TYPE_CODE,
            gb_type_code=helpers.GB_TYPE_CODE,
            issuer_code=helpers.ISSUER_CODE,
            holder=holder,
            public_fields={"a": "甲", "z": 12},
            sensitive_fields=sensitive,
            issued_at=issued,
            valid_from=start,
            valid_until=end,
            status_ref=(1, 5),
            field_numbers=numbers,
            salt=signed.record_salt,
        )
        assert signed.licence_id == draft.licence_id and len(signed.record_salt) == 16
        assert signed.record_digest == service.digest(draft)
        token = tokens.decode_token(signed.token)
        assert token.sign1.payload == tokens.encode_claims(service.claims(draft, signed.record_digest))
        assert token.sign1.protected == cose.protected_header(signer.alg, signer.kid)
        assert keys.verify_raw(keys.public_key_of(signer.key), token.sign1.to_be_signed(), token.sign1.signature)
        assert KEYRING.decrypt_str(signed.holder_name, context=batch_sign.NAME_CONTEXT) == holder.name
        assert (signed.name_masked, signed.id_masked) == (holder.name_masked, holder.id_masked)
        if holder.id_number:
            assert KEYRING.decrypt_str(signed.holder_id, context=batch_sign.ID_CONTEXT) == holder.id_number
        else:
            assert signed.holder_id is None
        if sensitive:
            assert (
                KEYRING.decrypt(signed.sealed_fields, context=batch_sign.FIELDS_CONTEXT) == '{"b":"乙","n":3}'.encode()
            )
        else:
            assert signed.sealed_fields is None


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=40) | st.text(max_size=41))
def test_licence_builder_is_build_licence_id(serial: str) -> None:
    build = licence.builder(helpers.GB_TYPE_CODE, helpers.ISSUER_CODE)
    try:
        expected = licence.build_licence_id(helpers.GB_TYPE_CODE, helpers.ISSUER_CODE, serial)
    except InvalidLicenceId:
        with pytest.raises(InvalidLicenceId):
            build(serial)
    else:
        assert build(serial) == expected
    with pytest.raises(InvalidLicenceId, match="issuer code"):
        licence.builder(helpers.GB_TYPE_CODE, "not a credit code")(serial)


@given(st.text(max_size=20))
def test_indexer_is_blind_index(value: str) -> None:
    assert KEYRING.indexer(purpose="id_number")(value) == KEYRING.blind_index(value, purpose="id_number")


def test_every_encryption_of_a_chunk_has_its_own_nonce() -> None:
    signer = helpers.make_pki().seals["ES256"].signer
    chunk = batch_rows.Chunk(uuid.uuid4().bytes, "市公安局", "staff:1", datetime.now(UTC), datetime.now(UTC))
    # Every holder is new: half write their person row, half (batch_rows.NEW_AGAIN) only seal its values.
    items = [
        (
            (
                uuid.uuid4().bytes,
                helpers.GB_TYPE_CODE,
                helpers.ISSUER_CODE,
                f"2026{i:07d}",
                helpers.TYPE_CODE,
                ("person", "欧阳娜娜", "11010519491231002X", None),
                {"relation": "户主"},
                {"b": "乙"},
                1_790_000_000,
                1_790_000_000,
                None,
                1,
                i,
                {"relation": 1, "b": 2},
                signer.kid,
            ),
            batch_rows.Place(
                uuid.uuid4().bytes,
                bytes(32),
                batch_rows.NEW_PERSON if i % 2 else batch_rows.NEW_AGAIN,
                "户口簿",
                uuid.uuid4().bytes,
                f"r-{i}",
                bytes(32),
                None,
            ),
        )
        for i in range(40)
    ]
    rows = batch_sign.issue_rows({signer.kid: ("ES256", keys.private_key_to_der(signer.key))}, chunk, items, KEYRING)
    # Every sealed value starts with the format version and the key id, then its nonce.
    kid = KEYRING.current_kid.encode()
    head = bytes([1, len(kid)]) + kid
    sealed = [rows.certificates.data, rows.persons.data, *(part for person in rows.again.values() for part in person)]
    nonces = [
        row[at + len(head) : at + len(head) + 12]
        for row in sealed
        for at in range(len(row))
        if row.startswith(head, at)
    ]
    assert len(nonces) == 200 and len(set(nonces)) == 200  # name, ID number, fields; the new person's two
    assert sorted(rows.again) == list(range(0, 40, 2)) and len(rows.persons.data) > 20 * 100
    assert KEYRING.decrypt_str(rows.again[38][1], context="person.name") == "欧阳娜娜"  # type: ignore[index]
