"""Who may call what: every route of the OpenAPI document, called by every kind of caller.

The routes are read from the app's own OpenAPI document, so a route added anywhere is called here
too, and a route missing from ``EXPECTED`` fails the test until someone says who may call it.
Each caller uses the ids of the world's home side (Alice's things, 公安局's things); the guardian
uses her daughter's. A caller is *denied* when the answer is 401, 403 or 404 (404 for things the
caller may not know exist), *allowed* otherwise. Whatever a stranger (Bob, staff of 医保局) gets
back must not contain any of Alice's or 公安局's ids or personal data. Two callers act for a company
(东来科技): its 法定代表人 and a 经办人 allowed one matter; what the first may do and the second may not
is refused 403, and every route taking an id is also called with another company's things (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from litestar import Litestar

from api.config import Settings
from api.kernel.problems import PROBLEM_JSON
from matters import seed
from tests.authz.world import (
    AGENT_MATTER,
    ALICE_ID,
    ALICE_NAME,
    BOB_ID,
    HOME_CO,
    PNG,
    PNG_SHA,
    World,
    device_key,
    household,
    issue_batches,
)
from tests.people import id_number

CALLERS = (
    "anonymous",
    "other_citizen",
    "other_staff",
    "scopeless_client",
    "guardian",
    "citizen",
    "staff",
    "client",
    "operator",
    "company",
    "company_agent",
)
EVERYONE = frozenset(CALLERS)
# Acting for a business entity (东来科技): its 法定代表人, and its 经办人 who may apply for one matter only. Every
# route of "the caller's person" serves the entity then; a 经办人 is refused (403) what only the 法定代表人 may do.
COMPANY = frozenset({"company", "company_agent"})
ACCOUNTS = frozenset({"citizen", "other_citizen", "guardian", "staff", "other_staff", "operator"}) | COMPANY
PEOPLE = frozenset({"citizen", "other_citizen", "guardian"}) | COMPANY
HOME_DEPT = frozenset({"staff", "client"})
OP = frozenset({"operator"})
HOLDER_OR_ISSUER = frozenset({"citizen", "guardian", "staff", "client", "scopeless_client"})
ORG_THINGS = ("item_id", "certificate_id", "application_id", "delegation_id", "seal_id")
# Routes that change or end what later routes use run last, in this order.
LAST = (
    "RevokeConsent",
    "RevokeDeviceByOperator",
    "RevokeDevice",
    "WithdrawApplication",
    "SuspendCertificate",
    "ResumeCertificate",
    "RevokeCertificate",
    "RotateSeal",
    "RevokeSeal",
    "DisableWebhook",
    "RevokeDepartmentClient",
    "RemoveStaff",
    "Logout",
)
PERSONAL = ("item_id", "certificate_id", "person_id")

Body = Callable[[str, dict[str, str]], Any]
# wx.uploadFile's form: the file in the part named "file".
FORM = (
    b'--zb\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
    + PNG
    + b"\r\n--zb--\r\n"
)


@dataclass(frozen=True)
class Case:
    allowed: frozenset[str]
    body: Body | None = None
    query: dict[str, str] = field(default_factory=dict)
    public: bool = False  # the answer may depend on the input, never on who asks: nobody is refused
    ids: dict[str, str] = field(default_factory=dict)  # path parameter -> another id of the world
    refusals: frozenset[int] = frozenset()  # further statuses that refuse without telling anything
    stream: bool = False  # an endless response: only the status line is read
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    played_by: dict[str, str] = field(default_factory=dict)  # caller -> the world's token that plays it here


def j(value: Any) -> Body:
    return lambda caller, ids: value


def public(body: Body | None = None, **kw: Any) -> Case:
    return Case(EVERYONE, body, public=True, **kw)


def _later(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _issue(caller: str, ids: dict[str, str]) -> dict[str, Any]:
    return household(id_number("19660101", 60 + CALLERS.index(caller)), "周建国", f"matrix-{caller}-{uuid.uuid4()}")


def _application(caller: str, ids: dict[str, str]) -> dict[str, Any]:
    if caller == "company":  # an entity applies for a matter entities may apply for (a person's matter: 403)
        return {
            "id": str(uuid.uuid4()),
            "matter_code": AGENT_MATTER,
            "form": {"entity_name": "东来科技"},
            "materials": [{"code": "applicant_id_card", "blob_sha256": PNG_SHA}],
        }
    return {
        "id": str(uuid.uuid4()),
        "matter_code": "430200-GA-002",
        "form": {"household_address": "株洲市芦淞区1号"},
        "materials": [
            {"code": "discharge_certificate", "blob_sha256": PNG_SHA},
            {"code": "household_register", "blob_sha256": PNG_SHA},
        ],
    }


def _push(caller: str, ids: dict[str, str]) -> dict[str, Any]:
    return {
        "client_id": str(uuid.uuid4()),
        "mutations": [
            {
                "id": str(uuid.uuid4()),
                "seq": 1,
                "name": "draft.save",
                "args": {"draft_id": str(uuid.uuid4()), "matter_code": "430200-GA-002", "form": {}},
            }
        ],
    }


def _staff_grant(caller: str, ids: dict[str, str]) -> dict[str, Any]:
    return {"account_id": str(uuid.uuid4()), "roles": ["clerk"]}


def _matter(caller: str, ids: dict[str, str]) -> dict[str, Any]:
    """退役士兵户口登记 as it is: 公安局's, and none of its materials is held by a department."""
    m = next(x for x in seed.load_catalogue()["matters"] if x["code"] == "430200-GA-002")
    return m | {"department": {"id": ids["department_id"]}}


