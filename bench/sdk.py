"""The TypeScript SDK's figures: its size (minified and gzipped, budget 50 KB), offline verification
throughput in Node (budget ≥ 1,000 ES256 tokens/s) beside the same run's baseline, the raw signature
check alone (decode + ES256), with WebCrypto and with the pure-JS verifier mini-programs use, and the
time to make a ``ZB2:`` presentation on the device (budget ≤ 50 ms) beside raw P-256 signing.

    .venv/bin/python bench/sdk.py [--count 5000]

Needs node and npm: the SDK's packages are installed from its lockfile (``npm ci``) when missing.
The tokens are certificates signed by one ES256 seal of a fresh platform root, checked against a
trust list and a status list signed by that root.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from esign.codec import keys, statuslist, tokens, trustlist, x509

SDK = Path(__file__).resolve().parent.parent / "clients" / "js"
ISSUER = "11220000013544541J"
TYPE = "household_register"
REGISTRY = trustlist.TypeEntry(
    TYPE,
    "居民户口簿",
    "11100000000013338W032",
    "person",
    (
        trustlist.FieldEntry(1, "sex", "性别", "string"),
        trustlist.FieldEntry(2, "eth", "民族", "string"),
        trustlist.FieldEntry(3, "rel", "与户主关系", "string"),
        trustlist.FieldEntry(4, "addr", "住址", "string"),
    ),
)
URL = "https://zb.example.cn/v1/status-lists/1"
ZB2_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "esign" / "vectors" / "zb2.json"


def corpus(count: int) -> dict[str, object]:
    now = datetime.now(UTC)
    root_key = keys.generate_key("ES256")
    root_cert = x509.make_root_certificate(
        root_key, organization="掌办平台运营中心", credit_code="121200004013590816", now=now - timedelta(days=30)
    )
    seal_key = keys.generate_key("ES256")
    seal_cert = x509.issue_seal_certificate(
        root_key,
        root_cert,
        keys.public_key_of(seal_key),
        department="吉林省民政厅",
        credit_code=ISSUER,
        seal_name="电子证照专用章",
        valid_from=now - timedelta(days=10),
        valid_until=now + timedelta(days=365),
    )
    signer = keys.LocalSigner(seal_key, keys.kid_of(seal_cert))
    trust = trustlist.build_trust_list(
        iss="https://zb.example.cn",
        root_key=root_key,
        root_cert=root_cert,
        seals=[trustlist.seal_entry(seal_cert, role="issuer", types=[TYPE])],
        status_lists=[trustlist.StatusListRef(1, URL)],
        types=[REGISTRY],
        now=now,
    )
    lst = statuslist.build_status_list(
        statuslist.new_status_bits(), url=URL, root_key=root_key, root_kid=keys.kid_of(root_cert).hex(), now=now
    )
    out = {}
    for i in range(count):
        claims = tokens.Claims(
            kind=tokens.CERTIFICATE,
            iss=ISSUER,
            iat=int(now.timestamp()) - 60,
            cti=os.urandom(16),
            type_code=TYPE,
            serial=f"{2430000 + i}",
            version=1,
            holder_name="张*三",
            holder_id="110***********123X",
            fields={1: "男", 2: "汉", 3: "户主", 4: "长春市南关区"},
            status=(1, i % 131072),
            digest=os.urandom(32),
        )
        out[str(i)] = tokens.encode_token(claims, signer)
    return {
        "root_cert": base64.b64encode(root_cert).decode(),
        "trust_list": trust,
        "status_lists": [lst],
        "times": {"now": now.timestamp()},
        "tokens": out,
    }


def node(args: list[str]) -> str:
    done = subprocess.run(args, cwd=SDK, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(done.stdout + done.stderr)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="tokens to verify")
    args = parser.parse_args()
    if not (SDK / "node_modules" / ".bin" / "tsc").exists():
        node(["npm", "ci", "--no-audit", "--no-fund"])
    node(["node_modules/.bin/tsc", "-p", "tsconfig.json"])
    size = json.loads(node(["node", "scripts/size.mjs"]))
    print(
        f"SDK size: {size['minified_bytes'] / 1024:.1f} KB minified, {size['gzipped_bytes'] / 1024:.1f} KB gzipped "
        f"(budget {size['budget_bytes'] / 1024:.0f} KB)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.json"
        path.write_text(json.dumps(corpus(args.count)))
        print(
            f"{args.count} ES256 certificate tokens, full offline checks vs the raw signature check (budget ≥ 1,000/s):"
        )
        print(node(["node", "bench/verify.mjs", str(path)]), end="")
    print("ZB2: presentations made offline from the shared corpus's credential, vs raw P-256 signing:")
    print(node(["node", "bench/present.mjs", str(ZB2_CORPUS), str(max(50, args.count // 10))]), end="")


if __name__ == "__main__":
    main()
