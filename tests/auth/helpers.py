"""Plain helpers for identity tests: log in, make staff and departments, read tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import AsyncTestClient

from api.config import Settings
from api.kernel.crypto import Keyring
from api.kernel.problems import PROBLEM_JSON

# Valid GB 11643 numbers (check characters computed) and GB 32100 credit codes.
ID_ALICE = "11010519491231002X"
ID_BOB = "440524188001010014"
SEEDED_CREDIT_CODE = "11430200MB0001000R"  # 株洲市行政审批服务局, from the seed catalogue


def credit_code(n: int) -> str:
    """A GB 32100-valid unified social credit code, distinct for each ``n``."""
    from stdnum.cn import uscc

    base = f"11430200MB{9000 + n:04d}{n % 1000:03d}"
    return base + uscc.calc_check_digit(base)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(token: str) -> dict[str, Any]:
    """The token's claims, unverified (the app verifies; tests only read)."""
    return jwt.decode(token, options={"verify_signature": False})


def assert_problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == PROBLEM_JSON, r.headers["content-type"]
    body = r.json()
    assert body["type"] == slug and body["status"] == status and body["title"], body
    return body


async def login_code(sim: httpx.AsyncClient, **spec: Any) -> dict[str, Any]:
    r = await sim.post("/_sim/login-codes", json=spec)
    assert r.status_code == 200, r.text
    return r.json()


async def wechat_login(client: AsyncTestClient, sim: httpx.AsyncClient, **spec: Any) -> dict[str, Any]:
    """Log a (new or given) WeChat user in; returns the TokenPair plus the sim's openid."""
    minted = await login_code(sim, **spec)
    r = await client.post("/v1/auth/wechat/login", json={"code": minted["code"]})
    assert r.status_code == 200, r.text
    return r.json() | {"openid": minted["openid"], "unionid": minted["unionid"]}


async def phone_code(sim: httpx.AsyncClient, phone: str, **extra: Any) -> str:
    r = await sim.post("/_sim/phone-codes", json={"phone": phone, **extra})
    assert r.status_code == 200, r.text
    return r.json()["code"]


async def last_sms_code(client: AsyncTestClient, phone: str) -> str:
    r = await client.get("/v1/dev/sms", params={"phone": phone})
    assert r.status_code == 200, r.text
    return re.search(r"(\d{6})", r.json()["items"][0]["text"]).group(1)


async def sms_login(client: AsyncTestClient, phone: str) -> dict[str, Any]:
    r = await client.post("/v1/auth/sms/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    code = await last_sms_code(client, phone)
    r = await client.post("/v1/auth/sms/login", json={"phone": phone, "code": code})
    assert r.status_code == 200, r.text
    return r.json()


async def operator(conn: asyncpg.Connection, settings: Settings, *, ttl: int = 3600) -> str:
    """An operator access token, minted the way ``zhangban operator-token`` does."""
    from auth import operator as op

    return await op.operator_token(
        conn, Keyring.from_settings(settings), issuer=settings.base_url, ttl=ttl, now=datetime.now(UTC)
    )


async def create_department(client: AsyncTestClient, op: str, credit_code: str, name: str = "测试局") -> dict:
    body = {"name": name, "credit_code": credit_code, "region_code": "430200"}
    r = await client.post("/v1/admin/departments", json=body, headers=auth(op))
    assert r.status_code == 201, r.text
    return r.json()


async def proofing_department(client: AsyncTestClient, op: str, credit_code: str, name: str = "测试局") -> dict:
    """A new department whose windows may attest real-name checks (the power ``realname_proofing``)."""
    dept = await create_department(client, op, credit_code, name)
    r = await client.put(
        f"/v1/admin/departments/{dept['id']}/authority", json={"realname_proofing": True}, headers=auth(op)
    )
    assert r.status_code == 201, r.text
    return dept


async def make_staff(
    client: AsyncTestClient,
    op: str,
    department_id: str,
    phone: str,
    roles: list[str],
    *,
    proven: bool = False,
    id_number: str | None = None,
) -> dict[str, Any]:
    """An SMS account made staff with ``roles``; returns a TokenPair refreshed to carry them.

    ``proven``: the member of staff has also just proven their own identity (``id_number``, or one
    made up) at L3: a window clerk must have, within 15 minutes, to attest anyone. Only clerks who
    attest should be: a proven member of staff is a person too.
    """
    pair = await sms_login(client, phone)
    r = await client.post(
        f"/v1/admin/departments/{department_id}/staff",
        json={"account_id": pair["account"]["id"], "roles": roles},
        headers=auth(op),
    )
    assert r.status_code == 200, r.text
    r = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200, r.text
    pair = await second_factor(client, r.json())
    return await prove_l3(client, op, pair, id_number=id_number) if proven else pair


def totp_code(secret: str, *, ahead: int = 0) -> str:
    """The authenticator's code now (``ahead`` steps later: a code not used yet when now's was)."""
    import pyotp

    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(datetime.now(UTC)) + ahead)