def _bundle(caller: str, ids: dict[str, str]) -> dict[str, Any]:
    """出生一件事 as it is, led by 公安局 (the world knows that department's id only)."""
    b = next(x for x in seed.load_catalogue()["bundles"] if x["code"] == "birth")
    return {k: v for k, v in b.items() if k != "subject"} | {"lead_department": {"id": ids["department_id"]}}


def _home_authority() -> dict[str, Any]:
    """公安局's listed powers as the catalogue states them (put back unchanged)."""
    return next(d for d in seed.load_catalogue()["departments"] if d["key"] == "gongan")["authority"]


ANY_UUID = "00000000-0000-4000-8000-000000000000"

EXPECTED: dict[str, Case] = {
    # meta and public reads
    "Health": public(),
    "MetricsGet": public(),
    "GetJwks": public(),
    "AdminDashboard": public(),
    "GetMatter": public(),
    "ListMatters": public(),
    "GetBundle": public(),
    "ListBundles": public(),
    "ListCertificateTypes": public(),
    "GetTrustList": public(),
    "GetStatusList": public(),
    "GetRootCertificate": public(),
    "GetSealImage": public(),
    "VerificationPage": public(),
    "VerifyToken": public(lambda c, ids: {"token": ids["token"]}),
    "DevListSms": Case(EVERYONE, query={"phone": "13800000000"}, public=True),
    # logging in
    "WechatLogin": public(j({"code": "not-a-code"})),
    "SmsSendCode": public(j({"phone": "13800000000"})),
    "SmsLogin": public(j({"phone": "13800000000", "code": "000000"})),
    "RefreshTokens": public(j({"refresh_token": "not-a-token"})),
    "ClientCredentialsToken": public(
        j({"grant_type": "client_credentials", "client_id": ANY_UUID, "client_secret": "x"})
    ),
    # A department system's logout has nothing to revoke and says so with 204, as for a spent token.
    "Logout": Case(EVERYONE - {"anonymous"}, j({})),
    "GetMe": Case(ACCOUNTS),
    "WechatBindPhone": Case(ACCOUNTS, j({"code": "not-a-code"})),
    "OpenRealnameSession": Case(
        ACCOUNTS, lambda c, ids: {"name": "周建国", "id_number": id_number("19660101", 90), "method": "counter"}
    ),
    "CompleteRealnameSession": Case(frozenset({"other_citizen"}), j({})),
    # The window clerk of a department with proofing authority (公安局, not 医保局) attests the person in front of them,
    # keying in the number on their card; "staff" is played by 公安局's clerk who proved their own identity just now.
    "AttestRealnameAtCounter": Case(
        frozenset({"staff"}),
        lambda c, ids: {"session_id": ids["session_id"], "id_number": BOB_ID},
        played_by={"staff": "window_clerk"},
    ),
    # "Not me" about a login bound to one's identity (another of Alice's accounts); the link of the text is public.
    "ReportLoginNotMe": Case(frozenset({"citizen"})),
    # Acting for a business entity: verified people only (L2); null switches back to oneself.
    "ListMyOrganisations": Case(PEOPLE),
    "ActAs": Case(PEOPLE, j({"credit_code": None})),
    # Staff logins' second factor: binding an authenticator is staff's (already bound here: 409); any login may
    # send a code with its own token (no authenticator: 409), not one acting for a company; a lost one is an
    # operator's reset.
    "TotpEnrol": Case(frozenset({"staff", "other_staff"})),
    "TotpVerify": Case(ACCOUNTS - COMPANY, j({"code": "000000"})),
    "ResetStaffTotp": Case(OP, ids={"account_id": "spare_account_id"}),
    # 亮证 offline: a person's own devices (a new key each call); an operator revokes one on a reported loss.
    "RegisterDevice": Case(
        frozenset({"citizen", "other_citizen", "guardian"}), lambda c, ids: {"public_key": device_key(), "label": c}
    ),
    "ListDevices": Case(frozenset({"citizen", "other_citizen", "guardian"})),
    "RevokeDevice": Case(frozenset({"citizen"})),
    "ListPersonDevices": Case(OP, ids={"person_id": "alice_person_id"}),
    "RevokeDeviceByOperator": Case(OP, j({"reason": "报失"})),
    "NotMePage": public(ids={"token": "not_me_token"}),
    "NotMeConfirm": public(ids={"token": "not_me_token"}),
    # operators
    "ListDepartments": Case(OP),
    "ListIdentityCases": Case(OP),
    "CloseIdentityCase": Case(OP, j({"resolution": "经核查为本人家属代为登录"})),
    "CreateDepartment": Case(OP, j({"name": "x", "credit_code": "bad", "region_code": "430200"})),
    # A department's own administrator manages its systems and staff.
    "CreateDepartmentClient": Case(OP | {"staff"}, j({"name": "系统", "scopes": ["records:write"]})),
    "ListStaff": Case(OP | {"staff"}),
    "GrantStaffRoles": Case(OP | {"staff"}, _staff_grant),
    "ListDepartmentClients": Case(OP | {"staff"}),
    "RotateClientSecret": Case(OP | {"staff"}, ids={"client_id": "spare_client_id"}),
    "RevokeDepartmentClient": Case(OP | {"staff"}, ids={"client_id": "spare_client_id"}),
    "RemoveStaff": Case(OP | {"staff"}, ids={"account_id": "spare_account_id"}),
    "ListIdentityProviders": Case(OP),
    "RegisterIdentityProvider": Case(OP, j({"name": "x", "issuer": "https://idp.example.cn"})),
    "VerifyAuditChain": Case(OP),
    "GetStats": Case(OP),
    "ListOperatorFeedback": Case(OP),
    "AnswerOperatorFeedback": Case(OP, j({"text": "已处理"}), ids={"feedback_id": "unrouted_feedback_id"}),
    "GetNotificationForOperator": Case(OP),
    "ListDeadLetters": Case(OP),
    "RetryDeadLetter": Case(OP),
    "DiscardDeadLetter": Case(OP, ids={"letter_id": "spare_letter_id"}),
    "UpsertCertificateType": Case(
        OP,
        lambda c, ids: {
            "code": "matrix_type",
            "name": "测试证",
            "holder_kind": "person",
            "issuer_department_ids": [ids["department_id"]],
            "fields": [{"key": "note", "label": "备注", "type": "string", "required": True, "sensitive": False}],
        },
    ),
    "UpsertMatter": Case(OP, _matter),
    "UpsertBundle": Case(OP, _bundle),
    "GetDepartmentAuthority": Case(OP),
    "PutDepartmentAuthority": Case(OP, lambda c, ids: _home_authority()),
    # applications, citizen side
    # Every login has its own (maybe empty) list; nobody else's.
    # 东来科技's 经办人 may apply for another matter only: 403 delegation_out_of_scope.
    "ListApplications": Case(ACCOUNTS),
    "SubmitApplication": Case(PEOPLE - {"company_agent"}, _application),
    "GetApplication": Case(frozenset({"citizen"})),
    "WithdrawApplication": Case(frozenset({"citizen"})),
    "SupplementApplication": Case(
        frozenset({"citizen"}), j({"materials": [{"code": "household_register", "blob_sha256": PNG_SHA}]})
    ),
    "GetEvaluation": Case(frozenset({"citizen"})),
    "EvaluateApplication": Case(frozenset({"citizen"}), j({"level": 5})),
    "PrefillBundle": Case(PEOPLE, query={"for_person_id": "{person_id}"}),
    "RaiseFeedback": Case(ACCOUNTS, j({"kind": "suggestion", "text": "建议增加夜间窗口"})),
    "GetFeedback": Case(frozenset({"citizen"})),
    # department handling
    "ListDepartmentTasks": Case(HOME_DEPT | {"other_staff"}),
    "GetDepartmentTask": Case(HOME_DEPT),
    "ClaimTask": Case(HOME_DEPT),
    "ApproveTask": Case(HOME_DEPT, j({})),
    # 免提交: the handling department reads its own matter's materials through the task, logged.
    "ListTaskMaterials": Case(HOME_DEPT),
    "ReadTaskMaterial": Case(HOME_DEPT),
    "ReadTaskMaterialFile": Case(HOME_DEPT),
    "RejectTask": Case(HOME_DEPT, j({"reasons": ["材料不清晰"], "required_materials": []})),
    "RequestSupplement": Case(HOME_DEPT, j({"required_materials": ["household_register"], "note": "请补正"})),
    "ListRectifications": Case(HOME_DEPT | {"other_staff"}),
    "RespondRectification": Case(HOME_DEPT, j({"text": "已整改"})),
    "ListDepartmentFeedback": Case(HOME_DEPT | {"other_staff"}),
    "AnswerDepartmentFeedback": Case(HOME_DEPT, j({"text": "已改进"})),
    # sync and blobs
    "SyncPull": Case(ACCOUNTS),
    "SyncPush": Case(ACCOUNTS, _push),
    # The uploader only: departments read uploads through their tasks (ReadTaskMaterialFile).
    "GetBlob": Case(frozenset({"citizen"})),
    "PutBlob": Case(EVERYONE - {"anonymous"}, content=PNG, headers={"Content-Type": "image/png"}),
    "UploadBlob": Case(
        EVERYONE - {"anonymous"}, content=FORM, headers={"Content-Type": "multipart/form-data; boundary=zb"}
    ),
    # wallet
    "ListWalletItems": Case(PEOPLE, query={"person_id": "{person_id}"}),
    "GetWalletItem": Case(frozenset({"citizen", "guardian"})),
    "GetWalletItemToken": Case(frozenset({"citizen", "guardian"})),
    "GetWalletTimeline": Case(PEOPLE, query={"person_id": "{person_id}"}),
    "ListDependents": Case(PEOPLE),
    # Exporting, consenting and showing (亮证) are the holder's own acts, or the 法定代表人's: a 经办人 is refused.
    "ExportWallet": Case(PEOPLE - {"company_agent"}, query={"person_id": "{person_id}"}),
    "GetAccessLog": Case(PEOPLE, query={"person_id": "{person_id}"}),
    "ListConsents": Case(PEOPLE, query={"person_id": "{person_id}"}),
    "GrantConsent": Case(
        frozenset({"citizen", "guardian"}),
        refusals=frozenset({422}),
        body=lambda c, ids: {
            "grantee_department_id": ids["department_id"],
            "item_ids": [ids["item_id"]],
            "purpose": "核验",
            "expires_at": _later(),
        },
    ),
    "RevokeConsent": Case(frozenset({"citizen"})),
    "PresentWalletItem": Case(frozenset({"citizen", "guardian"}), j({"fields": ["relation"], "ttl_seconds": 60})),
    "ListDepartmentConsents": Case(HOME_DEPT | {"other_staff"}),
    "ReadConsentedItems": Case(HOME_DEPT),
    # A department pushes what the catalogue lists as its own (公安局: 户口迁移 records, births, guardianships).
    "PushRecord": Case(
        HOME_DEPT,
        lambda c, ids: {
            "holder": {"id_number": ALICE_ID, "name": ALICE_NAME},
            "kind": "household_move",
            "title": "户口迁入",
            "data": {"m": 1},
            "occurred_at": "2026-10-15T02:00:00Z",
            "external_ref": f"matrix-{c}",
        },
    ),
    "PushLifeEvent": Case(
        HOME_DEPT,
        lambda c, ids: {
            "holder": {"id_number": ALICE_ID, "name": ALICE_NAME},
            "event": "born",
            "occurred_at": "1988-02-14T02:00:00Z",
            "external_ref": f"matrix-{c}",
        },
    ),
    "SetGuardianship": Case(
        HOME_DEPT,
        lambda c, ids: {
            "guardian": {"id_number": ALICE_ID, "name": ALICE_NAME},
            "dependent": {"id_number": id_number("20240101", 70), "name": "欧阳小雨"},
            "basis": "出生登记",
        },
    ),
    # the service-centre window (公安局 is one in the catalogue; 医保局 is not): its window clerks only
    "OpenWindowIntake": Case(frozenset({"staff"}), j({"citizen": {"id_number": ALICE_ID, "name": ALICE_NAME}})),
    "GetWindowIntake": Case(frozenset({"staff"})),
    "RecordWindowConsent": Case(frozenset({"staff"}), j({})),
    "PrefillAtWindow": Case(frozenset({"staff"}), query={"bundle_code": "birth"}),
    "SubmitAtWindow": Case(frozenset({"staff"}), _application),
    # 统一窗口出件: the world's window application is not done yet (409 for the centre's clerk, refused to all others).
    "ListPickups": Case(frozenset({"staff"})),
    "PrintResults": Case(frozenset({"staff"}), ids={"application_id": "window_application_id"}),
    "RecordHandover": Case(
        frozenset({"staff"}),
        j({"recipient": {"id_number": ALICE_ID, "name": ALICE_NAME}, "id_checked": True}),
        ids={"application_id": "window_application_id"},
    ),
    # 代办: Alice authorised Bob; both read its uses, only she revokes it.
    # Acting for an entity, its 法定代表人 authorises a 经办人 (a 经办人 may not: 403).
    "CreateDelegation": Case(
        PEOPLE - {"company_agent"},
        lambda c, ids: {
            "agent": {"id_number": BOB_ID, "name": "司马东来"},
            "matters": ["*"],
            "actions": ["apply"],
            "expires_at": _later(),
        },
    ),
    "ListDelegations": Case(ACCOUNTS),
    "RevokeDelegation": Case(frozenset({"citizen"})),
    "ListDelegationUses": Case(frozenset({"citizen", "other_citizen"})),
    # notifications
    "ListNotifications": Case(ACCOUNTS),
    "MarkNotificationRead": Case(frozenset({"citizen"})),
    "CountUnreadNotifications": Case(ACCOUNTS),
    "MarkAllNotificationsRead": Case(ACCOUNTS),
    "StreamNotifications": Case(ACCOUNTS, stream=True),
    "CreateStreamTicket": Case(ACCOUNTS),
    "GetNotificationPreferences": Case(ACCOUNTS),
    "ListWechatGrants": Case(ACCOUNTS),
    "PutNotificationPreferences": Case(ACCOUNTS, j({"channels": {"wechat": True, "sms": False}})),
    "RecordWechatGrant": Case(ACCOUNTS, j({"template_key": "application_progress", "accepted": True})),
    "ListWebhooks": Case(HOME_DEPT | {"scopeless_client", "other_staff"}),
    "CreateWebhook": Case(
        HOME_DEPT | {"scopeless_client", "other_staff"},
        j({"url": "http://127.0.0.1:9/m", "events": ["certificate.issued"]}),
    ),
    "ListWebhookDeliveries": Case(HOME_DEPT | {"scopeless_client"}),
    # The world's delivery waits for a retry: a caller allowed to replay it hears 409, not yet failed.
    "ReplayWebhookDelivery": Case(HOME_DEPT | {"scopeless_client"}),
    "SendWebhookTest": Case(HOME_DEPT | {"scopeless_client"}),
    "RotateWebhookSecret": Case(HOME_DEPT | {"scopeless_client"}, j({"overlap_seconds": 3600})),
    # Each department reads its own events (医保局's staff: none).
    "ListDepartmentEvents": Case(
        HOME_DEPT | {"scopeless_client", "other_staff"}, query={"since": "2020-01-01T00:00:00Z"}
    ),
    "DisableWebhook": Case(HOME_DEPT | {"scopeless_client"}),
    # seals and certificates
    "ListSeals": Case(HOME_DEPT | {"other_staff"}),
    "CreateSeal": Case(HOME_DEPT | {"other_staff"}, j({"name": "业务专用章"})),
    "RevokeSeal": Case(HOME_DEPT, j({"reason": "换章"})),
    "RotateSeal": Case(HOME_DEPT, j({})),
    "IssueCertificate": Case(HOME_DEPT, _issue),
    # Any issuer may send a batch; items of a type it does not issue fail one by one.
    "IssueCertificateBatch": Case(HOME_DEPT | {"other_staff"}, lambda c, ids: {"items": [_issue(c, ids)]}),
    "GetIssuedCertificate": Case(HOME_DEPT),
    "GetCertificateBatch": Case(HOME_DEPT),
    "ListCertificateBatchResults": Case(HOME_DEPT),
    "RevokeCertificate": Case(HOME_DEPT, j({"reason": "信息有误"})),
    "SuspendCertificate": Case(HOME_DEPT, j({"reason": "核查中"})),
    "ResumeCertificate": Case(HOME_DEPT, j({})),
    "SignCertificate": Case(HOME_DEPT, j({"signature": "AAAA"})),
    # The holder, a guardian, and anyone acting for the issuing department.
    "GetCertificate": Case(HOLDER_OR_ISSUER),
    "GetCertificateQrPng": Case(HOLDER_OR_ISSUER),
    "GetCertificateQrSvg": Case(HOLDER_OR_ISSUER),
    # 企业电子印章: those acting for an entity list its seals (东来科技 has none; its 公章刻制备案 is not done, so the
    # 法定代表人 asking for one hears 409); nobody revokes another entity's seal; any department looks them up.
    "ListOrgSeals": Case(COMPANY),
    "CreateOrgSeal": Case(frozenset({"company"}), j({"algorithm": "SM2"})),
    "RevokeOrgSeal": Case(frozenset(), j({"reason": "遗失"}), ids={"seal_id": "org_seal_id"}),
    "ListEntitySeals": Case(HOME_DEPT | {"other_staff", "scopeless_client"}, query={"credit_code": HOME_CO}),
}


