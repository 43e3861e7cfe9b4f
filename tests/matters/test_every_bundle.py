"""Every bundle of the catalogue can be applied for, with every conditional matter switched on."""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient

from tests.auth.helpers import auth
from tests.people import citizen, id_number

BUNDLES = [
    "after_death",
    "housing_fund_loan",
    "medical_insurance",
    "resale_home_transfer",
    "retirement",
    "school_enrollment",
    "start_business",
    "subsistence_aid",
    "veteran_return",
]


def _value(key: str, kind: str, me: str) -> object:
    if key.endswith("id_number"):
        return me if key == "mother_id_number" else id_number("19600101", 3)
    return {"date": "2026-11-01", "integer": 2}.get(kind, "测试")


@pytest.mark.parametrize("code", BUNDLES)
async def test_bundle_can_be_applied_for(client: AsyncTestClient, clerk: str, code: str) -> None:
    me = id_number("19850615", 21, male=False)
    h = auth((await citizen(client, clerk, name="申请人", id_number=me))["access_token"])
    bundle = (await client.get(f"/v1/bundles/{code}")).json()
    form = {f["key"]: _value(f["key"], f["type"], me) for f in bundle["form"]}
    materials = [
        {"code": m["code"], "blob_sha256": "ef" * 32}
        for m in bundle["materials"]
        if not m["held_by_department"] and not m["produced_by_matter"]
    ]
    r = await client.post(
        "/v1/applications",
        headers=h,
        json={"id": str(uuid.uuid4()), "bundle_code": code, "form": form, "materials": materials},
    )
    assert r.status_code == 201, r.text
    app = r.json()
    # With every condition met, every matter applies; the ones without predecessors start now.
    assert len(app["tasks"]) == bundle["stats"]["matters"]
    first = {m["code"] for m in bundle["matters"] if not m["after"]}
    assert {t["matter_code"] for t in app["tasks"] if t["status"] == "pending"} == first