async def second_factor(client: AsyncTestClient, pair: dict[str, Any]) -> dict[str, Any]:
    """A member of staff's login passes its second factor, binding an authenticator first; the pair answered,
    with ``totp_secret`` added (what the staff's phone would hold)."""
    assert pair["second_factor"] == "totp_enrol", pair
    r = await client.post("/v1/auth/totp/enrol", headers=auth(pair["access_token"]))
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    r = await client.post("/v1/auth/totp/verify", json={"code": totp_code(secret)}, headers=auth(pair["access_token"]))
    assert r.status_code == 200, r.text
    return r.json() | {"totp_secret": secret}


def second_factor_sync(http: httpx.Client, pair: dict[str, Any]) -> dict[str, Any]:
    """:func:`second_factor` for a blocking client."""
    assert pair["second_factor"] == "totp_enrol", pair
    r = http.post("/v1/auth/totp/enrol", headers=auth(pair["access_token"]))
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    r = http.post("/v1/auth/totp/verify", json={"code": totp_code(secret)}, headers=auth(pair["access_token"]))
    assert r.status_code == 200, r.text
    return r.json() | {"totp_secret": secret}


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def random_id_number(region: str = "420102") -> str:
    """A valid GB 11643 number nobody else in a test is likely to have (a region the tests' citizens don't use)."""
    born = date(1970, 1, 1) + timedelta(days=secrets.randbelow(365 * 30))
    body = f"{region}{born:%Y%m%d}{secrets.randbelow(1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]


def _provider(audience: str) -> tuple[Any, dict[str, Any]]:
    """A signing key and the registration of an identity provider allowed to assert L3 with it."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, {
        "name": "人脸核验服务",
        "issuer": f"https://idp-{uuid.uuid4().hex[:12]}.example.gov.cn",
        "public_key_pem": pem.decode(),
        "max_level": "L3",
        "audience": audience,
    }


def _l3_assertion(key: Any, provider: dict[str, Any], id_number: str, nonce: str) -> str:
    now = int(time.time())
    return jwt.encode(
        {
            "iss": provider["issuer"],
            "aud": provider["audience"],
            "sub": hashlib.sha256(id_number.encode()).hexdigest(),
            "nonce": nonce,
            "acr": "L3",
            "iat": now,
            "exp": now + 300,
        },
        key,
        algorithm="ES256",
    )


async def prove_l3(
    client: AsyncTestClient, op: str, pair: dict[str, Any], *, id_number: str | None = None, name: str = "窗口核验员"
) -> dict[str, Any]:
    """The account of ``pair`` proves an identity at L3 now, by an L3 assertion of an identity provider
    registered for it; returns the pair refreshed to carry ``acr`` L3 and the new ``auth_time``."""
    key, provider = _provider("zhangban-test")
    r = await client.post("/v1/admin/identity-providers", headers=auth(op), json=provider)
    assert r.status_code == 201, r.text
    id_number = id_number or random_id_number()
    r = await client.post(
        "/v1/auth/realname/sessions",
        headers=auth(pair["access_token"]),
        json={"name": name, "id_number": id_number, "method": "assertion"},
    )
    assert r.status_code == 201, r.text
    session = r.json()
    r = await client.post(
        f"/v1/auth/realname/sessions/{session['session_id']}/complete",
        json={"assertion": _l3_assertion(key, provider, id_number, session["nonce"])},
        headers=auth(pair["access_token"]),
    )
    assert r.status_code == 200 and r.json()["assurance_level"] == "L3", r.text
    r = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200, r.text
    return r.json()


def prove_l3_sync(http: httpx.Client, op: str, pair: dict[str, Any], *, name: str = "窗口核验员") -> dict[str, Any]:
    """:func:`prove_l3` for a blocking client (tests driving a server of their own)."""
    key, provider = _provider("zhangban-test")
    r = http.post("/v1/admin/identity-providers", headers=auth(op), json=provider)
    assert r.status_code == 201, r.text
    id_number = random_id_number()
    r = http.post(
        "/v1/auth/realname/sessions",
        headers=auth(pair["access_token"]),
        json={"name": name, "id_number": id_number, "method": "assertion"},
    )
    assert r.status_code == 201, r.text
    session = r.json()
    r = http.post(
        f"/v1/auth/realname/sessions/{session['session_id']}/complete",
        json={"assertion": _l3_assertion(key, provider, id_number, session["nonce"])},
        headers=auth(pair["access_token"]),
    )
    assert r.status_code == 200 and r.json()["assurance_level"] == "L3", r.text
    r = http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200, r.text
    return r.json()
