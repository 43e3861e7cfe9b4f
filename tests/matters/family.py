"""A family about to apply for 出生一件事, built through HTTP: departments, parents, their certificates."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import auth
from tests.people import citizen, id_number, staff

FATHER = id_number("19900512", 31, male=True)
MOTHER = id_number("19920304", 32, male=False)
CHILD = id_number("20261118", 33, male=False)
ADDRESS = "湖南省株洲市天元区长江北路1号"
BANK_CARD = "6222020202020202"


def png(tag: str) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + tag.encode() * 16


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Family:
    father: dict[str, str]  # Authorization headers
    mother: dict[str, str]
    depts: dict[str, dict[str, str]]  # department key -> staff headers (every role)
    uploads: dict[str, bytes]  # material code -> the file handed in


async def department(client: AsyncTestClient, op: str, conn: asyncpg.Connection, key: str) -> dict[str, str]:
    """Staff who run a department end to end, and the department's official seal."""
    h = auth(await staff(client, op, conn, key, ["dept_admin", "issuer", "approver", "clerk"]))
    r = await client.post(
        "/v1/dept/seals", json={"name": "电子公章", "kind": "official", "algorithm": "ES256"}, headers=h
    )
    assert r.status_code == 201, r.text
    return h


async def issue(
    client: AsyncTestClient, h: dict[str, str], type_code: str, number: str, name: str, fields: dict[str, Any]
) -> dict:
    body = {
        "type_code": type_code,
        "holder": {"id_number": number, "name": name},
        "fields": fields,
        "external_ref": f"{type_code}:{number}",
    }
    r = await client.post("/v1/dept/certificates", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


async def family(client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection) -> Family:
    """Two parents at L3 with their ID cards, household register and marriage certificate in their wallets."""
    depts = {k: await department(client, op, conn, k) for k in ("gongan", "minzheng", "weijian", "renshe", "yibao")}
    father = auth((await citizen(client, clerk, name="李强", id_number=FATHER))["access_token"])
    mother = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])
    for number, name, sex in ((FATHER, "李强", "男"), (MOTHER, "王芳", "女")):
        await issue(
            client,
            depts["gongan"],
            "id_card",
            number,
            name,
            {
                "name": name,
                "sex": sex,
                "ethnicity": "汉",
                "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
                "address": ADDRESS,
                "valid_until": "2040-01-01",
            },
        )
        await issue(
            client,
            depts["gongan"],
            "household_register",
            number,
            name,
            {
                "household_head": "李强",
                "relation": "户主" if name == "李强" else "妻",
                "address": ADDRESS,
                "registered_on": "2020-05-01",
            },
        )
    await issue(
        client,
        depts["minzheng"],
        "marriage_certificate",
        MOTHER,
        "王芳",
        {"spouse_name": "李强", "registered_on": "2020-05-01", "registry": "株洲市天元区民政局"},
    )
    uploads = {c: png(c) for c in ("child_photo", "bank_account", "hospital_invoice")}
    for who in (mother, father):
        for data in uploads.values():
            r = await client.put(f"/v1/blobs/{sha(data)}", content=data, headers=who | {"Content-Type": "image/png"})
            assert r.status_code in (200, 201), r.text
    return Family(father=father, mother=mother, depts=depts, uploads=uploads)


def birth_form(**over: Any) -> dict[str, Any]:
    return {
        "child_name": "李小满",
        "child_sex": "女",
        "child_born_at": "2026-11-18",
        "father_id_number": FATHER,
        "mother_id_number": MOTHER,
        "household_address": ADDRESS,
        "bank_account_no": BANK_CARD,
        "delivery_record_no": "ZZ-2026-1118-042",
    } | over


def birth_application(f: Family, **form: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "bundle_code": "birth",
        "form": birth_form(**form),
        "materials": [{"code": c, "blob_sha256": sha(d)} for c, d in f.uploads.items()],
    }


def task_of(app: dict[str, Any], matter_code: str) -> dict[str, Any]:
    return next(t for t in app["tasks"] if t["matter_code"] == matter_code)
