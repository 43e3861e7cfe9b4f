"""``esign.flows.issue_certificate`` as other domains call it: a result certificate for a person found by
id, possibly a newborn who has no ID number yet, in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from auth import persons
from esign import flows
from esign.codec import tokens
from esign.models import HolderIn, IssueIn
from tests.esign import api


async def test_a_newborn_gets_a_certificate_by_person_id(
    app: Litestar, client: AsyncTestClient, op: str, conn: asyncpg.Connection
) -> None:
    admin = await api.staff(client, op, conn, "weijian", ["dept_admin"])
    await api.make_seal(client, admin)
    weijian = await conn.fetchval("SELECT id FROM department WHERE key = 'weijian'")
    now = datetime.now(UTC)
    async with conn.transaction():
        baby = await persons.create_newborn(
            conn, app.state.keyring, name="李小满", born_on=date(2026, 11, 18), sex="female", now=now
        )
    item = IssueIn(
        type_code="birth_medical_certificate",
        holder=HolderIn(name="李小满"),
        external_ref="birth-1",
        fields={
            "child_name": "李小满",
            "sex": "女",
            "born_at": "2026-11-18",
            "birth_place": "株洲市妇幼保健院",
            "mother_name": "王芳",
            "father_name": "李强",
            "institution": "株洲市妇幼保健院",
        },
    )
    async with conn.transaction():
        done = await flows.issue_certificate(
            conn, app.state.esign, department_id=weijian, item=item, actor="task:1", now=now, holder_person_id=baby
        )
    assert done.outcome == "issued" and done.certificate is not None
    assert done.certificate.holder.id_masked == "" and done.certificate.holder.name_masked == "李*满"
    claims = tokens.decode_token(done.certificate.token).claims
    assert claims.holder_id == "" and claims.fields[1] == "李小满"  # child_name is field 1 of the type
    assert (
        await conn.fetchval("SELECT person_id FROM wallet_item WHERE certificate_id = $1", done.certificate_id) == baby
    )
    async with conn.transaction():
        again = await flows.issue_certificate(
            conn, app.state.esign, department_id=weijian, item=item, actor="task:1", now=now, holder_person_id=baby
        )
    assert again.outcome == "existing" and again.certificate_id == done.certificate_id
    assert (await api.verify(client, done.certificate.token))["valid"] is True
