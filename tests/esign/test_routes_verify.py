"""``POST /v1/verify``: the server and an offline verifier give the same verdict on a shared corpus;
garbage is a ``format`` verdict, never an error; the endpoint is rate-limited per client IP."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient

from esign.codec import statuslist, tokens, trustlist, verify
from esign.store import seal as seal_store
from tests.esign import api, helpers
from tests.esign.api import auth, household, issue, problem

GARBAGE = [
    "",
    "ZB1:",
    "ZB1:%%%%",
    "hello",
    "ZB1:" + "0" * 5000,
    "HC1:NCFOXN%TS3DH",
    "ZB1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0BGJLFX3R3VHXK.PJ:2DPF6R:5SVBHABVCNN95SWMPHQUHQN%A0SOE+QQAB-HQ/HQ7IR.SQEEOK9SO6X",
    "ZB1:" + "A" * 100,
    "🙂",
    "ZB1:Z",
    "\x00\x01",
]


async def _offline(client: AsyncTestClient, now: datetime):
    """A verifier app: pins the root, downloads the trust list and every status list, checks offline."""
    root = cx509.load_pem_x509_certificate((await client.get("/v1/root-certificate")).content).public_bytes(
        Encoding.DER
    )
    trust = trustlist.parse_trust_list((await client.get("/v1/trust-list")).text, root)
    root_key = cx509.load_der_x509_certificate(root).public_key()
    lists = {}
    for list_id, ref in trust.status_lists.items():
        text = (await client.get(ref.url.removeprefix("http://127.0.0.1:8000"))).text
        lists[list_id] = statuslist.parse_status_list(text, root_key, url=ref.url)
    return lambda token: verify.verify_token(token, trust, lists, now)


async def test_server_and_offline_verifiers_agree_on_a_corpus(
    app: Litestar,
    client: AsyncTestClient,
    op: str,
    conn: asyncpg.Connection,
    police_admin: str,
    police_issuer: str,
    other_pki: helpers.Pki,
) -> None:
    await api.make_seal(client, police_admin)
    now = datetime.now(UTC)
    valid = await issue(client, police_issuer, household())
    revoked = await issue(client, police_issuer, household(api.ID_BOB))
    suspended = await issue(client, police_issuer, household(api.ID_CAROL))
    short = await issue(client, police_issuer, household(valid_until=(now + timedelta(hours=1)).isoformat()))
    for cert, action in ((revoked, "revoke"), (suspended, "suspend")):
        r = await client.post(
            f"/v1/dept/certificates/{cert['id']}/{action}", json={"reason": "核查"}, headers=auth(police_issuer)
        )
        assert r.status_code == 200
    sm2_admin = await api.staff(client, op, conn, "minzheng", ["dept_admin", "issuer"])
    sm2_seal = await api.make_seal(client, sm2_admin, algorithm="SM2")
    marriage = await issue(
        client,
        sm2_admin,
        {
            "type_code": "marriage_certificate",
            "holder": {"id_number": api.ID_ALICE, "name": "张三丰"},
            "external_ref": "m-1",
            "fields": {"spouse_name": "李四", "registered_on": "2020-05-20", "registry": "株洲市天元区民政局"},
        },
    )
    wrong_type, retired_wrong_type = await _outside_their_types(
        app, client, conn, sm2_admin, sm2_seal, marriage["token"]
    )
    presenter = app.state.esign.platform.presenter
    claims = tokens.decode_token(valid["token"]).claims
    fresh = tokens.encode_token(tokens.make_presentation(claims, {2: "户主"}, now=now, ttl=120), presenter)
    stale = tokens.encode_token(tokens.make_presentation(claims, {}, now=now, ttl=60), presenter)
    of_revoked = tokens.encode_token(
        tokens.make_presentation(tokens.decode_token(revoked["token"]).claims, {}, now=now, ttl=60), presenter
    )
    foreign = tokens.encode_token(helpers.certificate_claims(), other_pki.seals["ES256"].signer)
    flipped = valid["token"][:40] + ("A" if valid["token"][40] != "A" else "B") + valid["token"][41:]
    corpus = {
        "valid": valid["token"],
        "revoked": revoked["token"],
        "suspended": suspended["token"],
        "short": short["token"],
        "sm2": marriage["token"],
        "presentation": fresh,
        "presentation_expired": stale,
        "presentation_revoked": of_revoked,
        "foreign": foreign,
        "flipped": flipped,
        "wrong_type": wrong_type,
        "retired_wrong_type": retired_wrong_type,
        **{f"garbage{i}": g for i, g in enumerate(GARBAGE)},
    }
    for label, at in (("now", now), ("later", now + timedelta(hours=2))):
        app.state.clock = lambda at=at: at
        offline = await _offline(client, at)
        for name, token in corpus.items():
            server = await api.verify(client, token)
            local = offline(token)
            assert (server["valid"], server["reasons"], server["checks"]) == (
                local.valid,
                local.reasons,
                local.checks,
            ), (label, name)
        if label == "later":
            assert (await api.verify(client, corpus["short"]))["reasons"] == ["expired"]
            assert (await api.verify(client, corpus["presentation_expired"]))["reasons"] == ["presentation_expired"]
    del app.state.clock
    expect = {
        "valid": [],
        "revoked": ["revoked"],
        "suspended": ["suspended"],
        "sm2": [],
        "presentation": [],
        "presentation_expired": [],
        "presentation_revoked": ["revoked"],
        "foreign": ["unknown_seal"],
        "wrong_type": ["seal_type"],
        "retired_wrong_type": ["seal_not_active", "seal_type"],
        "garbage0": ["format"],
    }
    for name, reasons in expect.items():
        assert (await api.verify(client, corpus[name]))["reasons"] == reasons, name
    assert (await api.verify(client, corpus["flipped"]))["reasons"] in (["format"], ["signature"])


async def _outside_their_types(
    app: Litestar, client: AsyncTestClient, conn: asyncpg.Connection, admin: str, seal: dict, token: str
) -> tuple[str, str]:
    """A 居民身份证 signed by the 民政局's seal, which may sign marriage certificates only: once with the seal as
    it is, once with the seal retired (rotated) before it signed. Both verify ``seal_type``, the second after
    ``seal_not_active`` (the order of FORMATS.md, which the SDK's verifier must follow too)."""
    claims = dataclasses.replace(tokens.decode_token(token).claims, type_code="id_card")
    signer = await app.state.esign.signer(conn, await seal_store.get_seal(conn, UUID(seal["seal_id"])))
    wrong_type = tokens.encode_token(claims, signer)
    r = await client.post(
        f"/v1/dept/seals/{seal['seal_id']}/rotate", json={}, headers=auth(admin) | {"Idempotency-Key": "r-1"}
    )
    assert r.status_code in (200, 201), r.text
    later = dataclasses.replace(claims, iat=claims.iat + 3600, exp=None)
    return wrong_type, tokens.encode_token(later, signer)


async def test_the_answer_names_what_the_token_discloses(
    client: AsyncTestClient, conn: asyncpg.Connection, police_issuer: str, police_seal: dict
) -> None:
    cert = await issue(client, police_issuer, household())
    out = await api.verify(client, cert["token"])
    gongan = await api.department_id(conn, "gongan")
    assert out["valid"] is True and out["reasons"] == [] and out["seal_kid"] == police_seal["kid"]
    assert out["checks"] == {"format": "ok", "signature": "ok", "chain": "ok", "validity": "ok", "status": "ok"}
    c = out["certificate"]
    assert (c["type_code"], c["type_name"], c["kind"]) == ("household_register", "居民户口簿", "certificate")
    assert c["holder_masked"] == {"name": "张*丰", "id": "110***********002X"}
    assert c["gb_type_code"] == "11430200MB0001074D002"
    # Fields by number, with the registry's key and zh-CN label; the address is sensitive, so not in the token.
    assert c["fields"] == [
        {"n": 1, "key": "household_head", "label": "户主姓名", "value": "张三丰"},
        {"n": 2, "key": "relation", "label": "与户主关系", "value": "户主"},
        {"n": 4, "key": "registered_on", "label": "登记日期", "value": "2020-01-02"},
    ]
    assert c["issuer"] == {"name": "株洲市公安局", "credit_code": "11430200MB0001074D", "department_id": gongan}
    assert c["licence_id"] == cert["licence_id"] and c["valid_until"] is None
    assert out["trust_list"] == "fresh"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    token=st.one_of(
        st.text(max_size=300),
        st.text(max_size=40).map(lambda t: "ZB1:" + t),
        st.binary(max_size=200).map(lambda b: "ZB1:" + tokens.b45encode(b)),
    )
)
async def test_garbage_is_a_format_verdict(client: AsyncTestClient, token: str) -> None:
    r = await client.post("/v1/verify", json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "valid": False,
        "reasons": ["format"],
        "checks": {
            "format": "failed",
            "signature": "skipped",
            "chain": "skipped",
            "validity": "skipped",
            "status": "skipped",
        },
        "trust_list": "fresh",
    }


async def test_bodies_that_are_not_a_token_request(client: AsyncTestClient) -> None:
    problem(
        await client.post("/v1/verify", content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "malformed_request",
    )
    r = await client.post("/v1/verify", json={"token": 12})
    assert r.status_code in (400, 422) and r.headers["content-type"] == "application/problem+json"
    r = await client.post("/v1/verify", json={})
    assert r.status_code in (400, 422)


async def test_verify_is_rate_limited_per_client(client: AsyncTestClient) -> None:
    for _ in range(120):
        assert (await client.post("/v1/verify", json={"token": "x"})).status_code == 200
    r = await client.post("/v1/verify", json={"token": "x"})
    doc = problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0 and doc["retry_after"] > 0
