"""What clients read: problem types are unique and titled, every route is documented in the OpenAPI."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from api.kernel.problems import Problem
from auth.errors import AUTH_PROBLEMS
from tests.openapi_doc import inline_responses

OPERATIONS = {
    ("post", "/v1/auth/wechat/login"): "WechatLogin",
    ("post", "/v1/auth/wechat/phone"): "WechatBindPhone",
    ("post", "/v1/auth/sms/send"): "SmsSendCode",
    ("post", "/v1/auth/sms/login"): "SmsLogin",
    ("post", "/v1/auth/refresh"): "RefreshTokens",
    ("post", "/v1/auth/logout"): "Logout",
    ("post", "/v1/auth/token"): "ClientCredentialsToken",
    ("get", "/v1/me"): "GetMe",
    ("get", "/.well-known/jwks.json"): "GetJwks",
    ("get", "/v1/dev/sms"): "DevListSms",
    ("post", "/v1/auth/realname/sessions"): "OpenRealnameSession",
    ("post", "/v1/auth/realname/sessions/{session_id}/complete"): "CompleteRealnameSession",
    ("post", "/v1/dept/realname/attest"): "AttestRealnameAtCounter",
    ("post", "/v1/admin/departments"): "CreateDepartment",
    ("get", "/v1/admin/departments"): "ListDepartments",
    ("post", "/v1/admin/departments/{department_id}/clients"): "CreateDepartmentClient",
    ("post", "/v1/admin/departments/{department_id}/staff"): "GrantStaffRoles",
    ("get", "/v1/admin/departments/{department_id}/staff"): "ListStaff",
    ("post", "/v1/admin/identity-providers"): "RegisterIdentityProvider",
    ("get", "/v1/admin/identity-providers"): "ListIdentityProviders",
    ("get", "/v1/admin/audit/verify"): "VerifyAuditChain",
}


def test_every_problem_has_a_title_and_a_unique_slug() -> None:
    slugs = [p.slug for p in AUTH_PROBLEMS]
    assert len(slugs) == len(set(slugs))
    base = {cls.slug for cls in Problem.__subclasses__()} | {Problem.slug}
    for p in AUTH_PROBLEMS:
        assert p.__doc__ and p.__doc__.strip(), p
        assert p.slug not in base, p
        assert p.slug.islower() and " " not in p.slug


@pytest.fixture
async def spec(client: AsyncTestClient) -> dict:
    return inline_responses((await client.get("/schema/openapi.json")).json())


async def test_every_identity_route_is_documented(spec: dict) -> None:
    for (method, path), operation_id in OPERATIONS.items():
        operation = spec["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["summary"], operation_id
        if path not in ("/.well-known/jwks.json",):
            problem_docs = " ".join(r["description"] for code, r in operation["responses"].items() if code >= "400")
            assert "`" in problem_docs, f"{operation_id} names no problem types"


async def test_problem_types_are_named_where_they_happen(spec: dict) -> None:
    def described(path: str, method: str, status: str) -> str:
        return spec["paths"][path][method]["responses"][status]["description"]

    assert "wechat_code_invalid" in described("/v1/auth/wechat/login", "post", "400")
    assert "wechat_user_blocked" in described("/v1/auth/wechat/login", "post", "403")
    assert "wechat_unavailable" in described("/v1/auth/wechat/login", "post", "503")
    assert "rate_limited" in described("/v1/auth/sms/send", "post", "429")
    assert "refresh_token_reused" in described("/v1/auth/refresh", "post", "401")
    assert "realname_failed" in described("/v1/auth/realname/sessions/{session_id}/complete", "post", "422")
    assert "realname_session_closed" in described("/v1/auth/realname/sessions/{session_id}/complete", "post", "409")
    assert "id_number_invalid" in described("/v1/auth/realname/sessions", "post", "422")
    assert "credit_code_invalid" in described("/v1/admin/departments", "post", "422")
    assert "invalid_client" in described("/v1/auth/token", "post", "401")
    token_body = spec["paths"]["/v1/auth/token"]["post"]["requestBody"]["content"]
    assert set(token_body) == {"application/x-www-form-urlencoded", "application/json"}
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/v1/me"]["get"]["security"] == [{"bearer": []}]