def operations(app: Litestar) -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    """(operation id, method, path template, parameters) of every route in the OpenAPI document."""
    found = []
    for path, item in app.openapi_schema.to_schema()["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((op["operationId"], method.upper(), path, op.get("parameters", [])))
    return found


def _url(path: str, ids: dict[str, str]) -> str:
    code = "birth" if path.startswith(("/v1/bundles", "/v1/admin/bundles")) else "430200-GA-002"
    if "/materials/" in path:
        code = "discharge_certificate"  # the world's application hands in a scan of it
    return path.format(**{k: quote(v, safe="") for k, v in (ids | {"code": code}).items()})


def _fill(template: str, ids: dict[str, str]) -> str:
    return template.format(**ids) if "{" in template else template


def _secrets(world: World, caller: str) -> set[str]:
    """What a stranger of the given kind must never see: Alice's things, or 公安局's."""
    a = world.alice
    if caller in ("other_citizen", "anonymous"):
        return {
            a["application_id"],
            a["item_id"],
            a["consent_id"],
            a["notification_id"],
            a["draft_id"],
            a["certificate_id"],
            a["feedback_id"],
            world.child["person_id"],
            ALICE_ID,
            ALICE_NAME,
        }
    if caller in COMPANY:
        return _secrets(world, "other_citizen") | {world.org[k] for k in ORG_THINGS}
    if caller == "other_staff":
        return {
            a["task_id"],
            a["webhook_id"],
            a["seal_id"],
            a["rect_id"],
            a["feedback_id"],
            a["application_id"],
            a["consent_id"],
            a["certificate_id"],
            ALICE_ID,
            ALICE_NAME,
        }
    return set()


async def call(
    client: httpx.AsyncClient, world: World, op_id: str, method: str, path: str, case: Case, caller: str
) -> tuple[int, str, str]:
    """Make the call; (status, content type, body text)."""
    ids = world.child if caller == "guardian" else world.alice
    ids = ids | {name: ids[other] for name, other in case.ids.items()}
    headers = dict(case.headers)
    token = world.tokens[case.played_by.get(caller, caller)]
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if op_id == "Logout" and caller in world.refresh:
        body: Any = {"refresh_token": world.refresh[caller]}
    else:
        body = case.body(caller, ids) if case.body else None
    url = _url(path, ids)
    query = {k: _fill(v, ids) for k, v in case.query.items()}
    query = {k: v for k, v in query.items() if v}
    kw: dict[str, Any] = {"params": query, "headers": headers}
    if case.content is not None:
        kw["content"] = case.content
    elif body is not None:
        kw["json"] = body
    if case.stream:
        async with client.stream(method, url, **kw) as r:
            return r.status_code, r.headers.get("content-type", ""), ""
    r = await client.request(method, url, **kw)
    return r.status_code, r.headers.get("content-type", ""), r.text


def _uses_person(path: str, case: Case) -> bool:
    return any("{" + p + "}" in path or any(p in v for v in case.query.values()) for p in PERSONAL)


async def test_every_route_allows_exactly_its_callers(http: httpx.AsyncClient, app: Litestar, world: World) -> None:
    ops = operations(app)
    known = {op_id for op_id, *_ in ops}
    missing = sorted(known - EXPECTED.keys())
    assert not missing, f"routes without an expected caller set (add them to EXPECTED): {missing}"
    assert not sorted(EXPECTED.keys() - known), (
        f"EXPECTED names routes that no longer exist: {sorted(EXPECTED.keys() - known)}"
    )
    ops.sort(key=lambda o: LAST.index(o[0]) + 1 if o[0] in LAST else 0)

    wrong: list[str] = []
    calls = 0
    seen: dict[tuple[str, str], int] = {}
    across = await _other_entity(http, world, ops, wrong)  # before LAST's routes end what it reads
    for op_id, method, path, _ in ops:
        case = EXPECTED[op_id]
        for caller in CALLERS:
            if caller == "guardian" and not _uses_person(path, case):
                continue  # the same call as the citizen's: nothing of the dependent's is named
            status, ctype, text = await call(http, world, op_id, method, path, case, caller)
            calls += 1
            seen[op_id, caller] = status
            where = f"{op_id} {method} {path} as {caller}: {status}"
            if status >= 500:
                wrong.append(f"{where} (server error) {text[:200]}")
                continue
            if status >= 400 and ctype != PROBLEM_JSON:
                wrong.append(f"{where} is not problem+json ({ctype})")
            denied = status in (401, 403, 404) or status in case.refusals
            if case.public:
                if status == 403 or (
                    status == 401 and op_id not in ("RefreshTokens", "ClientCredentialsToken", "SmsLogin")
                ):
                    wrong.append(f"{where} refused on a public route")
            elif denied == (caller in case.allowed):
                wrong.append(f"{where} expected {'allowed' if caller in case.allowed else 'denied'} {text[:160]}")
            shown = {s for s in _secrets(world, caller) if s in text and s not in _url(path, world.alice)}
            if shown and not denied:
                wrong.append(f"{where} leaks {sorted(shown)}")
    # What the entity's 法定代表人 may do and its 经办人 may not is refused as out of scope (403), never hidden.
    wrong += [
        f"{op_id} as company_agent: {seen[op_id, 'company_agent']}, expected 403 (out of scope)"
        for op_id, case in EXPECTED.items()
        if "company" in case.allowed and "company_agent" not in case.allowed and seen[op_id, "company_agent"] != 403
    ]
    print(
        f"authorization matrix: {len(ops)} routes, {calls} calls, {len(CALLERS)} kinds of caller; "
        f"{len(across)} routes with another entity's ids: {', '.join(sorted(across))}"
    )
    assert not wrong, "\n".join(wrong)


async def _other_entity(
    http: httpx.AsyncClient, world: World, ops: list[tuple[str, str, str, list[dict[str, Any]]]], wrong: list[str]
) -> list[str]:
    """Another entity's things (春燕商贸's licence, certificate, application, authorisation, e-seal) by their ids,
    route by route: acting for 东来科技, its 法定代表人 and its 经办人 hear 404 (or 403 where a 经办人 may do nothing
    of the kind), and nothing of them shows; 春燕商贸's own 法定代表人 reads them (the ids are right)."""
    reads, checked = 0, []
    for op_id, method, path, _ in ops:
        # Departments' routes refuse every citizen by role (403) whatever the ids; RevokeDelegation runs last.
        if (
            not any("{" + name + "}" in path for name in ORG_THINGS)
            or path.startswith(("/v1/dept/", "/v1/admin/"))
            or op_id == "RevokeDelegation"
        ):
            continue
        case = EXPECTED[op_id]
        checked.append(op_id)
        org = Case(case.allowed, case.body, case.query, ids={k: v for k, v in case.ids.items() if k not in ORG_THINGS})
        for caller in ("company", "company_agent"):
            status, ctype, text = await call(http, _with_org(world), op_id, method, path, org, caller)
            where = f"{op_id} {method} {path} as {caller} for another entity's things: {status}"
            refused = status == 404 or (status == 403 and caller == "company_agent" and method != "GET")
            if not refused or ctype != PROBLEM_JSON:
                wrong.append(f"{where} {text[:160]}")
            if shown := {v for k, v in world.org.items() if v in text and v not in _url(path, world.org)}:
                wrong.append(f"{where} leaks {sorted(shown)}")
        if method == "GET" and op_id in ("GetWalletItem", "GetApplication", "ListDelegationUses", "GetCertificate"):
            status, _, text = await call(http, _with_org(world), op_id, method, path, org, "home_company")
            reads += 1
            if status != 200:
                wrong.append(f"{op_id} as 春燕商贸's own 法定代表人: {status} {text[:160]}")
    assert reads == 4
    return checked


def _with_org(world: World) -> World:
    """The world whose home-side ids are 春燕商贸's where it has such a thing."""
    return World(
        tokens=world.tokens,
        refresh=world.refresh,
        alice=world.alice | {k: v for k, v in world.org.items() if k in ORG_THINGS},
        child=world.child,
    )


# --- the competent / not-competent axis ---------------------------------------------------------------------

HOME_TYPE = "household_register"
HOME_MATTER = "430200-GA-002"
# Each department write route and the power of the catalogue (权责清单) it needs, as the world calls it: the
# home department holds every one (the matrix above finds its callers allowed); withdrawn by an operator,
# the same callers are refused with 403 ``authority_required`` naming the power.
POWERS: dict[str, str] = {
    "PushRecord": "record:household_move",
    "PushLifeEvent": "life_event:born",
    "SetGuardianship": "guardianship",
    "AttestRealnameAtCounter": "realname_proofing",
    "IssueCertificate": f"certificate:{HOME_TYPE}",
    "IssueCertificateBatch": f"certificate:{HOME_TYPE}",
    "SignCertificate": f"certificate:{HOME_TYPE}",
    "RevokeCertificate": f"certificate:{HOME_TYPE}",
    "SuspendCertificate": f"certificate:{HOME_TYPE}",
    "ResumeCertificate": f"certificate:{HOME_TYPE}",
    "CreateSeal": "certificate:*",
    "RotateSeal": "certificate:*",
    "ClaimTask": f"matter:{HOME_MATTER}",
    "ApproveTask": f"matter:{HOME_MATTER}",
    "RejectTask": f"matter:{HOME_MATTER}",
    "RequestSupplement": f"matter:{HOME_MATTER}",
    "OpenWindowIntake": "window_intake",
    "RecordWindowConsent": "window_intake",
    "SubmitAtWindow": "window_intake",
    "RecordHandover": "window_intake",
}
# Department writes that need no power of the catalogue, and why.
NO_POWER: dict[str, str] = {
    "RevokeSeal": "ending a seal only takes power away",
    "CreateWebhook": "where the department's own events are delivered",
    "DisableWebhook": "the same",
    "ReplayWebhookDelivery": "the same",
    "RotateWebhookSecret": "the same",
    "SendWebhookTest": "the same",
    "RespondRectification": "answers what was addressed to the department",
    "AnswerDepartmentFeedback": "the same",
}


async def _withdraw(http: httpx.AsyncClient, conn: Any, world: World, power: str) -> Callable[[], Any]:
    """Take ``power`` from the home department (as an operator would); return what gives it back."""
    dept = world.alice["department_id"]
    op = {"Authorization": f"Bearer {world.tokens['operator']}"}
    kind, _, what = power.partition(":")
    if kind in ("record", "life_event", "guardianship", "realname_proofing", "window_intake"):
        url = f"/v1/admin/departments/{dept}/authority"
        before = (await http.get(url, headers=op)).json()
        field_ = {"record": "record_kinds", "life_event": "life_events"}.get(kind, kind)
        after = before | {
            field_: [v for v in before[field_] if v != what] if isinstance(before[field_], list) else False
        }
        assert (await http.put(url, json=after, headers=op)).status_code == 200

        async def restore() -> None:
            assert (await http.put(url, json=before, headers=op)).status_code == 200

        return restore
    if kind == "certificate":
        codes = (
            [what]
            if what != "*"
            else [
                r["code"]
                for r in await conn.fetch(
                    "SELECT code FROM certificate_type WHERE $1::uuid = ANY (issuer_department_ids)", dept
                )
            ]
        )
        await conn.execute(
            "UPDATE certificate_type SET issuer_department_ids = array_remove(issuer_department_ids, $1::uuid)"
            " WHERE code = ANY ($2::text[])",
            dept,
            codes,
        )

        async def restore() -> None:
            await conn.execute(
                "UPDATE certificate_type SET issuer_department_ids = issuer_department_ids || $1::uuid"
                " WHERE code = ANY ($2::text[])",
                dept,
                codes,
            )

        return restore
    assert kind == "matter"
    shenpi = str(await conn.fetchval("SELECT id FROM department WHERE key = 'shenpi'"))
    url = f"/v1/admin/matters/{what}"
    assert (await http.put(url, json=_matter("", {"department_id": shenpi}), headers=op)).status_code == 200

    async def restore() -> None:
        assert (await http.put(url, json=_matter("", {"department_id": dept}), headers=op)).status_code == 200

    return restore


async def test_every_department_write_needs_its_power(
    http: httpx.AsyncClient, app: Litestar, world: World, conn: Any, settings: Settings
) -> None:
    ops = {op_id: (method, path) for op_id, method, path, _ in operations(app)}
    writes = {op_id for op_id, (method, path) in ops.items() if path.startswith("/v1/dept/") and method != "GET"}
    undecided = sorted(writes - POWERS.keys() - NO_POWER.keys())
    assert not undecided, f"department writes without a power (add them to POWERS or NO_POWER): {undecided}"

    wrong: list[str] = []
    refusals = 0
    for op_id, power in POWERS.items():
        method, path = ops[op_id]
        callers = sorted(EXPECTED[op_id].allowed & HOME_DEPT)
        assert callers, op_id
        restore = await _withdraw(http, conn, world, power)
        try:
            for caller in callers:
                status, _, text = await call(http, world, op_id, method, path, EXPECTED[op_id], caller)
                body = httpx.Response(200, text=text).json() if text else {}
                if op_id == "IssueCertificateBatch":  # queued; items fail one by one as the worker issues them
                    assert status == 202, text
                    await issue_batches(settings)
                    r = await http.get(
                        f"/v1/dept/certificate-batches/{body['id']}/results",
                        headers={"Authorization": f"Bearer {world.tokens[caller]}"},
                    )
                    status, body = 403, (r.json()["items"] or [{}])[0].get("error") or {}
                    body = body | ({"power": power} if body.get("type") == "authority_required" else {})
                if status != 403 or body.get("type") != "authority_required" or body.get("power") != power:
                    wrong.append(f"{op_id} as {caller} without {power}: {status} {text[:160]}")
                refusals += 1
        finally:
            await restore()
    assert not wrong, "\n".join(wrong)
    logged = await conn.fetch("SELECT data FROM audit_log WHERE action = 'authority.refused'")
    assert len(logged) == refusals
    assert {r["data"]["power"] for r in logged} == set(POWERS.values())
