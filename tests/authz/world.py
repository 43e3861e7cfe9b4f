"""One of everything, made through the HTTP API: the people who call and the things they call about.

The authorization matrix, the fuzzer and the data-at-rest scan all start from this world. Its
home department is 株洲市公安局 (``gongan``): it holds the seal, issued the certificates, handles
the application's task and receives the feedback; 医保局 (``yibao``) is the other department.
Alice is the citizen who owns everything personal, her daughter is her dependent, Bob is a
stranger to both. Business entities too: Alice is the 法定代表人 of 春燕商贸 (its licence, e-seal,
application and 经办人 authorisation are ``World.org``), Bob of 东来科技, whose 经办人 Carol may apply
for one matter only; the matrix acts for 东来科技 as Bob ("company") and as Carol ("company_agent").
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from api.config import Settings
from api.kernel import redis_client
from notify import streams
from tests.auth.helpers import auth, claims, operator, sms_login
from tests.esign.helpers import device_key
from tests.people import department_id, id_number, next_phone, staff
from tests.wallet.helpers import dept_system

ALICE_ID = id_number("19880214", 41, male=False)
BOB_ID = id_number("19790630", 42)
CHILD_ID = id_number("20250901", 43, male=False)
CAROL_ID = id_number("19910305", 44, male=False)
ALICE_NAME, BOB_NAME, CHILD_NAME, CAROL_NAME = "欧阳春燕", "司马东来", "欧阳小满", "上官晓雯"
HOME_CO, OTHER_CO = "91430200MA4H0MEC0G", "91430200MA4TH3RC0P"  # GB 32100, check characters right
HOME_CO_NAME, OTHER_CO_NAME = "春燕商贸有限公司", "东来科技有限公司"
AGENT_MATTER = "430200-SW-001"  # the only matter Carol may apply for, for 东来科技
ALL_ROLES = ["clerk", "approver", "issuer", "dept_admin", "window_clerk"]
ALL_SCOPES = [
    "seals:manage",
    "certificates:issue",
    "certificates:revoke",
    "records:write",
    "tasks:handle",
    "consents:use",
    "webhooks:manage",
]
HEAD = "欧阳建国"  # the household head, a field the certificate token discloses
ADDRESS = "株洲市天元区珠江北路1088号"  # a sensitive certificate field
BANK_ACCOUNT = "6222021908001234567"
PNG = b"\x89PNG\r\n\x1a\n" + b"world-blob" * 8
PNG_SHA = hashlib.sha256(PNG).hexdigest()
# Webhook deliveries stay on this machine: a loopback port nothing listens on.
HOOK_URL = "http://127.0.0.1:9/zb-hook"


@dataclass
class World:
    tokens: dict[str, str | None]  # caller name -> access token (None: anonymous)
    refresh: dict[str, str]  # caller name -> refresh token, for the account callers
    alice: dict[str, str]  # resource ids of alice's (and the home department's) side
    child: dict[str, str]  # the same names, for alice's dependent
    phones: dict[str, str] = field(default_factory=dict)
    certificate_token: str = ""
    org: dict[str, str] = field(default_factory=dict)  # 春燕商贸's things, by the same names as ``alice``


def local_settings(settings: Settings, wechat_url: str) -> Settings:
    """The test settings with WeChat pointed at the loopback simulator, so nothing leaves the host."""
    import msgspec

    return msgspec.structs.replace(settings, wechat_api_base=wechat_url)


def household(id_no: str, name: str, ref: str) -> dict[str, Any]:
    return {
        "type_code": "household_register",
        "holder": {"id_number": id_no, "name": name},
        "fields": {"household_head": HEAD, "relation": "户主", "address": ADDRESS, "registered_on": "2020-01-02"},
        "external_ref": ref,
    }


async def _citizen(client: httpx.AsyncClient, clerk: str, name: str, id_no: str, phone: str) -> dict[str, Any]:
    """An app user with a known phone who proved who they are at a service window (L3)."""
    pair = await sms_login(client, phone)
    session = await _ok(
        await client.post(
            "/v1/auth/realname/sessions",
            headers=auth(pair["access_token"]),
            json={"name": name, "id_number": id_no, "method": "counter"},
        ),
        201,
    )
    await _ok(
        await client.post(
            "/v1/dept/realname/attest",
            json={"session_id": session["session_id"], "id_number": id_no},
            headers=auth(clerk),
        )
    )
    return await _ok(await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}))


async def _ok(r: Any, *status: int) -> dict[str, Any]:
    assert r.status_code in (status or (200, 201)), (r.request.url, r.status_code, r.text)
    return r.json() if r.content else {}


async def drain(settings: Settings) -> None:
    """Run the notification jobs over everything queued, as ``zhangban worker`` would (own resources:
    the app under the test client runs on another loop)."""
    from litestar.datastructures import State

    from api.app import close_resources, open_resources
    from tests.notify.helpers import Pipeline

    state = State()
    await open_resources(state, settings)
    pipeline = Pipeline(state)
    try:
        await pipeline.drain()
    finally:
        await pipeline.close()
        await close_resources(state, None)


async def issue_batches(settings: Settings) -> None:
    """Issue every batch queued, as ``zhangban worker``'s batch job would (own resources, as ``drain``)."""
    from litestar.datastructures import State

    from api.app import close_resources, open_resources
    from esign.batch import jobs as batches

    state = State()
    await open_resources(state, settings)
    try:
        await batches.drain(state)
    finally:
        await close_resources(state, None)


