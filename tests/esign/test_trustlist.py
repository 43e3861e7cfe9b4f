"""The trust list: signed by the root, read back only against the pinned root, freshness by the clock."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from esign.codec import jws, trustlist
from esign.errors import InvalidTrustList
from tests.esign import helpers


def _signed(pki: helpers.Pki, **changes: object) -> str:
    entries = [trustlist.seal_entry(pki.seals["SM2"].cert, role="issuer")]
    token = trustlist.build_trust_list(
        iss="https://zb.example.cn",
        root_key=pki.root_key,
        root_cert=pki.root_cert,
        seals=entries,
        status_lists=[trustlist.StatusListRef(1, helpers.STATUS_URL)],
        now=helpers.NOW,
    )
    if not changes:
        return token
    _, payload = jws.verify_jws(token, pki.root_key.public_key(), typ=trustlist.TYP)
    for path, value in changes.items():
        target = payload
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[leaf] = value
    return jws.sign_jws(payload, pki.root_key, typ=trustlist.TYP, kid=pki.root_kid)


def test_payload_shape(pki: helpers.Pki) -> None:
    header, payload = jws.verify_jws(_signed(pki), pki.root_key.public_key(), typ="trust-list+jwt")
    assert header["typ"] == "trust-list+jwt" and header["alg"] == "ES256"
    assert payload["next_update"] == payload["iat"] + 86_400
    assert payload["grace_until"] == payload["iat"] + 7 * 86_400
    assert base64.b64decode(payload["root"]["cert"]) == pki.root_cert
    seal = payload["seals"][0]
    assert set(seal) == {"kid", "cert", "alg", "role", "department", "status", "valid_from", "valid_until"}
    assert seal["alg"] == "SM2" and seal["role"] == "issuer" and seal["status"] == "active"
    assert seal["department"] == {"name": "吉林省民政厅", "credit_code": helpers.ISSUER_CODE}
    assert seal["kid"] == pki.seals["SM2"].signer.kid.hex()
    assert payload["status_lists"] == [{"id": 1, "url": helpers.STATUS_URL, "bits": 2}]


def test_round_trip(pki: helpers.Pki) -> None:
    parsed = trustlist.parse_trust_list(_signed(pki), pki.root_cert)
    assert parsed.root_kid.hex() == pki.root_kid
    [seal] = parsed.seals_for(pki.seals["SM2"].signer.kid)
    assert seal.public_key == pki.seals["SM2"].signer.key.public_key()
    assert parsed.status_lists[1].url == helpers.STATUS_URL


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(0), "fresh"),
        (timedelta(hours=24) - timedelta(seconds=1), "fresh"),
        (timedelta(hours=24), "stale"),
        (timedelta(days=7) - timedelta(seconds=1), "stale"),
        (timedelta(days=7), "expired"),
    ],
)
def test_freshness(pki: helpers.Pki, offset: timedelta, expected: str) -> None:
    parsed = trustlist.parse_trust_list(_signed(pki), pki.root_cert)
    assert parsed.freshness(helpers.NOW + offset) == expected


def test_another_root_is_refused(pki: helpers.Pki, other_pki: helpers.Pki) -> None:
    with pytest.raises(InvalidTrustList):
        trustlist.parse_trust_list(_signed(pki), other_pki.root_cert)


def test_tampered_payload_is_refused(pki: helpers.Pki) -> None:
    header, body, signature = _signed(pki).split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["seals"][0]["status"] = "active"
    payload["next_update"] += 86_400 * 365
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    with pytest.raises(InvalidTrustList):
        trustlist.parse_trust_list(f"{header}.{forged}.{signature}", pki.root_cert)


@pytest.mark.parametrize(
    "changes",
    [
        {"seals__0__kid": "0000000000000000"},
        {"seals__0__alg": "ES256"},
        {"seals__0__department__credit_code": helpers.OTHER_ISSUER_CODE},
        {"seals__0__role": "notary"},
        {"seals__0__cert": "not base64!"},
        {"seals__0__valid_from": "yesterday"},
        {"status_lists__0__bits": 1},
        {"root__kid": "00"},
        {"iat": -1},
    ],
)
def test_inconsistent_lists_are_refused(pki: helpers.Pki, changes: dict[str, object]) -> None:
    with pytest.raises(InvalidTrustList):
        trustlist.parse_trust_list(_signed(pki, **changes), pki.root_cert)


def test_wrong_type_header_is_refused(pki: helpers.Pki) -> None:
    _, payload = jws.verify_jws(_signed(pki), pki.root_key.public_key(), typ=trustlist.TYP)
    token = jws.sign_jws(payload, pki.root_key, typ="statuslist+jwt", kid=pki.root_kid)
    with pytest.raises(InvalidTrustList):
        trustlist.parse_trust_list(token, pki.root_cert)
