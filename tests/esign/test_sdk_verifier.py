"""The TypeScript SDK's offline verifier gives the server's verdicts on a shared corpus: valid,
corrupted, another root, revoked, suspended, expired, presentations fresh, expired and of a revoked
certificate, a seal signing a type outside its types (also retired), Chinese fields as GB 18030,
garbage — now and two hours later (FORMATS.md §Signed tokens): the same reasons in the same order,
the same licence identifier rebuilt and the same fields under the registry's labels."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.serialization import Encoding
from litestar import Litestar
from litestar.testing import AsyncTestClient

from esign.codec import keys, qr, statuslist, tokens, trustlist, verify
from tests.esign import api, crafted, helpers
from tests.esign.api import auth, household, issue
from tests.esign.test_routes_verify import GARBAGE, _outside_their_types
from tests.js_sdk import built_sdk, run
from tests.people import id_number


async def test_the_sdk_verifier_gives_the_servers_verdicts(
    app: Litestar,
    client: AsyncTestClient,
    op: str,
    police_admin: str,
    police_issuer: str,
    other_pki: helpers.Pki,
    conn: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    built_sdk()
    await api.make_seal(client, police_admin)
    # The SDK verifies ES256 seals only (an SM2 token is "signature" there), so the 民政局's seal is ES256 here.
    mz_admin = await api.staff(client, op, conn, "minzheng", ["dept_admin", "issuer"])
    mz_seal = await api.make_seal(client, mz_admin)
    marriage = await issue(
        client,
        mz_admin,
        {
            "type_code": "marriage_certificate",
            "holder": {"id_number": api.ID_ALICE, "name": "张三丰"},
            "external_ref": "m-1",
            "fields": {
                "spouse_name": "欧阳𠀀娜",
                "registered_on": "2020-05-20",
                "registry": "株洲市天元区民政局 Office 3",
            },
        },
    )
    wrong_type, retired_wrong_type = await _outside_their_types(app, client, conn, mz_admin, mz_seal, marriage["token"])
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
    # The department's SM2 seal, made after the ES256 one, is the newest: it signs from here on.
    sm2_seal = await api.make_seal(client, police_admin, algorithm="SM2")
    sm2_valid = await issue(client, police_issuer, household(id_number("19900202", 5, male=True)))
    sm2_revoked = await issue(client, police_issuer, household(id_number("19910303", 6, male=False)))
    r = await client.post(
        f"/v1/dept/certificates/{sm2_revoked['id']}/revoke", json={"reason": "核查"}, headers=auth(police_issuer)
    )
    assert r.status_code == 200
    assert sm2_seal["algorithm"] == "SM2"
    sm2 = sm2_valid["token"]
    signed = tokens.decode_token(sm2).sign1
    flipped = {
        f"sm2_bad_signature{i}": tokens.assemble_token(
            signed.protected,
            signed.payload,
            signed.signature[:i] + bytes([signed.signature[i] ^ 1]) + signed.signature[i + 1 :],
        )
        for i in (0, 31, 32, 63)
    }  # r and s, first and last bytes
    presenter = app.state.esign.platform.presenter
    claims = tokens.decode_token(valid["token"]).claims
    fresh = tokens.encode_token(tokens.make_presentation(claims, {2: "户主", 99: "?"}, now=now, ttl=120), presenter)
    stale = tokens.encode_token(tokens.make_presentation(claims, {}, now=now, ttl=60), presenter)
    of_revoked = tokens.encode_token(
        tokens.make_presentation(tokens.decode_token(revoked["token"]).claims, {}, now=now, ttl=60), presenter
    )
    foreign = tokens.encode_token(helpers.certificate_claims(), other_pki.seals["ES256"].signer)
    token = valid["token"]
    corrupted = {
        f"corrupted{i}": token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        for i in (4, 5, 40, 41, len(token) // 2, len(token) - 30, len(token) - 2, len(token) - 1)
    }
    corpus = {
        "valid": token,
        "revoked": revoked["token"],
        "suspended": suspended["token"],
        "expired": short["token"],
        "presentation": fresh,
        "presentation_expired": stale,
        "presentation_revoked": of_revoked,
        "other_root": foreign,
        "marriage": marriage["token"],
        "wrong_type": wrong_type,
        "retired_wrong_type": retired_wrong_type,
        **corrupted,
        **{f"garbage{i}": g for i, g in enumerate(GARBAGE)},
        # SM2 seals (SM2 with SM3): made by the server, checked by the SDK's sm2 module.
        "sm2_valid": sm2,
        "sm2_revoked": sm2_revoked["token"],
        "sm2_other_root": tokens.encode_token(helpers.certificate_claims(), other_pki.seals["SM2"].signer),
        **{
            f"sm2_corrupted{i}": sm2[:i] + ("A" if sm2[i] != "A" else "B") + sm2[i + 1 :]
            for i in (40, len(sm2) // 2, len(sm2) - 30, len(sm2) - 2)
        },
        **flipped,
    }
    root = cx509.load_pem_x509_certificate((await client.get("/v1/root-certificate")).content).public_bytes(
        Encoding.DER
    )
    trust_text = (await client.get("/v1/trust-list")).text
    urls = [
        ref["url"] for ref in json.loads(base64.urlsafe_b64decode(trust_text.split(".")[1] + "==="))["status_lists"]
    ]
    lists = [(await client.get(url.removeprefix("http://127.0.0.1:8000"))).text for url in urls]
    times = {"now": now, "later": now + timedelta(hours=2)}
    (tmp_path / "corpus.json").write_text(
        json.dumps(
            {
                "root_cert": base64.b64encode(root).decode(),
                "trust_list": trust_text,
                "status_lists": lists,
                "times": {label: at.timestamp() for label, at in times.items()},
                # A verifier app also takes the QR code's URL (the server's /v1/verify takes the bare token).
                "tokens": corpus
                | {
                    "qr_url": qr.qr_url("HTTP://127.0.0.1:8000", token),
                    "qr_url_lower": "https://zb.example.cn/base/v/" + qr.qr_url("", token).removeprefix("/V/"),
                },
            }
        )
    )
    offline = json.loads(run(["node", "scripts/verify-corpus.mjs", str(tmp_path / "corpus.json")]))

    seen = set()
    for label, at in times.items():
        app.state.clock = lambda at=at: at
        for name, tok in corpus.items():
            server = await api.verify(client, tok)
            seen.add((name, tuple(server["reasons"])))
            mine = offline[label][name]
            detail = mine.pop("detail", None)
            shown = server.get("certificate")
            if shown is not None:
                shown = {k: shown[k] for k in ("type_code", "type_name", "gb_type_code", "licence_id", "fields")}
            assert mine == {
                "valid": server["valid"],
                "reasons": server["reasons"],
                "checks": server["checks"],
                "certificate": shown,
            }, (label, name, detail)
    del app.state.clock
    assert offline["now"]["qr_url"] == offline["now"]["qr_url_lower"] == offline["now"]["valid"]
    # The corpus covers each verdict the issue names.
    reasons = dict(seen)
    assert reasons["valid"] == () and reasons["revoked"] == ("revoked",) and reasons["suspended"] == ("suspended",)
    assert reasons["other_root"] == ("unknown_seal",) and reasons["garbage0"] == ("format",)
    now_reasons = {name: verdict["reasons"] for name, verdict in offline["now"].items()}
    assert now_reasons["wrong_type"] == ["seal_type"] and now_reasons["retired_wrong_type"] == [
        "seal_not_active",
        "seal_type",
    ]
    assert now_reasons["marriage"] == [] and now_reasons["presentation"] == []
    fields = offline["now"]["marriage"]["certificate"]["fields"]
    assert fields[0] == {"n": 1, "key": "spouse_name", "label": "配偶姓名", "value": "欧阳𠀀娜"}
    assert offline["now"]["presentation"]["certificate"]["fields"] == [
        {"n": 2, "key": "relation", "label": "与户主关系", "value": "户主"},
        {"n": 99, "key": None, "label": None, "value": "?"},
    ]
    assert reasons["sm2_valid"] == () and reasons["sm2_revoked"] == ("revoked",)
    assert reasons["sm2_other_root"] == ("unknown_seal",)
    assert all(reasons[name] == ("signature",) for name in flipped)
    assert ("expired", ("expired",)) in seen and ("presentation_expired", ("presentation_expired",)) in seen


def _chain_corpus(root: crafted.Root, seals: dict[str, helpers.Seal], tmp_path: Path) -> dict[str, tuple[Any, Any]]:
    """Each seal's token verified by the server and by the SDK against ``root``'s trust list at NOW."""
    signed_trust = trustlist.build_trust_list(
        iss="https://zb.example.cn",
        root_key=root.key,
        root_cert=root.cert,
        seals=[trustlist.seal_entry(s.cert, role="issuer") for s in seals.values()],
        status_lists=[trustlist.StatusListRef(helpers.STATUS_LIST_ID, helpers.STATUS_URL)],
        types=[helpers.TYPE],
        now=helpers.NOW,
    )
    signed_list = statuslist.build_status_list(
        statuslist.new_status_bits(),
        url=helpers.STATUS_URL,
        root_key=root.key,
        root_kid=keys.kid_of(root.cert).hex(),
        now=helpers.NOW,
    )
    trust = trustlist.parse_trust_list(signed_trust, root.cert)
    lists = {
        helpers.STATUS_LIST_ID: statuslist.parse_status_list(signed_list, root.key.public_key(), url=helpers.STATUS_URL)
    }
    corpus = {name: tokens.encode_token(helpers.certificate_claims(), s.signer) for name, s in seals.items()}
    path = tmp_path / f"chain-{keys.kid_of(root.cert).hex()}.json"
    path.write_text(
        json.dumps(
            {
                "root_cert": base64.b64encode(root.cert).decode(),
                "trust_list": signed_trust,
                "status_lists": [signed_list],
                "times": {"now": helpers.NOW.timestamp()},
                "tokens": corpus,
            }
        )
    )
    offline = json.loads(run(["node", "scripts/verify-corpus.mjs", str(path)]))["now"]
    return {name: (verify.verify_token(tok, trust, lists, helpers.NOW), offline[name]) for name, tok in corpus.items()}


def test_the_sdk_checks_the_chain_as_the_server_does(tmp_path: Path) -> None:
    """CA flags and key usage (esign/codec/x509.py chain_problem): the same verdicts, offline and on the server."""
    built_sdk()
    usage_without_signing = cx509.KeyUsage(False, True, False, False, False, False, False, False, False)
    root = crafted.root()
    as_ca, as_ca_key = crafted.seal(root, ca=True, usage=crafted.CA_USAGE)
    substitute = crafted.Root(as_ca_key, as_ca.cert, cx509.load_der_x509_certificate(as_ca.cert).subject)
    cases = [
        (
            root,
            {
                "good": crafted.seal(root)[0],
                "seal_is_ca": as_ca,
                "seal_without_basic_constraints": crafted.seal(root, ca=None)[0],
                "seal_without_key_usage": crafted.seal(root, usage=None)[0],
                "seal_key_usage_without_digital_signature": crafted.seal(root, usage=usage_without_signing)[0],
                "issued_by_a_seal_with_ca": crafted.seal(substitute)[0],
            },
        ),
        # A seal certificate carrying cA=true used as the root: it signs the trust list and certifies a seal.
        (substitute, {"under_a_seal_as_root": crafted.seal(substitute)[0]}),
    ]
    not_ca = crafted.root(ca=False)
    cases.append((not_ca, {"root_not_ca": crafted.seal(not_ca)[0]}))
    no_cert_sign = crafted.root(usage=cx509.KeyUsage(True, False, False, False, False, False, True, False, False))
    cases.append((no_cert_sign, {"root_without_key_cert_sign": crafted.seal(no_cert_sign)[0]}))
    unsaid = crafted.root(usage=None)
    cases.append((unsaid, {"root_without_key_usage": crafted.seal(unsaid)[0]}))
    verdicts: dict[str, Any] = {}
    for root_of_case, seals in cases:
        verdicts |= _chain_corpus(root_of_case, seals, tmp_path)
    for name, (server, mine) in verdicts.items():
        mine.pop("detail", None)
        mine.pop("certificate", None)
        assert mine == {"valid": server.valid, "reasons": server.reasons, "checks": server.checks}, name
    assert {name for name, (server, _) in verdicts.items() if server.valid} == {"good", "root_without_key_usage"}
    assert all(server.reasons == ["chain"] for name, (server, _) in verdicts.items() if not server.valid)
