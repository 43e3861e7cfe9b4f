"""``ZB2:`` presentations (FORMATS.md "Holder-bound presentations made offline"), with no server: made on the
device with nothing but the credential and the device key, verified with nothing but the trust list and the
status lists. Each test is one item of FORMATS.md's list; the shared corpus is ``tests/esign/vectors/zb2.json``
(``tests/esign/zb2_vectors.py``)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import socket
import statistics
import zlib
from datetime import timedelta
from typing import Any

import base45
import cbor2
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from esign import service
from esign.codec import keys, statuslist, verify, zb2
from tests.esign import helpers, zb2_vectors
from tests.esign.test_token_sizes import ADDRESS, NAME

NOW = helpers.NOW


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    pki = helpers.make_pki()
    device = keys.generate_key("ES256")
    credential = zb2.issue_credential(
        zb2_vectors.claims(device, now=NOW), zb2_vectors.FIELDS, pki.seals["presenter"].signer
    )
    trust = helpers.trust_list(pki)
    return {
        "pki": pki,
        "device": device,
        "credential": credential,
        "trust": trust,
        "lists": helpers.status_lists(pki, zb2_vectors.bits()),
    }


def _verify(world: dict[str, Any], token: str, at: Any = NOW, **kw: Any) -> verify.Verdict:
    return verify.verify_token(token, world["trust"], world["lists"], at, **kw)


def test_a_presentation_made_with_the_network_off_verifies_offline(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("the network is off")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    token = zb2.present(world["credential"], [1, 3], world["device"], now=NOW)
    verdict = _verify(world, token)
    assert verdict.valid, verdict
    assert [(f.n, f.label, f.value) for f in verdict.certificate.fields] == [
        (1, "性别", "男"),
        (3, "与户主关系", "户主"),
    ]
    assert verdict.certificate.kind == "presentation" and verdict.certificate.holder_bound
    assert verdict.certificate.licence_id.startswith("1.2.156.3005.2." + helpers.GB_TYPE_CODE)
    assert set(verdict.checks.values()) == {"ok", "skipped"} and verdict.checks["nonce"] == "skipped"
    # The URL of its QR code verifies the same.
    assert _verify(
        world, "HTTPS://ZB.EXAMPLE.CN/V/" + token.replace("%", "%25").replace(" ", "%20").replace("/", "%2F")
    ).valid


def test_a_copied_credential_without_the_device_key_fails_holder_binding(world: dict[str, Any]) -> None:
    thief = keys.generate_key("ES256")
    assert _verify(world, zb2.present(world["credential"], [1], thief, now=NOW)).reasons == ["holder_binding"]


def test_a_replay_after_360_s_fails_presentation_expired(world: dict[str, Any]) -> None:
    token = zb2.present(world["credential"], [1], world["device"], now=NOW)
    assert _verify(world, token, NOW + timedelta(seconds=359)).valid
    assert _verify(world, token, NOW + timedelta(seconds=360)).reasons == ["presentation_expired"]
    ahead = zb2.present(world["credential"], [1], world["device"], now=NOW + timedelta(seconds=61))
    assert _verify(world, ahead).reasons == ["presentation_expired"]


def test_a_verifier_nonce_must_be_carried(world: dict[str, Any]) -> None:
    nonce = secrets.token_bytes(16)
    made = zb2.present(world["credential"], [1], world["device"], now=NOW, cnonce=nonce)
    assert _verify(world, made, cnonce=nonce).valid
    assert _verify(world, made, cnonce=secrets.token_bytes(16)).reasons == ["nonce"]
    assert _verify(world, zb2.present(world["credential"], [1], world["device"], now=NOW), cnonce=nonce).reasons == [
        "nonce"
    ]


def test_a_disclosure_altered_by_one_byte_fails_disclosure(world: dict[str, Any]) -> None:
    token = zb2.present(world["credential"], [1, 4], world["device"], now=NOW)
    shown = zb2.decode_presentation(token).credential
    for which in range(2):
        for position in range(len(shown.disclosures[which])):
            changed = bytearray(shown.disclosures[which])
            changed[position] ^= 0x01
            chosen = list(shown.disclosures)
            chosen[which] = bytes(changed)
            # Signed again by the holder's own device: only the hash can catch it.
            verdict = _verify(world, zb2.sign_presentation(shown, chosen, world["device"], now=NOW))
            assert verdict.reasons in (["disclosure"], ["format"]), (which, position, verdict.reasons)
    # Without the device key the change breaks the holder's signature instead.
    raw = bytearray(zlib.decompress(base45.b45decode(token[4:])))
    raw[raw.index(shown.disclosures[0]) + 3] ^= 1
    assert _verify(world, "ZB2:" + base45.b45encode(zlib.compress(bytes(raw))).decode()).reasons == ["holder_binding"]


def test_a_revoked_credential_and_a_revoked_certificate_each_fail_revoked(world: dict[str, Any]) -> None:
    signer, device = world["pki"].seals["presenter"].signer, world["device"]
    lost = zb2.issue_credential(
        zb2_vectors.claims(device, now=NOW, credential_status=zb2_vectors.LOST_PHONE_SLOT), zb2_vectors.FIELDS, signer
    )
    revoked = zb2.issue_credential(
        zb2_vectors.claims(device, now=NOW, status=zb2_vectors.REVOKED_CERT_SLOT), zb2_vectors.FIELDS, signer
    )
    for credential in (lost, revoked):
        verdict = _verify(world, zb2.present(credential, [1], device, now=NOW))
        assert verdict.reasons == ["revoked"] and verdict.checks["status"] == "failed"
    bits = zb2_vectors.bits()
    statuslist.set_status(bits, zb2_vectors.CERT_SLOT, statuslist.SUSPENDED)
    suspended = verify.verify_token(
        zb2.present(world["credential"], [1], device, now=NOW),
        world["trust"],
        helpers.status_lists(world["pki"], bits),
        NOW,
    )
    assert suspended.reasons == ["suspended"]


def test_an_undisclosed_fields_value_cannot_be_learned_from_the_token(world: dict[str, Any]) -> None:
    token = zb2.present(world["credential"], [1], world["device"], now=NOW)
    raw = zlib.decompress(base45.b45decode(token[4:]))
    hidden = zb2_vectors.FIELDS[4]
    assert hidden.encode() not in raw and hidden.encode("gb18030") not in raw
    hashes_listed = set(zb2.decode_presentation(token).credential.claims.hashes)
    # Guessing the value is no help: without the disclosure's random 16-byte salt no guess hashes to a listed hash.
    for guess in (hidden, "户主", "男", "汉"):
        for n in range(1, 5):
            unsalted = cbor2.dumps([b"\0" * 16, guess.encode("gb18030"), n], canonical=True)
            assert hashlib.sha256(unsalted).digest() not in hashes_listed
    # And the same value gets another hash in every credential.
    again = zb2.issue_credential(
        zb2_vectors.claims(world["device"], now=NOW), zb2_vectors.FIELDS, world["pki"].seals["presenter"].signer
    )
    assert not set(zb2.decode_credential(again).claims.hashes) & hashes_listed


def test_the_other_verdicts_of_the_checks(world: dict[str, Any]) -> None:
    device, claims = world["device"], zb2_vectors.claims
    expired = zb2.issue_credential(
        claims(device, now=NOW, iat=int(NOW.timestamp()) - 7 * 86400 - 61, exp=int(NOW.timestamp()) - 61),
        zb2_vectors.FIELDS,
        world["pki"].seals["presenter"].signer,
    )
    assert _verify(world, zb2.present(expired, [1], device, now=NOW)).reasons == ["credential_expired"]
    by_issuer = zb2.issue_credential(claims(device, now=NOW), zb2_vectors.FIELDS, world["pki"].seals["ES256"].signer)
    assert _verify(world, zb2.present(by_issuer, [1], device, now=NOW)).reasons == ["seal_role"]
    foreign = helpers.make_pki()
    alien = zb2.issue_credential(claims(device, now=NOW), zb2_vectors.FIELDS, foreign.seals["presenter"].signer)
    assert _verify(world, zb2.present(alien, [1], device, now=NOW)).reasons == ["unknown_seal"]
    with pytest.raises(ValueError, match="7 days"):
        zb2.credential_payload(claims(device, now=NOW, exp=int(NOW.timestamp()) + 8 * 86400))
    for garbage in ("ZB2:", "ZB2:%%%", "ZB2:" + "A" * 5000, "ZB2:" + base45.b45encode(zlib.compress(b"\xa0")).decode()):
        assert _verify(world, garbage).reasons == ["format"]


def test_every_single_character_change_is_refused(world: dict[str, Any]) -> None:
    token = zb2.present(world["credential"], [1, 3], world["device"], now=NOW)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    for i in range(4, len(token), 7):
        other = alphabet[(alphabet.index(token[i]) + 1) % 45]
        assert not _verify(world, token[:i] + other + token[i + 1 :]).valid, i


def _independent(token: str, trust_seals: dict[bytes, ec.EllipticCurvePublicKey], at: int) -> bool:
    """A verifier written from FORMATS.md with cbor2 and cryptography only: the two signatures, the age, the
    hashes (no status lists: the corpus's status cases are left out)."""
    top = cbor2.loads(zlib.decompress(base45.b45decode(token[4:])))
    protected, _, payload, signature = top.value
    header = cbor2.loads(protected)
    credential = header[13].value
    c_protected, c_unprotected, c_payload, c_signature = credential
    seal = trust_seals.get(cbor2.loads(c_protected)[4])
    claims = cbor2.loads(c_payload)
    cose_key = claims[8][1]
    device = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), bytes([3 if cose_key[-3] else 2]) + cose_key[-2]
    )

    def checks(key: ec.EllipticCurvePublicKey | None, prot: bytes, body: bytes, sig: bytes) -> bool:
        tbs = cbor2.dumps(["Signature1", prot, b"", body])
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        try:
            key.verify(der, tbs, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
        except (InvalidSignature, AttributeError):
            return False
        return True

    listed = set(claims[-65537][cbor2.CBORSimpleValue(59)])
    return (
        checks(seal, c_protected, c_payload, c_signature)
        and checks(device, protected, payload, signature)
        and at - 60 < cbor2.loads(payload)[6] + 300
        and cbor2.loads(payload)[6] <= at + 60
        and claims[4] > at - 60
        and all(hashlib.sha256(d).digest() in listed for d in c_unprotected.get(17, []))
    )


def test_the_shared_corpus_gets_its_verdicts_here_and_from_an_independent_decoder() -> None:
    vectors = json.loads(zb2_vectors.PATH.read_text())
    got = zb2_vectors.verdicts(vectors)
    root = base64.b64decode(vectors["root_certificate"])
    from esign.codec import trustlist

    seals = {
        s.kid: s.public_key
        for s in trustlist.parse_trust_list(vectors["trust_list"], root).seals
        if s.role == "presenter" and s.alg == "ES256"
    }
    for case in vectors["cases"]:
        verdict = got[case["name"]]
        assert verdict.valid == case["valid"], case["name"]
        if case["reasons"] is not None:
            assert verdict.reasons == case["reasons"], case["name"]
        if case["valid"]:
            assert [[f.n, f.value] for f in verdict.certificate.fields] == case["fields"], case["name"]
        assert verdict.checks == case["checks"], case["name"]
        independent_cases = case["reasons"] in ([], ["holder_binding"], ["presentation_expired"], ["disclosure"])
        if independent_cases and case["name"] != "sm2_credential":
            assert _independent(case["token"], seals, case["at"]) == case["valid"], case["name"]


def _sized(presenter: Any, device: Any, pick: tuple[int, ...], i: int) -> int:
    values = {1: NAME, 2: "女", 3: "鄂温克族", 4: "2026-12-31", 5: ADDRESS[: -len(str(i))] + str(i), 6: "2046-12-31"}
    claims = zb2.CredentialClaims(
        iss=helpers.ISSUER_CODE,
        iat=int(NOW.timestamp()),
        exp=int(NOW.timestamp()) + 7 * 86400,
        cti=secrets.token_bytes(16),
        device_key=zb2.compress_point(device.public_key()),
        type_code="id_card",
        serial=service.serial_text(2026, 9_999_999 - i),
        version=1,
        holder_name="欧**娜",
        holder_id="430***********002X",
        digest=secrets.token_bytes(32),
        status=(2**20 + i, 131_071 - i),
        credential_status=(2**20 + i, 131_070 - i),
    )
    return len(zb2.present(zb2.issue_credential(claims, values, presenter), pick, device, now=NOW))


def test_size_of_three_of_six_fields(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """The 居民身份证's six fields with the corpus's longest realistic values (4-character name, 40-character
    address), every choice of three, 50 presentations each (the random bytes compress differently each time).

    The random material alone (six SHA-256 hashes, two signatures, three salts, the digest, cti and the device
    key: about 460 bytes) takes ~700 of the 1,100 characters, so three fields fit the budget with room when the
    40-character address is not among them, and exceed it by about 100 characters when it is.
    """
    presenter, device = world["pki"].seals["presenter"].signer, world["device"]
    short, with_address = [], []
    for pick in itertools.combinations(range(1, 7), 3):
        sizes = [_sized(presenter, device, pick, i) for i in range(50)]
        (with_address if 5 in pick else short).extend(sizes)
    with capsys.disabled():
        for label, sizes in (("without the address", short), ("with a 40-character address", with_address)):
            print(
                f"\nZB2 three of six, ES256, {label}: min {min(sizes)}, median {statistics.median(sizes):.0f}, "
                f"max {max(sizes)}"
            )
    assert max(short) <= 1_100
    assert max(with_address) <= 1_250
