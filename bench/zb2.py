"""``ZB2:`` verification throughput in Python (budget ≥ 500 presentations/s per core), beside the same run's
baseline: raw P-256 signature checks (``cryptography``) of a presentation's size.

    .venv/bin/python bench/zb2.py [--count 2000]

A fresh platform root, presenter seal, trust list and status list; ``--count`` presentations of three of
a 居民身份证's six fields, each made by a device key from its own credential, verified one after another
in this one process with ``esign.codec.verify.verify_token`` (every check, both status slots). A verification
makes two P-256 checks (the credential's and the device's), so a ratio near 0.5 would be the ceiling.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esign.codec import (
    keys,
    statuslist,
    trustlist,
    verify,
    x509,
    zb2,
)

ISSUER = "11220000013544541J"
REGISTRY = trustlist.TypeEntry(
    "id_card",
    "居民身份证",
    "11100000000013338W011",
    "person",
    tuple(
        trustlist.FieldEntry(n, key, label, "string")
        for n, key, label in (
            (1, "name", "姓名"),
            (2, "sex", "性别"),
            (3, "ethnicity", "民族"),
            (4, "birth_date", "出生日期"),
            (5, "address", "住址"),
            (6, "valid_until", "有效期限"),
        )
    ),
)
URL = "https://zb.example.cn/v1/status-lists/1"
FIELDS = {1: "欧阳娜娜", 2: "女", 3: "汉", 4: "1990-01-01", 5: "湖南省株洲市天元区长江北路1号", 6: "2040-01-01"}


def world(count: int, now: datetime) -> tuple[list[str], trustlist.TrustList, dict[int, statuslist.StatusList]]:
    root_key = keys.generate_key("ES256")
    root_cert = x509.make_root_certificate(
        root_key, organization="掌办平台运营中心", credit_code="121200004013590816", now=now - timedelta(days=30)
    )
    seal_key = keys.generate_key("ES256")
    seal_cert = x509.issue_seal_certificate(
        root_key,
        root_cert,
        seal_key.public_key(),
        department="掌办平台运营中心",
        credit_code="121200004013590816",
        seal_name="电子证照亮证专用章",
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=365),
    )
    presenter = keys.LocalSigner(seal_key, keys.kid_of(seal_cert))
    trust = trustlist.parse_trust_list(
        trustlist.build_trust_list(
            iss="https://zb.example.cn",
            root_key=root_key,
            root_cert=root_cert,  # type: ignore[arg-type]
            seals=[trustlist.seal_entry(seal_cert, role="presenter")],
            status_lists=[trustlist.StatusListRef(1, URL)],
            types=[REGISTRY],
            now=now,
        ),
        root_cert,
    )
    signed = statuslist.build_status_list(
        statuslist.new_status_bits(),
        url=URL,
        root_key=root_key,  # type: ignore[arg-type]
        root_kid=keys.kid_of(root_cert).hex(),
        now=now,
    )
    lists = {1: statuslist.parse_status_list(signed, root_key.public_key(), url=URL)}
    made = []
    for i in range(count):
        device = keys.generate_key("ES256")
        claims = zb2.CredentialClaims(
            iss=ISSUER,
            iat=int(now.timestamp()) - 60,
            exp=int(now.timestamp()) + 86400,
            cti=secrets.token_bytes(16),
            device_key=zb2.compress_point(device.public_key()),
            type_code="id_card",
            serial=f"2026{i:07d}",
            version=1,
            holder_name="欧**娜",
            holder_id="430***********002X",
            digest=secrets.token_bytes(32),
            status=(1, 2 * i % statuslist.SLOTS),
            credential_status=(1, (2 * i + 1) % statuslist.SLOTS),
        )
        made.append(zb2.present(zb2.issue_credential(claims, FIELDS, presenter), (1, 2, 4), device, now=now))
    return made, trust, lists


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    count = parser.parse_args().count
    now = datetime.now(UTC)
    made, trust, lists = world(count, now)
    assert all(verify.verify_token(t, trust, lists, now).valid for t in made[:10]), "the corpus does not verify"

    device = keys.generate_key("ES256")
    message = secrets.token_bytes(700)
    signature = keys.sign_raw(device, message)
    public = device.public_key()
    rates: dict[str, list[float]] = {"raw P-256 verify": [], "ZB2 verify": []}
    for _ in range(2):  # alternate, so a change in the machine's speed falls on both
        started = time.perf_counter()
        for _ in range(count):
            keys.verify_raw(public, message, signature)
        rates["raw P-256 verify"].append(count / (time.perf_counter() - started))
        started = time.perf_counter()
        for token in made:
            verify.verify_token(token, trust, lists, now)
        rates["ZB2 verify"].append(count / (time.perf_counter() - started))
    mean = {k: sum(v) / len(v) for k, v in rates.items()}
    for name, value in mean.items():
        print(f"{name:18} {value:10,.0f}/s")
    print(f"ZB2 presentation size (three of six fields): max {max(map(len, made))} characters")
    print(
        f"ratio verification / raw P-256: {mean['ZB2 verify'] / mean['raw P-256 verify']:.3f} "
        f"(budget: ≥ 500/s per core, {'met' if mean['ZB2 verify'] >= 500 else 'MISSED'} on this run)"
    )


if __name__ == "__main__":
    main()
