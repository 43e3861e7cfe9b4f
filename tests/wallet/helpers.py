"""Plain helpers for wallet tests: issue certificates, set guardianships, push records, verify offline."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from esign import flows, lists, seals
from esign.codec import verify as esign_verify
from esign.models import HolderIn, IssueIn
from esign.state import EsignState
from esign.store import seal as seal_store
from tests.auth.helpers import auth

_refs = itertools.count(1)


async def department_id(conn: asyncpg.Connection, key: str) -> Any:
    return await conn.fetchval("SELECT id FROM department WHERE key = $1", key)


async def issue(
    pool: asyncpg.Pool,
    esign: EsignState,
    dept_key: str,
    type_code: str,
    *,
    id_number: str,
    name: str,
    fields: dict[str, Any],
    valid_until: datetime | None = None,
    now: datetime | None = None,
) -> Any:
    """Issue a certificate the way a department does (its default seal, made on first use); its id."""
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        dept = await department_id(conn, dept_key)
        if await seal_store.default_seal(conn, dept, now=now) is None:
            department = await seal_store.get_department(conn, dept)
            await seals.create_seal(
                conn,
                esign,
                department,
                name="电子证照专用章",
                kind="official",
                algorithm=None,
                csr_pem=None,
                actor="test",
                now=now,
            )
        item = IssueIn(
            type_code=type_code,
            holder=HolderIn(name=name, id_number=id_number),
            fields=fields,
            external_ref=f"test-{next(_refs)}",
            valid_until=valid_until,
        )
        issued = await flows.issue_certificate(conn, esign, department_id=dept, item=item, actor="test", now=now)
        return issued.certificate_id


async def offline_verifier(pool: asyncpg.Pool, esign: EsignState, now: datetime) -> Any:
    """What a verifier app caches: the signed trust list and status lists, read back against the pinned root."""
    async with pool.acquire() as conn:
        trust = esign.trust_list(await lists.trust_list_token(conn, esign, now=now))
        statuses = {
            i: esign.status_list(i, await lists.status_list_token(conn, esign, i, now=now)) for i in trust.status_lists
        }

    def check(token: str, at: datetime) -> esign_verify.Verdict:
        return esign_verify.verify_token(token, trust, statuses, at)

    return check


async def set_guardian(
    client: AsyncTestClient,
    staff_token: str,
    guardian_id_number: str,
    dependent: dict[str, Any],
    guardian_name: str = "李强",
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "guardian": {"id_number": guardian_id_number, "name": guardian_name},
        "dependent": dependent,
        "basis": "出生登记",
        **extra,
    }
    r = await client.post("/v1/dept/guardianships", json=body, headers=auth(staff_token))
    assert r.status_code in (200, 201), r.text
    return r.json()


async def dept_system(client: AsyncTestClient, op: str, conn: asyncpg.Connection, key: str, scopes: list[str]) -> str:
    """An access token of a seeded department's own system holding ``scopes``."""
    dept = await department_id(conn, key)
    r = await client.post(
        f"/v1/admin/departments/{dept}/clients", json={"name": "业务系统", "scopes": scopes}, headers=auth(op)
    )
    assert r.status_code == 201, r.text
    made = r.json()
    r = await client.post(
        "/v1/auth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def record(holder_id: str, ref: str, name: str = "张三", **over: Any) -> dict[str, Any]:
    """A 社保缴费 record body for the holder's ID number and name."""
    return {
        "holder": {"id_number": holder_id, "name": name},
        "kind": "social_insurance_payment",
        "title": "2026年10月 养老保险缴费",
        "data": {"month": "2026-10", "amount": 1280, "employer": "株洲市某公司"},
        "sensitive": ["amount"],
        "occurred_at": "2026-10-15T02:00:00Z",
        "external_ref": ref,
        **over,
    }


ID_CARD_FIELDS = {
    "sex": "男",
    "ethnicity": "汉",
    "birth_date": "1990-01-01",
    "address": "湖南省株洲市天元区长江北路1号",
    "valid_until": "2040-01-01",
}


async def completed_application(
    conn: asyncpg.Connection,
    keyring: Any,
    *,
    bundle_code: str,
    applicant: Any,
    for_person: Any,
    form: dict[str, Any],
    completed_at: datetime | None = None,
) -> Any:
    """An application as the applications domain leaves it when every task is done (its own flow is tested there)."""
    import uuid

    import msgspec

    now = completed_at or datetime.now(UTC)
    app_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO application (id, bundle_code, applicant_account_id, applicant_person_id, for_person_id, status, form,
                                    materials, fingerprint, submitted_at, due_at, completed_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, 'completed', $6, '[]', $7, $8, $8, $8, $8)""",
        app_id,
        bundle_code,
        uuid.uuid4(),
        applicant,
        for_person,
        keyring.encrypt(msgspec.json.encode(form), context="application.form"),
        b"x",
        now,
    )
    await conn.execute("INSERT INTO application_key (id, for_person_id) VALUES ($1, $2)", app_id, for_person)
    return app_id
