"""Business entities for end-to-end tests: a company opened through the catalogue, acting for it."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import auth
from tests.people import staff

BLOB = "ab" * 32


async def market_dept(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> dict[str, str]:
    """Headers of a 市场监管 approver and issuer whose department has a seal."""
    h = auth(await staff(client, op, conn, "shichang", ["approver", "issuer", "dept_admin"]))
    r = await client.post(
        "/v1/dept/seals", json={"name": "电子公章", "kind": "official", "algorithm": "ES256"}, headers=h
    )
    assert r.status_code == 201, r.text
    return h


async def open_business(
    client: AsyncTestClient,
    h: dict[str, str],
    market: dict[str, str],
    *,
    credit_code: str,
    name: str = "株洲味道餐饮有限公司",
    bundle: str = "start_business",
) -> dict[str, Any]:
    """The person behind ``h`` applies for ``bundle`` and 市场监管 approves 设立登记; the application."""
    b = (await client.get(f"/v1/bundles/{bundle}")).json()
    form: dict[str, Any] = {f["key"]: "x" for f in b["form"] if f["required"]}
    form.update(entity_name=name, scope="餐饮服务")
    form.pop("loan_amount", None)
    materials = [
        {"code": m["code"], "blob_sha256": BLOB}
        for m in b["materials"]
        if not m["held_by_department"] and not m["produced_by_matter"]
    ]
    body = {"id": str(uuid.uuid4()), "bundle_code": bundle, "form": form, "materials": materials}
    r = await client.post("/v1/applications", json=body, headers=h)
    assert r.status_code == 201, r.text
    task = next(t["id"] for t in r.json()["tasks"] if t["matter_code"] == "430200-SC-001")
    licence = {"entity_type": "有限责任公司", "established_on": "2026-11-20"}
    r = await client.post(
        f"/v1/dept/tasks/{task}/approve",
        headers=market,
        json={"result_fields": licence, "assigned_credit_code": credit_code},
    )
    assert r.status_code == 200, r.text
    return r.json()


async def act_as(client: AsyncTestClient, h: dict[str, str], credit_code: str | None) -> dict[str, str]:
    """Headers of the same login acting for the entity (``None``: as oneself)."""
    r = await client.post("/v1/auth/act-as", json={"credit_code": credit_code}, headers=h)
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def valid(code: str) -> str:
    """``code`` with its GB 32100 check character recomputed (test data)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    check = 31 - sum(alphabet.index(c) * w for c, w in zip(code[:17], weights, strict=True)) % 31
    return code[:17] + alphabet[0 if check == 31 else check]