async def build_world(client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings) -> World:
    """Every kind of caller and one of every kind of thing, through the API (a few seconds)."""
    op = await operator(conn, settings)
    # Window clerks who attest have proven who they are within 15 minutes: a person each, so none of the
    # matrix's callers is one; the home department's plays "staff" where the matrix attests.
    clerk = await staff(client, op, conn, "shenpi", ["clerk"], proven=True)
    window_clerk = await staff(client, op, conn, "gongan", ["clerk"], proven=True)
    home = await staff(client, op, conn, "gongan", ALL_ROLES)
    other = await staff(client, op, conn, "yibao", ALL_ROLES)
    system = await dept_system(client, op, conn, "gongan", ALL_SCOPES)
    bare = await dept_system(client, op, conn, "gongan", ["webhooks:manage"])
    gongan = await department_id(conn, "gongan")
    # A client and a member of staff of the home department that the matrix may revoke and remove.
    spare_client = await _ok(
        await client.post(
            f"/v1/admin/departments/{gongan}/clients",
            headers=auth(op),
            json={"name": "备用系统", "scopes": ["records:write"]},
        ),
        201,
    )
    spare_staff = claims(await staff(client, op, conn, "gongan", ["clerk"]))["sub"]
    phones = {"alice": next_phone(), "bob": next_phone()}
    alice_pair = await _citizen(client, clerk, ALICE_NAME, ALICE_ID, phones["alice"])
    bob_pair = await _citizen(client, clerk, BOB_NAME, BOB_ID, phones["bob"])
    alice, bob = alice_pair["access_token"], bob_pair["access_token"]
    alice_person = (await _ok(await client.get("/v1/me", headers=auth(alice))))["person"]["id"]
    # Alice's phone, registered for 亮证 offline (her L3 proof is a moment old).
    device = await _ok(
        await client.post("/v1/devices", headers=auth(alice), json={"public_key": device_key(), "label": "手机"}), 201
    )
    # Two more accounts proven as Alice: one whose login the matrix reports "not me", one already reported (a case).
    spare = await _citizen(client, clerk, ALICE_NAME, ALICE_ID, next_phone())
    reported = await _citizen(client, clerk, ALICE_NAME, ALICE_ID, next_phone())
    await _ok(
        await client.post(f"/v1/auth/logins/{claims(reported['access_token'])['sid']}/not-me", headers=auth(alice))
    )
    case = (await _ok(await client.get("/v1/admin/identity-cases", headers=auth(op))))["items"][0]

    seal = await _ok(await client.post("/v1/dept/seals", json={"name": "电子证照专用章"}, headers=auth(home)), 201)
    made = await _ok(
        await client.post(
            "/v1/dept/guardianships",
            headers=auth(home),
            json={
                "guardian": {"id_number": ALICE_ID, "name": ALICE_NAME},
                "dependent": {"id_number": CHILD_ID, "name": CHILD_NAME},
                "basis": "出生登记",
            },
        )
    )
    child_person = made["dependent_person_id"]
    cert = await _ok(
        await client.post(
            "/v1/dept/certificates", json=household(ALICE_ID, ALICE_NAME, "world-alice"), headers=auth(home)
        ),
        201,
    )
    child_cert = await _ok(
        await client.post(
            "/v1/dept/certificates", json=household(CHILD_ID, CHILD_NAME, "world-child"), headers=auth(system)
        ),
        201,
    )
    renshe = await dept_system(client, op, conn, "renshe", ["records:write"])  # 社保缴费 is 人社局's to push
    await _ok(
        await client.post(
            "/v1/dept/records",
            headers=auth(renshe),
            json={
                "holder": {"id_number": ALICE_ID, "name": ALICE_NAME},
                "kind": "social_insurance_payment",
                "title": "2026年10月 养老保险缴费",
                "data": {"month": "2026-10", "amount": 1280, "bank_account_no": BANK_ACCOUNT},
                "sensitive": ["amount", "bank_account_no"],
                "occurred_at": "2026-10-15T02:00:00Z",
                "external_ref": "world-record",
            },
        ),
        201,
    )
    items = (await _ok(await client.get("/v1/wallet/items", params={"kind": "certificate"}, headers=auth(alice))))[
        "items"
    ]
    item = next(i["id"] for i in items if i["links"].get("certificate_id") == cert["id"])
    child_items = (
        await _ok(await client.get("/v1/wallet/items", params={"person_id": child_person}, headers=auth(alice)))
    )["items"]
    await _ok(
        await client.put(f"/v1/blobs/{PNG_SHA}", content=PNG, headers=auth(alice) | {"Content-Type": "image/png"}),
        200,
        201,
    )
    consent = await _ok(
        await client.post(
            "/v1/wallet/consents",
            headers=auth(alice),
            json={
                "grantee_department_id": gongan,
                "item_ids": [item],
                "purpose": "户籍业务核验",
                "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                "max_uses": 1000,
            },
        ),
        201,
    )
    application = await _ok(
        await client.post(
            "/v1/applications",
            headers=auth(alice),
            json={
                "id": str(uuid.uuid4()),
                "matter_code": "430200-GA-002",
                "form": {"household_address": ADDRESS},
                "materials": [
                    {"code": "discharge_certificate", "blob_sha256": PNG_SHA},
                    {"code": "household_register", "wallet_item_id": item},
                ],
            },
        ),
        201,
    )
    task = application["tasks"][0]["id"]
    await _ok(await client.post(f"/v1/dept/tasks/{task}/claim", headers=auth(home)))
    await _ok(await client.post(f"/v1/dept/tasks/{task}/approve", json={}, headers=auth(home)))
    await _ok(
        await client.post(
            f"/v1/applications/{application['id']}/evaluation",
            json={"level": 1, "comment": "太慢"},
            headers=auth(alice),
        ),
        201,
    )
    rect = (await _ok(await client.get("/v1/dept/rectifications", headers=auth(home))))["items"][0]["id"]
    feedback = await _ok(
        await client.post(
            "/v1/feedback",
            headers=auth(alice),
            json={"kind": "complaint", "text": "窗口排队太久", "matter_code": "430200-GA-002"},
        ),
        201,
    )
    unrouted = await _ok(
        await client.post("/v1/feedback", headers=auth(alice), json={"kind": "suggestion", "text": "希望增加夜间办理"}),
        201,
    )
    draft = str(uuid.uuid4())
    await _ok(
        await client.post(
            "/v1/sync/push",
            headers=auth(alice),
            json={
                "client_id": str(uuid.uuid4()),
                "mutations": [
                    {
                        "id": str(uuid.uuid4()),
                        "seq": 1,
                        "name": "draft.save",
                        "args": {
                            "draft_id": draft,
                            "matter_code": "430200-GA-002",
                            "form": {"household_address": ADDRESS},
                        },
                    }
                ],
            },
        )
    )
    session = await _ok(
        await client.post(
            "/v1/auth/realname/sessions",
            headers=auth(bob),
            json={"name": BOB_NAME, "id_number": BOB_ID, "method": "counter"},
        ),
        201,
    )
    batch = await _ok(
        await client.post(
            "/v1/dept/certificates:batch",
            headers=auth(home),
            json={"items": [household(CHILD_ID, CHILD_NAME, "world-child")]},
        ),
        202,
    )
    hook = await _ok(
        await client.post(
            "/v1/dept/webhooks", json={"url": HOOK_URL, "events": ["certificate.issued"]}, headers=auth(system)
        ),
        201,
    )
    # A test event makes the webhook a delivery (to a port nobody listens on: it waits for a retry).
    await _ok(await client.post(f"/v1/dept/webhooks/{hook['id']}/test", headers=auth(system)), 202)
    await issue_batches(settings)
    await drain(settings)
    notes = (await _ok(await client.get("/v1/notifications", headers=auth(alice))))["items"]
    # Alice at 公安局's window (a service centre in the catalogue), consenting to its reading her wallet; Bob her 代办人.
    intake = await _ok(
        await client.post(
            "/v1/dept/window/intakes", headers=auth(home), json={"citizen": {"id_number": ALICE_ID, "name": ALICE_NAME}}
        ),
        201,
    )
    await _ok(await client.post(f"/v1/dept/window/intakes/{intake['id']}/consent", json={}, headers=auth(home)))
    taken = await _ok(
        await client.post(
            f"/v1/dept/window/intakes/{intake['id']}/application",
            headers=auth(home),
            json={
                "id": str(uuid.uuid4()),
                "matter_code": "430200-GA-002",
                "form": {"household_address": ADDRESS},
                "materials": [
                    {"code": "discharge_certificate", "blob_sha256": PNG_SHA},
                    {"code": "household_register", "wallet_item_id": item},
                ],
            },
        ),
        201,
    )
    delegation = await _ok(
        await client.post(
            "/v1/delegations",
            headers=auth(alice),
            json={
                "agent": {"id_number": BOB_ID, "name": BOB_NAME},
                "matters": ["*"],
                "actions": ["apply"],
                "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            },
        ),
        201,
    )
    delivery = (await _ok(await client.get(f"/v1/dept/webhooks/{hook['id']}/deliveries", headers=auth(system))))[
        "items"
    ][0]
    org, company, company_agent = await _entities(client, op, conn, clerk, home=home, alice=alice)

    # Two dead letters, one for the operators to retry and one to discard.
    redis = redis_client.from_url(settings.redis_url)
    letters = [
        (
            await redis.xadd(
                streams.DEAD,
                {
                    "stream": streams.EVENTS,
                    "entry_id": "1-1",
                    "group": streams.EVENT_GROUP,
                    "reason": "not an outbox message",
                    "junk": "1",
                },
            )
        ).decode()
        for _ in range(2)
    ]
    await redis.aclose()

    alice_ids = {
        "application_id": application["id"],
        "task_id": task,
        "rect_id": rect,
        "feedback_id": feedback["id"],
        "unrouted_feedback_id": unrouted["id"],
        "item_id": item,
        "consent_id": consent["id"],
        "notification_id": notes[0]["id"],
        "webhook_id": hook["id"],
        "delivery_id": delivery["id"],
        "seal_id": seal["seal_id"],
        "kid": seal["kid"],
        "certificate_id": cert["id"],
        "batch_id": batch["id"],
        "list_id": str(cert["status_ref"]["list_id"]),
        "token": cert["token"],
        "session_id": session["session_id"],
        "sha256": PNG_SHA,
        "department_id": gongan,
        "draft_id": draft,
        "person_id": "",
        "letter_id": letters[0],
        "spare_letter_id": letters[1],
        "spare_client_id": spare_client["client_id"],
        "spare_account_id": spare_staff,
        "intake_id": intake["id"],
        "delegation_id": delegation["id"],
        "window_application_id": taken["id"],
        "login_id": claims(spare["access_token"])["sid"],
        "case_id": case["id"],
        "not_me_token": "zbn_" + "0" * 43,
        "org_seal_id": org["seal_id"],
        "device_id": device["id"],
        "alice_person_id": alice_person,
    }
    child_ids = alice_ids | {
        "item_id": child_items[0]["id"],
        "certificate_id": child_cert["id"],
        "person_id": child_person,
    }
    return World(
        tokens={
            "anonymous": None,
            "citizen": alice,
            "other_citizen": bob,
            "guardian": alice,
            "staff": home,
            "other_staff": other,
            "client": system,
            "scopeless_client": bare,
            "operator": op,
            "window_clerk": window_clerk,
            "company": company,
            "company_agent": company_agent,
            "home_company": org.pop("token"),
        },
        refresh={"citizen": alice_pair["refresh_token"], "other_citizen": bob_pair["refresh_token"]},
        alice=alice_ids,
        child=child_ids,
        phones=phones,
        certificate_token=cert["token"],
        org=org,
    )


async def _entities(
    client: httpx.AsyncClient, op: str, conn: asyncpg.Connection, clerk: str, *, home: str, alice: str
) -> tuple[dict[str, str], str, str]:
    """The two business entities (registered by 市场监管's 营业执照), 春燕商贸's things, and the acting tokens of
    Bob (法定代表人 of 东来科技) and Carol (its 经办人 for ``AGENT_MATTER``, applying only)."""
    market = await staff(client, op, conn, "shichang", ["issuer", "dept_admin"])
    await _ok(await client.post("/v1/dept/seals", json={"name": "电子公章"}, headers=auth(market)), 201)
    for code, name, rep, rep_id in (
        (HOME_CO, HOME_CO_NAME, ALICE_NAME, ALICE_ID),
        (OTHER_CO, OTHER_CO_NAME, BOB_NAME, BOB_ID),
    ):
        await _ok(
            await client.post(
                "/v1/dept/certificates",
                headers=auth(market),
                json={
                    "type_code": "business_license",
                    "holder": {"credit_code": code, "name": name},
                    "external_ref": f"world-{code}",
                    "fields": {
                        "entity_name": name,
                        "entity_type": "有限责任公司",
                        "legal_representative": rep,
                        "scope": "贸易",
                        "established_on": "2020-01-02",
                        "legal_representative_id_number": rep_id,
                    },
                },
            ),
            201,
        )
    # 公章刻制备案 done for 春燕商贸 (by 公安局): the platform makes its e-seal.
    await _ok(
        await client.post(
            "/v1/dept/certificates",
            headers=auth(home),
            json={
                "type_code": "seal_record",
                "holder": {"credit_code": HOME_CO, "name": HOME_CO_NAME},
                "fields": {"entity_name": HOME_CO_NAME, "seal_kind": "单位公章"},
                "external_ref": "world-seal-record",
            },
        ),
        201,
    )

    async def act_as(token: str, code: str) -> str:
        return (await _ok(await client.post("/v1/auth/act-as", json={"credit_code": code}, headers=auth(token))))[
            "access_token"
        ]

    home_co = await act_as(alice, HOME_CO)
    items = (await _ok(await client.get("/v1/wallet/items", params={"kind": "certificate"}, headers=auth(home_co))))[
        "items"
    ]
    licence = next(i for i in items if i["certificate"]["type_code"] == "business_license")
    application = await _ok(
        await client.post(
            "/v1/applications",
            headers=auth(home_co),
            json={
                "id": str(uuid.uuid4()),
                "matter_code": AGENT_MATTER,
                "form": {"entity_name": HOME_CO_NAME},
                "materials": [{"code": "applicant_id_card", "blob_sha256": PNG_SHA}],
            },
        ),
        201,
    )
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    grant = await _ok(
        await client.post(
            "/v1/delegations",
            headers=auth(home_co),
            json={
                "agent": {"id_number": id_number("19920606", 45), "name": "诸葛经办"},
                "matters": ["*"],
                "actions": ["apply"],
                "expires_at": later,
            },
        ),
        201,
    )
    seal = (await _ok(await client.get("/v1/org/seals", headers=auth(home_co))))["items"][0]
    org = {
        "item_id": licence["id"],
        "certificate_id": licence["certificate"]["id"],
        "application_id": application["id"],
        "delegation_id": grant["id"],
        "seal_id": seal["seal_id"],
        "org_id": licence["person_id"],
    }

    # Bob acts for 东来科技 from a login of his own (the matrix ends his first one with Logout).
    bob_again = (await _citizen(client, clerk, BOB_NAME, BOB_ID, next_phone()))["access_token"]
    company = await act_as(bob_again, OTHER_CO)
    carol = (await _citizen(client, clerk, CAROL_NAME, CAROL_ID, next_phone()))["access_token"]
    await _ok(
        await client.post(
            "/v1/delegations",
            headers=auth(company),
            json={
                "agent": {"id_number": CAROL_ID, "name": CAROL_NAME},
                "matters": [AGENT_MATTER],
                "actions": ["apply"],
                "expires_at": later,
            },
        ),
        201,
    )
    return org | {"token": home_co}, company, await act_as(carol, OTHER_CO)
