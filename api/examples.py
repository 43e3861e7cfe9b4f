"""Examples of the main operations, by ``operation_id``: what a client developer reads first.

``request`` goes on the JSON request body, ``responses`` on the answers by status. Each example is
checked when the document is built: a request example must decode into the operation's body type and
an answer into its declared type, so an example never drifts from the contract it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Example, OpenAPIMediaType, OpenAPIResponse, Operation, RequestBody
from litestar.response import Response

_DEPT_YIBAO = {"id": "0b9f8d8e-3c1e-4c53-9a57-2f1b8a0c6a01", "name": "株洲市医疗保障局"}
_DEPT_WEIJIAN = {"id": "5d1c2b7a-8e4f-4f0e-b1a2-6c3d9e8f7a02", "name": "株洲市卫生健康委员会"}
_DEPT_GONGAN = {"id": "7e2d4c6b-1a3f-4b8e-9c0d-5f6a7b8c9d03", "name": "株洲市公安局"}
_PERSON = "3f6e1a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
_BLOB = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
_STATUS_REF = {"list_id": 1, "index": 4711}

_BIRTH_BUNDLE = {
    "code": "birth",
    "name": "出生一件事",
    "life_stage": "birth",
    "lead_department": _DEPT_WEIJIAN,
    "matters": [
        {
            "code": "430200-WJ-001",
            "name": "出生医学证明签发",
            "department": _DEPT_WEIJIAN,
            "after": [],
            "condition": None,
        },
        {
            "code": "430200-GA-001",
            "name": "出生登记（户口登记）",
            "department": _DEPT_GONGAN,
            "after": ["430200-WJ-001"],
            "condition": None,
        },
    ],
    "form": [
        {
            "key": "child_name",
            "label": "新生儿姓名",
            "type": "string",
            "required": True,
            "used_by": ["430200-WJ-001", "430200-GA-001"],
        }
    ],
    "materials": [
        {
            "code": "mother_id_card",
            "name": "母亲居民身份证",
            "required": True,
            "satisfied_by_certificate_types": ["id_card"],
            "held_by_department": _DEPT_GONGAN,
            "copies": 1,
            "used_by": ["430200-WJ-001", "430200-GA-001"],
            "produced_by_matter": None,
        }
    ],
    "promised_limit_days": 5,
    "stats": {"materials_before": 14, "materials_after": 3, "uploads_typical": 1, "matters": 2, "departments": 2},
}

_SUBMIT = {
    "id": "6a0f3c9e-2b7d-4e1a-9c8b-5d4e3f2a1b0c",
    "matter_code": "430200-YB-003",
    "form": {"mother_id_number": "430202199001011234", "bank_account_no": "6222020202020202"},
    "materials": [
        {"code": "mother_id_card", "wallet_item_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"},
        {"code": "hospital_invoice", "blob_sha256": _BLOB},
    ],
}

_APPLICATION = {
    "id": _SUBMIT["id"],
    "bundle_code": None,
    "matter_code": "430200-YB-003",
    "applicant_person_id": _PERSON,
    "for_person_id": _PERSON,
    "status": "submitted",
    "form": _SUBMIT["form"],
    "materials": [
        {"code": "mother_id_card", "source": "wallet", "wallet_item_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"},
        {"code": "hospital_invoice", "source": "blob", "blob_sha256": _BLOB},
    ],
    "deferred_materials": [],
    "supplement_due_at": None,
    "submitted_at": "2026-03-02T09:15:00Z",
    "due_at": "2026-03-09T17:00:00+08:00",
    "completed_at": None,
    "tasks": [
        {
            "id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
            "matter_code": "430200-YB-003",
            "matter_name": "生育津贴申领",
            "department": _DEPT_YIBAO,
            "status": "pending",
            "due_at": "2026-03-09T17:00:00+08:00",
            "decided_at": None,
            "reasons": [],
            "required_materials": ["mother_id_card", "hospital_invoice"],
            "result_certificate_id": None,
        }
    ],
    "timeline": [{"at": "2026-03-02T09:15:00Z", "event": "submitted", "detail": {}}],
    "evaluation": None,
}

_ISSUE = {
    "type_code": "birth_medical_certificate",
    "holder": {"name": "李小满", "id_number": "430202202603010018"},
    "fields": {"birth_date": "2026-03-01", "sex": "男", "birth_place": "湖南省株洲市", "mother_name": "王芳"},
    "external_ref": "ZZFY-2026-000123",
}

_TOKEN = "ZB1:NCFOXN%TSMAHN-HNL43QJ/AN$8J T9 ZV4J*CI0D6CF1HJV-S2ORG..."
_QR_URL = "HTTPS://ZB.EXAMPLE.CN/V/ZB1:NCFOXN%25TSMAHN-HNL43QJ%2FAN$8J%20T9%20ZV4J*CI0D6CF1HJV-S2ORG..."

_CERTIFICATE = {
    "id": "8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a",
    "licence_id": "1.2.156.3005.2.11430200MB0001037J003.11430200MB0001037J.20260000123.001.H",
    "type_code": "birth_medical_certificate",
    "type_name": "出生医学证明",
    "holder": {"kind": "person", "name_masked": "李*满", "id_masked": "4302**********0018"},
    "fields": _ISSUE["fields"],
    "issuer": {
        "department_id": _DEPT_WEIJIAN["id"],
        "name": _DEPT_WEIJIAN["name"],
        "credit_code": "11430200MB1234567X",
    },
    "seal_kid": "seal-5d1c2b7a-1",
    "issued_at": "2026-03-02T10:00:00Z",
    "valid_from": "2026-03-02T10:00:00Z",
    "valid_until": None,
    "status": "valid",
    "status_ref": _STATUS_REF,
    "token": _TOKEN,
    "qr_url": _QR_URL,
}

EXAMPLES: dict[str, dict[str, Any]] = {
    "SmsSendCode": {"request": {"phone": "13800138000"}},
    "SmsLogin": {
        "request": {"phone": "13800138000", "code": "246810"},
        "responses": {
            200: {
                "access_token": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOi...",
                "refresh_token": "rt_4q3X...",
                "token_type": "Bearer",
                "expires_in": 900,
                "account": {"id": "c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5", "assurance_level": "L1", "person_id": None},
            }
        },
    },
    "OpenRealnameSession": {
        "request": {"name": "王芳", "id_number": "430202199001011234", "method": "counter"},
        "responses": {
            201: {
                "session_id": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
                "method": "counter",
                "nonce": "n-7Hc2VhbC1zZXNzaW9u",
                "expires_at": "2026-03-02T09:30:00Z",
                "verify_id": None,
            }
        },
    },
    "IssueCertificate": {"request": _ISSUE, "responses": {200: _CERTIFICATE, 201: _CERTIFICATE}},
    "VerifyToken": {
        "request": {"token": _TOKEN},
        "responses": {
            200: {
                "valid": True,
                "reasons": [],
                "checks": {"signature": "ok", "seal": "ok", "status": "ok", "validity": "ok", "trust_list": "ok"},
                "certificate": {
                    "kind": "certificate",
                    "type_code": "birth_medical_certificate",
                    "type_name": "出生医学证明",
                    "gb_type_code": "11100000000000000001",
                    "licence_id": _CERTIFICATE["licence_id"],
                    "holder_masked": {"name": "李*满", "id": "4302**********0018"},
                    "fields": [
                        {"n": 2, "key": "sex", "label": "性别", "value": "男"},
                        {"n": 3, "key": "born_at", "label": "出生时间", "value": "2026-03-01"},
                        {"n": 4, "key": "birth_place", "label": "出生地点", "value": "湖南省株洲市"},
                        {"n": 5, "key": "mother_name", "label": "母亲姓名", "value": "王芳"},
                    ],
                    "issuer": {
                        "name": _DEPT_WEIJIAN["name"],
                        "credit_code": "11430200MB1234567X",
                        "department_id": _DEPT_WEIJIAN["id"],
                    },
                    "issued_at": "2026-03-02T10:00:00Z",
                    "valid_until": None,
                    "status_ref": _STATUS_REF,
                },
                "seal_kid": "seal-5d1c2b7a-1",
                "trust_list": "fresh",
            }
        },
    },
    "GetBundle": {"responses": {200: _BIRTH_BUNDLE}},
    "ListBundles": {"responses": {200: {"items": [_BIRTH_BUNDLE], "next_cursor": None}}},
    "SubmitApplication": {"request": _SUBMIT, "responses": {200: _APPLICATION, 201: _APPLICATION}},
    "GetApplication": {"responses": {200: _APPLICATION}},
    "SyncPull": {
        "responses": {
            200: {
                "changes": [
                    {"entity": "application", "id": _SUBMIT["id"], "op": "put", "version": 3, "data": _APPLICATION},
                    {"entity": "draft", "id": "0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a", "op": "del", "version": 5},
                ],
                "cursor": "c1.AAAAAAAAAAM",
                "has_more": False,
                "reset": False,
            }
        }
    },
    "SyncPush": {
        "request": {
            "client_id": "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e",
            "mutations": [
                {
                    "id": "7f8e9d0c-1b2a-4c3d-8e4f-5a6b7c8d9e0f",
                    "seq": 1,
                    "name": "draft.save",
                    "args": {
                        "draft_id": "0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a",
                        "bundle_code": "birth",
                        "form": {"child_name": "李小满"},
                    },
                }
            ],
        },
        "responses": {
            200: {
                "results": [{"id": "7f8e9d0c-1b2a-4c3d-8e4f-5a6b7c8d9e0f", "status": "applied", "version": 1}],
                "last_seq": 1,
            }
        },
    },
}


@dataclass
class _Example(Example):
    # Litestar drops every ``None`` from a spec object's dicts; an example keeps its nulls.
    def to_schema(self) -> dict[str, Any]:
        return {**super().to_schema(), "value": self.value}


def apply(handler: HTTPRouteHandler, op: Operation) -> None:
    """Put the examples of ``op`` (if any) on its request body and answers, checking each first."""
    found = EXAMPLES.get(op.operation_id or "")
    if not found:
        return
    if "request" in found:
        data = handler.parsed_fn_signature.parameters["data"].annotation
        _check(op.operation_id, "request", found["request"], data)
        if not isinstance(op.request_body, RequestBody):
            raise ValueError(f"{op.operation_id} has a request example but no body")
        for media in op.request_body.content.values():
            media.examples = {"example": _Example(value=found["request"])}
    for status, value in found.get("responses", {}).items():
        _check(op.operation_id, status, value, _answer_type(handler, status))
        response = (op.responses or {}).get(str(status))
        if not isinstance(response, OpenAPIResponse) or not response.content:
            raise ValueError(f"{op.operation_id} has a {status} example but no {status} body")
        for media in response.content.values():
            if isinstance(media, OpenAPIMediaType):
                media.examples = {"example": _Example(value=value)}


def _answer_type(handler: HTTPRouteHandler, status: int) -> Any:
    spec = (handler.responses or {}).get(status)
    if spec is not None:
        return spec.data_container
    annotation = handler.parsed_fn_signature.return_type
    if annotation.is_subclass_of(Response):
        return annotation.inner_types[0].annotation
    return annotation.annotation


def _check(operation_id: str | None, where: Any, value: Any, type_: Any) -> None:
    try:
        msgspec.json.decode(msgspec.json.encode(value), type=type_)
    except msgspec.ValidationError as exc:
        raise ValueError(f"the {where} example of {operation_id} does not fit its type: {exc}") from exc
