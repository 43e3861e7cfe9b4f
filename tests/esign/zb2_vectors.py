"""The shared ``ZB2:`` corpus: tokens with the verdict every verifier must give (the server's, the SDK's,
an independent decoder's). ``tests/esign/vectors/zb2.json`` is made by

    .venv/bin/python -m tests.esign.zb2_vectors

and read by ``tests/esign/test_zb2.py`` and the SDK's tests. Each case names its token, the verifier's
nonce if it showed one (base64url), the time to verify at, and the expected ``valid``, ``reasons`` and
disclosed fields ``[[n, value], ...]``, and the ``checks`` the server reports (in order). The trust list, status list and root certificate it is checked
against are in the file too; the device key is given so a client can make more presentations.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from esign.codec import keys, statuslist, trustlist, verify, zb2
from tests.esign import helpers

PATH = Path(__file__).parent / "vectors" / "zb2.json"
FIELDS = {1: "男", 2: "汉", 3: "户主", 4: "湖南省株洲市天元区长江北路1号"}
CERT_SLOT, CREDENTIAL_SLOT, REVOKED_CERT_SLOT, LOST_PHONE_SLOT = 10, 11, 12, 13


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims(
    device: Any, *, now: datetime, status: int = CERT_SLOT, credential_status: int = CREDENTIAL_SLOT, **over: Any
) -> zb2.CredentialClaims:
    """Credential claims of a household register (the helpers' registry type) for ``device``."""
    base = {
        "iss": helpers.ISSUER_CODE,
        "iat": int(now.timestamp()) - 3600,
        "exp": int(now.timestamp()) + 6 * 86400,
        "cti": secrets.token_bytes(16),
        "device_key": zb2.compress_point(device.public_key()),
        "type_code": helpers.TYPE_CODE,
        "serial": "2430599",
        "version": 1,
        "holder_name": "张*三",
        "holder_id": "110***********123X",
        "digest": secrets.token_bytes(32),
        "status": (helpers.STATUS_LIST_ID, status),
        "credential_status": (helpers.STATUS_LIST_ID, credential_status),
    }
    return zb2.CredentialClaims(**base | over)


def bits() -> bytearray:
    out = statuslist.new_status_bits()
    statuslist.set_status(out, REVOKED_CERT_SLOT, statuslist.REVOKED)
    statuslist.set_status(out, LOST_PHONE_SLOT, statuslist.REVOKED)
    return out


def altered(token: str, device: Any, now: datetime) -> str:
    """The holder (with the device key) changes one byte of a disclosed value and signs again."""
    shown = zb2.decode_presentation(token)
    first = bytearray(shown.credential.disclosures[0])
    first[-2] ^= 1
    return zb2.sign_presentation(shown.credential, [bytes(first), *shown.credential.disclosures[1:]], device, now=now)


def build(now: datetime = helpers.NOW) -> dict[str, Any]:
    pki = helpers.make_pki()
    device, thief = keys.generate_key("ES256"), keys.generate_key("ES256")
    presenter = pki.seals["presenter"].signer
    credential = zb2.issue_credential(claims(device, now=now), FIELDS, presenter)
    nonce = secrets.token_bytes(16)
    two = zb2.present(credential, [1, 3], device, now=now)
    cases = [
        ("two_fields", two, None, now, True, [], [[1, "男"], [3, "户主"]]),
        ("no_fields", zb2.present(credential, [], device, now=now), None, now, True, [], []),
        (
            "with_nonce",
            zb2.present(credential, [4], device, now=now, cnonce=nonce),
            nonce,
            now,
            True,
            [],
            [[4, FIELDS[4]]],
        ),
        (
            "wrong_nonce",
            zb2.present(credential, [4], device, now=now, cnonce=secrets.token_bytes(16)),
            nonce,
            now,
            False,
            ["nonce"],
            None,
        ),
        ("nonce_missing", two, nonce, now, False, ["nonce"], None),
        ("replay_after_359s", two, None, now + timedelta(seconds=359), True, [], [[1, "男"], [3, "户主"]]),
        ("replay_after_360s", two, None, now + timedelta(seconds=360), False, ["presentation_expired"], None),
        (
            "from_the_future",
            zb2.present(credential, [1], device, now=now + timedelta(seconds=61)),
            None,
            now,
            False,
            ["presentation_expired"],
            None,
        ),
        (
            "copied_credential_other_key",
            zb2.present(credential, [1], thief, now=now),
            None,
            now,
            False,
            ["holder_binding"],
            None,
        ),
        ("altered_disclosure", altered(two, device, now), None, now, False, ["disclosure"], None),
        (
            "revoked_certificate",
            zb2.present(
                zb2.issue_credential(claims(device, now=now, status=REVOKED_CERT_SLOT), FIELDS, presenter),
                [1],
                device,
                now=now,
            ),
            None,
            now,
            False,
            ["revoked"],
            None,
        ),
        (
            "lost_phone",
            zb2.present(
                zb2.issue_credential(claims(device, now=now, credential_status=LOST_PHONE_SLOT), FIELDS, presenter),
                [1],
                device,
                now=now,
            ),
            None,
            now,
            False,
            ["revoked"],
            None,
        ),
        (
            "credential_expired",
            zb2.present(
                zb2.issue_credential(
                    claims(device, now=now, iat=int(now.timestamp()) - 8 * 86400, exp=int(now.timestamp()) - 86400),
                    FIELDS,
                    presenter,
                ),
                [1],
                device,
                now=now,
            ),
            None,
            now,
            False,
            ["credential_expired"],
            None,
        ),
        (
            "issuer_seal_not_presenter",
            zb2.present(
                zb2.issue_credential(claims(device, now=now), FIELDS, pki.seals["ES256"].signer), [1], device, now=now
            ),
            None,
            now,
            False,
            ["seal_role"],
            None,
        ),
        (
            "sm2_credential",
            zb2.present(
                zb2.issue_credential(claims(device, now=now), FIELDS, _sm2_presenter(pki)), [2], device, now=now
            ),
            None,
            now,
            True,
            [],
            [[2, "汉"]],
        ),
        ("flipped_character", two[:60] + ("A" if two[60] != "A" else "B") + two[61:], None, now, False, None, None),
        ("not_a_token", "ZB2:hello", None, now, False, ["format"], None),
    ]
    trust = _trust_token(pki, now)
    status = statuslist.build_status_list(
        bits(), url=helpers.STATUS_URL, root_key=pki.root_key, root_kid=pki.root_kid, now=now
    )
    return {
        "description": "ZB2: presentations and the verdict each must get (FORMATS.md). reasons null: any refusal. "
        "Verify each token at `at` (Unix seconds) against this trust list and these status lists, "
        "with `cnonce` (base64url) as the verifier's nonce when not null.",
        "root_certificate": base64.b64encode(pki.root_cert).decode(),
        "trust_list": trust,
        "status_lists": {str(helpers.STATUS_LIST_ID): status},
        "device_private_key_pkcs8": b64(
            device.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        "credential": b64(credential),
        "cases": [
            {
                "name": name,
                "token": token,
                "cnonce": b64(n) if n else None,
                "at": int(at.timestamp()),
                "valid": valid,
                "reasons": reasons,
                "fields": fields,
            }
            for name, token, n, at, valid, reasons, fields in cases
        ],
    }


_SM2: dict[int, helpers.Seal] = {}


def _sm2_presenter(pki: helpers.Pki) -> keys.LocalSigner:
    seal = _SM2.get(id(pki))
    if seal is None:
        seal = _SM2[id(pki)] = helpers.make_seal(
            pki.root_key, pki.root_cert, "SM2", department="掌办平台运营中心", credit_code=helpers.PLATFORM_CODE
        )
    return seal.signer


def _trust_token(pki: helpers.Pki, now: datetime) -> str:
    entries = [
        trustlist.seal_entry(pki.seals["ES256"].cert, role="issuer", types=[helpers.TYPE_CODE]),
        trustlist.seal_entry(pki.seals["presenter"].cert, role="presenter"),
        trustlist.seal_entry(_SM2[id(pki)].cert, role="presenter"),
    ]
    return trustlist.build_trust_list(
        iss="https://zb.example.cn",
        root_key=pki.root_key,
        root_cert=pki.root_cert,
        seals=entries,
        status_lists=[trustlist.StatusListRef(helpers.STATUS_LIST_ID, helpers.STATUS_URL)],
        types=[helpers.TYPE, helpers.OTHER_TYPE],
        now=now,
    )


def verdicts(vectors: dict[str, Any]) -> dict[str, verify.Verdict]:
    """Every case verified by ``esign.codec.verify.verify_token`` against the file's own lists."""
    from cryptography import x509 as cx509

    root = base64.b64decode(vectors["root_certificate"])
    trust = trustlist.parse_trust_list(vectors["trust_list"], root)
    root_key = cx509.load_der_x509_certificate(root).public_key()
    lists = {
        int(i): statuslist.parse_status_list(t, root_key, url=trust.status_lists[int(i)].url)
        for i, t in vectors["status_lists"].items()
    }
    out = {}
    for case in vectors["cases"]:
        nonce = base64.urlsafe_b64decode(case["cnonce"] + "==") if case["cnonce"] else None
        at = datetime.fromtimestamp(case["at"], helpers.UTC)
        out[case["name"]] = verify.verify_token(case["token"], trust, lists, at, cnonce=nonce)
    return out


def with_checks(vectors: dict[str, Any]) -> dict[str, Any]:
    """The vectors with each case's ``checks`` (check name → ok / failed / skipped) as the server gives them."""
    got = verdicts(vectors)
    for case in vectors["cases"]:
        case["checks"] = got[case["name"]].checks
    return vectors


if __name__ == "__main__":
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(json.dumps(with_checks(build()), ensure_ascii=False, indent=1) + "\n")
    print(PATH)


__all__ = ["build", "dataclasses", "verdicts"]
