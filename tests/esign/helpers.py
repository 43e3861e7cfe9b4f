"""Plain builders for e-certificate tests: a root, seals of both algorithms, claims, lists."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from esign.codec import keys, statuslist, tokens, trustlist, x509

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PLATFORM_CODE = "121200004013590816"  # the operator of the platform (a FORMATS vector)
ISSUER_CODE = "11220000013544541J"  # the issuing department of the first real licence id
OTHER_ISSUER_CODE = "11430000006122244L"
TYPE_CODE = "household_register"
GB_TYPE_CODE = "11100000000013338W032"
TYPE = trustlist.TypeEntry(
    TYPE_CODE,
    "居民户口簿",
    GB_TYPE_CODE,
    "person",
    (
        trustlist.FieldEntry(1, "sex", "性别", "string"),
        trustlist.FieldEntry(2, "eth", "民族", "string"),
        trustlist.FieldEntry(3, "rel", "与户主关系", "string"),
        trustlist.FieldEntry(4, "addr", "住址", "string"),
    ),
)
OTHER_TYPE = trustlist.TypeEntry(
    "id_card", "居民身份证", "11100000000013338W011", "person", (trustlist.FieldEntry(1, "name", "姓名", "string"),)
)
STATUS_LIST_ID = 1
STATUS_URL = "https://zb.example.cn/v1/status-lists/1"


@dataclasses.dataclass
class Seal:
    signer: keys.LocalSigner
    cert: bytes


@dataclasses.dataclass
class Pki:
    root_key: ec.EllipticCurvePrivateKey
    root_cert: bytes
    seals: dict[str, Seal]  # "ES256", "SM2" (issuer seals) and "presenter"

    @property
    def root_kid(self) -> str:
        return keys.kid_of(self.root_cert).hex()


def device_key(key: ec.EllipticCurvePrivateKey | None = None) -> str:
    """A device's public key as WebCrypto exports it ("raw": the uncompressed point, base64url); a new one unless given."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    raw = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def make_root(now: datetime = NOW) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = keys.generate_key("ES256")
    cert = x509.make_root_certificate(
        key, organization="掌办平台运营中心", credit_code=PLATFORM_CODE, now=now - timedelta(days=400)
    )
    return key, cert


def make_seal(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: bytes,
    alg: str,
    *,
    department: str = "吉林省民政厅",
    credit_code: str = ISSUER_CODE,
    valid_from: datetime = NOW - timedelta(days=365),
    valid_until: datetime = NOW + timedelta(days=365),
) -> Seal:
    key = keys.generate_key(alg)
    cert = x509.issue_seal_certificate(
        root_key,
        root_cert,
        keys.public_key_of(key),
        department=department,
        credit_code=credit_code,
        seal_name="电子证照专用章",
        valid_from=valid_from,
        valid_until=valid_until,
    )
    return Seal(keys.LocalSigner(key, keys.kid_of(cert)), cert)


def make_pki() -> Pki:
    root_key, root_cert = make_root()
    seals = {alg: make_seal(root_key, root_cert, alg) for alg in ("ES256", "SM2")}
    seals["presenter"] = make_seal(
        root_key, root_cert, "ES256", department="掌办平台运营中心", credit_code=PLATFORM_CODE
    )
    return Pki(root_key, root_cert, seals)


def certificate_claims(**overrides: Any) -> tokens.Claims:
    """A 居民户口簿-like certificate issued an hour before NOW."""
    values: dict[str, Any] = {
        "kind": tokens.CERTIFICATE,
        "iss": ISSUER_CODE,
        "iat": int(NOW.timestamp()) - 3600,
        "cti": bytes(range(16)),
        "type_code": TYPE_CODE,
        "serial": "2430599",
        "version": 1,
        "holder_name": "张*三",
        "holder_id": "110***********123X",
        "fields": {1: "男", 2: "汉", 3: "户主", 4: "长春市"},
        "status": (STATUS_LIST_ID, 7),
        "digest": tokens.record_digest(
            {"holder": {"name": "张三", "id_number": "11010519491231002X"}, "salt": "AAECAwQFBgcICQoLDA0ODw"}
        ),
    }
    values.update(overrides)
    return tokens.Claims(**values)


def trust_list(
    pki: Pki,
    *,
    now: datetime = NOW,
    entries: list[trustlist.SealEntry] | None = None,
) -> trustlist.TrustList:
    """The signed trust list of ``pki``'s seals (issuer seals for ``TYPE``), read back through the parser."""
    if entries is None:
        entries = [
            trustlist.seal_entry(pki.seals["ES256"].cert, role="issuer", types=[TYPE_CODE]),
            trustlist.seal_entry(pki.seals["SM2"].cert, role="issuer", types=[TYPE_CODE]),
            trustlist.seal_entry(pki.seals["presenter"].cert, role="presenter"),
        ]
    signed = trustlist.build_trust_list(
        iss="https://zb.example.cn",
        root_key=pki.root_key,
        root_cert=pki.root_cert,
        seals=entries,
        status_lists=[trustlist.StatusListRef(STATUS_LIST_ID, STATUS_URL)],
        types=[TYPE, OTHER_TYPE],
        now=now,
    )
    return trustlist.parse_trust_list(signed, pki.root_cert)


def status_lists(pki: Pki, bits: bytes | bytearray | None = None, *, now: datetime = NOW) -> dict[int, Any]:
    """``{1: StatusList}`` signed by the root and read back."""
    signed = statuslist.build_status_list(
        statuslist.new_status_bits() if bits is None else bits,
        url=STATUS_URL,
        root_key=pki.root_key,
        root_kid=pki.root_kid,
        now=now,
    )
    return {STATUS_LIST_ID: statuslist.parse_status_list(signed, pki.root_key.public_key(), url=STATUS_URL)}
