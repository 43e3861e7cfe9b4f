"""Every single-character corruption of a token fails the format or the signature check.

Two layers are corrupted: the Base45 text a camera reads (each position, every other Base45
character), and the COSE bytes under the compression (each byte, one bit and all bits flipped,
then compressed again), which is what reaches the CBOR parser and the signature check.
"""

from __future__ import annotations

import zlib
from collections import Counter

import base45
import pytest

from esign.codec import tokens
from esign.codec.verify import verify_token
from tests.esign import helpers

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _outcome(verdict) -> str:
    assert not verdict.valid
    assert verdict.detail != "internal", "verification raised inside"
    failed = [name for name in ("format", "signature") if verdict.checks[name] == "failed"]
    assert failed, (verdict.reasons, verdict.checks)
    return failed[0]


@pytest.fixture(scope="module")
def offline(pki: helpers.Pki):
    return helpers.trust_list(pki), helpers.status_lists(pki)


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_every_base45_substitution_fails(pki: helpers.Pki, offline, alg: str) -> None:
    token = tokens.encode_token(helpers.certificate_claims(), pki.seals[alg].signer)
    assert verify_token(token, *offline, helpers.NOW).valid
    outcomes: Counter[str] = Counter()
    for i in range(len("ZB1:"), len(token)):
        for c in ALPHABET:
            if c != token[i]:
                outcomes[_outcome(verify_token(token[:i] + c + token[i + 1 :], *offline, helpers.NOW))] += 1
    print(f"\n{alg}: {sum(outcomes.values())} substituted tokens ({len(token) - 4} positions): {dict(outcomes)}")
    assert sum(outcomes.values()) == (len(token) - 4) * 44


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_every_cose_byte_corruption_fails(pki: helpers.Pki, offline, alg: str) -> None:
    token = tokens.encode_token(helpers.certificate_claims(), pki.seals[alg].signer)
    cose = zlib.decompress(base45.b45decode(token[4:]))
    outcomes: Counter[str] = Counter()
    for i in range(len(cose)):
        for mask in (0x01, 0xFF):
            corrupted = cose[:i] + bytes([cose[i] ^ mask]) + cose[i + 1 :]
            text = "ZB1:" + base45.b45encode(zlib.compress(corrupted, 9)).decode()
            outcomes[_outcome(verify_token(text, *offline, helpers.NOW))] += 1
    print(f"\n{alg}: {len(cose)} COSE bytes corrupted two ways: {dict(outcomes)}")
    assert outcomes["signature"] > 0
