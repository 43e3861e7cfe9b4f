"""`ZB2:` presentations the TypeScript SDK makes offline (clients/js, `makePresentation`) are the server's
`ZB2:`: made from the shared corpus's credential with its device key, each verifies with the server's
verifier (esign.codec.verify.verify_token) showing exactly the chosen fields, answers the verifier's nonce, and ages
out after 360 s; the SDK's own verdicts on the corpus are checked by its Node tests (test/zb2.test.mjs)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from tests.esign import zb2_vectors
from tests.js_sdk import built_sdk, run

SCRIPT = """
import { readFileSync } from "node:fs";
import { base64Decode, makePresentation, readHeldCredential } from "./dist/index.js";
const v = JSON.parse(readFileSync(process.argv[1], "utf8"));
const subtle = globalThis.crypto.subtle, alg = { name: "ECDSA", namedCurve: "P-256" };
const pkcs8 = base64Decode(v.device_private_key_pkcs8);
const jwk = await subtle.exportKey("jwk", await subtle.importKey("pkcs8", pkcs8, alg, true, ["sign"]));
const priv = await subtle.importKey("pkcs8", pkcs8, alg, false, ["sign"]);
const key = { publicKey: new Uint8Array([4, ...base64Decode(jwk.x), ...base64Decode(jwk.y)]), nonExtractable: true,
  sign: async (d) => new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, priv, d)) };
const credential = readHeldCredential(v.credential);
const now = v.cases[0].at, nonce = base64Decode(process.argv[2]);
const out = {};
for (const [name, fields, withNonce] of [["two", [1, 3], false], ["none", [], false], ["three", [4, 2, 1], false], ["nonce", [4], true]])
  out[name] = await makePresentation(credential, key, { fields, now, nonce: withNonce ? nonce : undefined });
console.log(JSON.stringify(out));
"""


def test_presentations_the_sdk_makes_verify_on_the_server() -> None:
    built_sdk()
    vectors = json.loads(zb2_vectors.PATH.read_text())
    nonce = bytes(range(16))
    made = json.loads(
        run(
            [
                "node",
                "--input-type=module",
                "-e",
                SCRIPT,
                str(zb2_vectors.PATH),
                base64.urlsafe_b64encode(nonce).decode().rstrip("="),
            ]
        )
    )
    verdicts = zb2_vectors.verdicts(
        vectors
        | {
            "cases": [
                {"name": name, "token": token, "cnonce": None, "at": vectors["cases"][0]["at"]}
                for name, token in made.items()
            ]
        }
    )
    shown = {
        name: [(f.n, f.label, f.value) for f in v.certificate.fields] for name, v in verdicts.items() if v.certificate
    }
    assert all(v.valid and v.certificate.holder_bound for v in verdicts.values()), verdicts
    assert shown["two"] == [(1, "性别", "男"), (3, "与户主关系", "户主")]
    assert shown["none"] == [] and [n for n, _, _ in shown["three"]] == [1, 2, 4]
    assert len(made["three"]) <= 1100  # three fields, ES256 (FORMATS.md's budget)

    at = datetime.fromtimestamp(vectors["cases"][0]["at"], UTC)
    with_nonce = zb2_vectors.verdicts(
        vectors
        | {
            "cases": [
                {
                    "name": "asked",
                    "token": made["nonce"],
                    "cnonce": base64.urlsafe_b64encode(nonce).decode().rstrip("="),
                    "at": int(at.timestamp()),
                },
                {
                    "name": "not_answered",
                    "token": made["two"],
                    "cnonce": base64.urlsafe_b64encode(nonce).decode().rstrip("="),
                    "at": int(at.timestamp()),
                },
                {
                    "name": "replayed",
                    "token": made["two"],
                    "cnonce": None,
                    "at": int((at + timedelta(seconds=360)).timestamp()),
                },
            ]
        }
    )
    assert with_nonce["asked"].valid
    assert with_nonce["not_answered"].reasons == ["nonce"]
    assert with_nonce["replayed"].reasons == ["presentation_expired"]
