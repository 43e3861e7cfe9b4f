"""The pure issuing rules: fields against types, holders, validity, serials, the canonical record
(msgspec's sorted JSON is RFC 8785 for every value a record can hold), and the seal picture."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import uuid
import xml.dom.minidom
from datetime import UTC, date, datetime, timedelta

import base45
import pytest
import rfc8785
from hypothesis import example, given
from hypothesis import strategies as st

from api.kernel.canonical import canonical_json
from api.kernel.problems import Problem
from esign import seal_image, service
from esign.codec import tokens
from esign.models import HolderIn, IssueIn
from esign.service import CertType, FieldRule
from matters import seed
from tests.esign import helpers

NOW = datetime(2026, 11, 21, 12, 0, 30, 123456, tzinfo=UTC)
TYPE = CertType(
    code="t",
    name="类型",
    gb_type_code=helpers.GB_TYPE_CODE,
    holder_kind="person",
    issuer_department_ids=frozenset(),
    fields=(
        FieldRule(1, "s", "文本", "string", True, False),
        FieldRule(2, "d", "日期", "date", True, False),
        FieldRule(3, "n", "数", "integer", False, False),
        FieldRule(4, "e", "选", "enum", False, True, ("甲", "乙")),
    ),
    validity_days=10,
)

text = st.text(max_size=20)
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | text
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=20
)


@given(json_values)
@example({"\ue000": 1, "\U00010000": 2, "𠀀": "𠀀", "a": ["\uffff"]})  # UTF-16 order: 𐀀 and 𠀀 before U+E000
def test_canonical_json_is_rfc8785(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_fields() -> None:
    public, sensitive = service.check_fields(TYPE, {"s": "x", "d": "2020-02-29", "n": 3, "e": "甲"})
    assert public == {"s": "x", "d": "2020-02-29", "n": 3} and sensitive == {"e": "甲"}
    with pytest.raises(Problem) as caught:
        service.check_fields(TYPE, {"s": " ", "d": "2021-02-29", "n": True, "e": "丙", "zz": 1})
    assert caught.value.slug == "certificate_fields_invalid"
    assert [e.field for e in caught.value.errors] == ["fields.zz", "fields.s", "fields.d", "fields.n", "fields.e"]


def test_holders() -> None:
    held = service.check_holder(
        TYPE, HolderIn(name=" 欧阳娜娜 ", id_number="11010519491231002x"), today=date(2026, 1, 1)
    )
    assert (held.name, held.id_number, held.name_masked, held.id_masked) == (
        "欧阳娜娜",
        "11010519491231002X",
        "欧**娜",
        "110***********002X",
    )
    for holder, slug in (
        (HolderIn(name="x", id_number="360426199113010079"), "id_number_invalid"),
        (HolderIn(name="x"), "holder_invalid"),
        (HolderIn(name="x", credit_code="91110000600037341L"), "holder_invalid"),
    ):
        with pytest.raises(Problem) as caught:
            service.check_holder(TYPE, holder, today=date(2026, 1, 1))
        assert caught.value.slug == slug


def test_validity() -> None:
    issued = NOW.replace(microsecond=0)
    start, end = service.check_validity(TYPE, None, None, issued_at=issued)
    assert (start, end) == (issued, issued + timedelta(days=10))
    start, end = service.check_validity(TYPE, NOW - timedelta(days=400), NOW + timedelta(days=1), issued_at=issued)
    assert start.microsecond == 0 and end == (NOW + timedelta(days=1)).replace(microsecond=0)
    with pytest.raises(Problem):
        service.check_validity(TYPE, None, NOW - timedelta(seconds=5), issued_at=issued)
    assert service.serial_text(service.serial_year(datetime(2026, 12, 31, 17, tzinfo=UTC)), 42) == "20270000042"


def test_a_draft_signs_to_a_token_bound_to_its_record() -> None:
    pki = helpers.make_pki()
    holder = service.Holder(kind="person", name="张三", id_number="11010519491231002X")
    draft = service.Draft(
        id=uuid.uuid4(),
        licence_id="1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
        serial="2430599",
        type_code="household_register",
        gb_type_code=helpers.GB_TYPE_CODE,
        issuer_code=helpers.ISSUER_CODE,
        holder=holder,
        public_fields={"a": "甲"},
        sensitive_fields={"b": "乙"},
        issued_at=NOW.replace(microsecond=0),
        valid_from=NOW.replace(microsecond=0) + timedelta(days=1),
        valid_until=None,
        status_ref=(1, 5),
        field_numbers={"a": 7, "b": 8},
    )
    token, digest = service.sign_draft(draft, pki.seals["SM2"].signer)
    claims = tokens.decode_token(token).claims
    record = service.record(draft)
    assert digest == tokens.record_digest(record) == claims.digest
    assert claims.fields == {7: "甲"} and claims.nbf == claims.iat + 86400 and claims.exp is None
    assert (claims.type_code, claims.serial, claims.version) == ("household_register", "2430599", 1)
    assert claims.licence_id(helpers.GB_TYPE_CODE) == draft.licence_id
    assert record["holder"] == {"kind": "person", "name": "张三", "id": "11010519491231002X"}
    # The record's salt: 16 random bytes, base64url, new for every draft and never in the token.
    assert len(draft.salt) == 16 and record["salt"] == base64.urlsafe_b64encode(draft.salt).rstrip(b"=").decode()
    same = {f.name: getattr(draft, f.name) for f in dataclasses.fields(draft) if f.name != "salt"}
    assert service.Draft(**same).salt != draft.salt
    assert draft.salt not in tokens.decompress(base45.b45decode(token[4:]))


def test_seal_picture_is_well_formed_and_escaped() -> None:
    svg = seal_image.seal_svg('某<局>&"单位"', "专用章</text><script>")
    xml.dom.minidom.parseString(svg)  # well-formed XML, so nothing broke out of its element
    assert "<script>" not in svg and "&lt;" in svg
    long = seal_image.seal_svg("株洲市人力资源和社会保障局劳动保障监察支队第三大队", "电子证照专用章")
    assert long.count("<text") == 24 + 1


@given(fields=st.dictionaries(text, scalars, max_size=5), ref=text, name=text)
def test_the_request_hash_is_of_the_sorted_body(fields: dict, ref: str, name: str) -> None:
    # Stored with every certificate (external_ref replays compare it): its bytes may never change.
    item = IssueIn(
        type_code="t",
        holder=HolderIn(name=name, id_number="11010519491231002X"),
        fields=fields,
        external_ref=ref,
        valid_from=NOW,
        application_id=uuid.UUID(int=7),
    )
    body = {
        "application_id": str(uuid.UUID(int=7)),
        "external_ref": ref,
        "fields": fields,
        "holder": {"credit_code": None, "id_number": "11010519491231002X", "name": name},
        "seal_id": None,
        "type_code": "t",
        "valid_from": "2026-11-21T12:00:30.123456Z",
        "valid_until": None,
    }
    assert service.request_hash(item) == hashlib.sha256(rfc8785.dumps(body)).digest()


def test_every_catalogue_field_has_its_own_registry_number() -> None:
    """Tokens key fields by ``n`` (FORMATS.md): each field of the shipped catalogue states it, once per type."""
    for ctype in seed.load_catalogue()["certificate_types"]:
        numbers = [f.get("n") for f in ctype["fields"]]
        assert all(type(n) is int and n > 0 for n in numbers), ctype["code"]
        assert len(set(numbers)) == len(numbers), ctype["code"]
