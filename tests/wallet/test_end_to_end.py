"""记录一生 end to end, through the public HTTP API only.

A department records who the newborn's guardian is; the health commission issues the birth
certificate through the e-certificate API; the mother sees it among her child's things, shows one
field of it as a QR that an offline verifier accepts, grants the hospital a two-use consent that
stops working on the third read, and finds all three reads in the access log; a department record
lands in the child's timeline next to the birth; the export holds all of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
from cryptography import x509
from litestar import Litestar
from litestar.testing import AsyncTestClient

from esign.codec import statuslist, trustlist
from esign.codec.verify import verify_token
from tests.auth.helpers import assert_problem, auth
from tests.people import citizen, id_number, staff
from tests.wallet import helpers
from wallet import jobs

MOTHER = id_number("19920304", 81, male=False)
CHILD = id_number("20261118", 82, male=False)
BIRTH = {
    "child_name": "李小满",
    "sex": "女",
    "born_at": "2026-11-18",
    "birth_place": "株洲市天元区",
    "mother_name": "王芳",
    "father_name": "李强",
    "institution": "株洲市妇幼保健院",
}


async def _offline_verifier(client: AsyncTestClient) -> SimpleNamespace:
    """What a verifier app downloads once and then uses without the network: pinned root, trust and status lists."""
    pem = (await client.get("/v1/root-certificate")).text
    root = x509.load_pem_x509_certificate(pem.encode())
    from cryptography.hazmat.primitives.serialization import Encoding

    trust = trustlist.parse_trust_list((await client.get("/v1/trust-list")).text, root.public_bytes(Encoding.DER))
    lists = {}
    for list_id, ref in trust.status_lists.items():
        token = (await client.get(f"/v1/status-lists/{list_id}")).text
        lists[list_id] = statuslist.parse_status_list(token, root.public_key(), url=ref.url)
    return SimpleNamespace(verify=lambda token, at: verify_token(token, trust, lists, at))


async def test_a_lifelong_wallet_from_birth(
    client: AsyncTestClient, op: str, clerk: str, conn: asyncpg.Connection, pool: asyncpg.Pool, app: Litestar
) -> None:
    mother = auth((await citizen(client, clerk, name="王芳", id_number=MOTHER))["access_token"])

    # 公安 records the guardianship of the newborn (a department decision, documented route).
    gongan = await staff(client, op, conn, "gongan", ["clerk"])
    made = await helpers.set_guardian(
        client, gongan, MOTHER, {"id_number": CHILD, "name": "李小满"}, guardian_name="王芳"
    )
    child = made["dependent_person_id"]

    # 卫健委 issues the birth certificate through the e-certificate API.
    weijian = auth(await staff(client, op, conn, "weijian", ["dept_admin", "issuer"]))
    r = await client.post("/v1/dept/seals", json={"name": "出生医学证明专用章", "kind": "official"}, headers=weijian)
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/dept/certificates",
        headers=weijian,
        json={
            "type_code": "birth_medical_certificate",
            "holder": {"id_number": CHILD, "name": "李小满"},
            "fields": BIRTH,
            "external_ref": "CS-2026-0001",
        },
    )
    assert r.status_code == 201, r.text
    certificate = r.json()

    # The guardian sees the newborn and the newborn's certificate.
    dependents = (await client.get("/v1/wallet/dependents", headers=mother)).json()["items"]
    assert [(d["person_id"], d["name_masked"]) for d in dependents] == [(child, "李*满")]
    items = (await client.get("/v1/wallet/items", params={"person_id": child}, headers=mother)).json()["items"]
    assert [(i["kind"], i["certificate"]["id"]) for i in items] == [("certificate", certificate["id"])]
    item = items[0]["id"]

    # 亮证: one field, as a QR an offline verifier accepts.
    r = await client.post(
        f"/v1/wallet/items/{item}/present", json={"fields": ["sex"], "ttl_seconds": 60}, headers=mother
    )
    assert r.status_code == 201, r.text
    verifier = await _offline_verifier(client)
    verdict = verifier.verify(r.json()["qr"], datetime.now(UTC))
    assert verdict.valid, verdict.reasons
    assert verdict.certificate.kind == "presentation"
    assert [(f.key, f.label, f.value) for f in verdict.certificate.fields] == [("sex", "性别", "女")]
    assert verdict.certificate.licence_id == certificate["licence_id"]

    # 授权用证: the hospital may read the certificate twice.
    hospital = str(await helpers.department_id(conn, "fuyou"))
    r = await client.post(
        "/v1/wallet/consents",
        headers=mother,
        json={
            "grantee_department_id": hospital,
            "item_ids": [item],
            "purpose": "新生儿建档",
            "max_uses": 2,
            "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    consent = r.json()
    nurse = auth(await staff(client, op, conn, "fuyou", ["clerk"]))
    url = f"/v1/dept/consents/{consent['id']}/items"
    for _ in range(2):
        r = await client.get(url, headers=nurse)
        assert r.status_code == 200, r.text
        assert r.json()["items"][0]["certificate"]["fields"]["child_name"] == "李小满"
    assert_problem(await client.get(url, headers=nurse), 403, "consent_not_active")
    log = (await client.get("/v1/wallet/access-log", params={"person_id": child}, headers=mother)).json()["items"]
    assert [e["outcome"] for e in log] == ["refused", "served", "served"]
    assert {(e["department"]["name"], e["purpose"], tuple(e["item_ids"])) for e in log} == {
        ("株洲市妇幼保健院", "新生儿建档", (item,))
    }

    # 医保 enrols the child: a department record, in the timeline with the birth.
    yibao = auth(await staff(client, op, conn, "yibao", ["clerk"]))
    r = await client.post(
        "/v1/dept/records",
        headers=yibao,
        json={
            "holder": {"id_number": CHILD, "name": "李小满"},
            "kind": "medical_insurance_enrolment",
            "title": "城乡居民医保参保登记",
            "data": {"insurance_type": "城乡居民", "start_on": "2026-11-20"},
            "occurred_at": "2026-11-20T01:00:00Z",
            "external_ref": "YB-2026-0001",
        },
    )
    assert r.status_code == 201, r.text
    record_id = r.json()["id"]
    await jobs.derive(SimpleNamespace(pool=pool, keyring=app.state.keyring))
    timeline = (await client.get("/v1/wallet/timeline", params={"person_id": child}, headers=mother)).json()["items"]
    assert [(e["kind"], e.get("event")) for e in timeline][:1] == [("event", "born")]
    assert record_id in [e["item_id"] for e in timeline if e["kind"] == "record"]

    # The export holds all of it.
    r = await client.get("/v1/wallet/export", params={"person_id": child}, headers=mother)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["person"]["id_number"] == CHILD and doc["guardians"] == [made["guardian_person_id"]]
    assert (doc["person"]["born_on"], doc["person"]["sex"]) == ("2026-11-18", "female")
    # The mother was first seen at her login: her own export reads her birth and sex from her ID number.
    own = (await client.get("/v1/wallet/export", headers=mother)).json()["person"]
    assert (own["born_on"], own["sex"]) == ("1992-03-04", "female")
    assert {i["kind"] for i in doc["items"]} == {"certificate", "record", "event"}
    assert {e["item_id"] for e in doc["timeline"]} >= {item, record_id}
    assert [(c["id"], c["uses"], c["status"]) for c in doc["consents"]] == [(consent["id"], 2, "used_up")]
    assert [e["outcome"] for e in doc["access_log"]] == ["refused", "served", "served"]
