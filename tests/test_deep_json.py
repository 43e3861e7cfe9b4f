"""JSON nested deeper than the limit is a 400 on every route, with one log line and no traceback."""

from __future__ import annotations

import logging

import pytest
from litestar.testing import AsyncTestClient

from api.kernel.problems import PROBLEM_JSON
from api.requests import MAX_DEPTH, nesting_exceeds

# Public routes first; the others refuse the body before they would refuse the caller.
ROUTES = [
    "/v1/verify",
    "/v1/auth/sms/send",
    "/v1/auth/sms/login",
    "/v1/auth/wechat/login",
    "/v1/auth/token",
    "/v1/auth/refresh",
    "/v1/feedback",
    "/v1/applications",
    "/v1/dept/records",
    "/v1/admin/departments",
    "/v1/sync/push",
]
TOO_DEEP = {
    "type": "malformed_request",
    "title": "请求格式错误",
    "status": 400,
    "detail": f"the JSON body is nested more than {MAX_DEPTH} levels deep",
}


def nested(depth: int, shape: str) -> str:
    if shape == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
@pytest.mark.parametrize("shape", ["list", "object"])
async def test_deeply_nested_json_is_malformed_everywhere(
    client: AsyncTestClient, caplog: pytest.LogCaptureFixture, depth: int, shape: str
) -> None:
    caplog.set_level(logging.DEBUG)
    for path in ROUTES:
        caplog.clear()
        r = await client.post(path, content=nested(depth, shape), headers={"Content-Type": "application/json"})
        assert (r.status_code, r.headers["content-type"], r.json()) == (400, PROBLEM_JSON, TOO_DEEP), path
        ours = [rec for rec in caplog.records if rec.name.startswith("zhangban")]
        assert [rec.getMessage() for rec in ours] == [f"POST {path} 400"], path
        assert not any(rec.exc_info for rec in caplog.records) and "Traceback" not in caplog.text


async def test_a_form_body_and_json_within_the_limit_are_not_refused_for_depth(client: AsyncTestClient) -> None:
    form = "grant_type=client_credentials&client_id=" + "[" * 200 + "&client_secret=x"
    r = await client.post("/v1/auth/token", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 401
    deep = '{"token": "x", "pad": ' + nested(MAX_DEPTH - 1, "list") + "}"
    r = await client.post("/v1/verify", content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code < 500 and r.json().get("detail") != TOO_DEEP["detail"]


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('["' + "[" * 500 + '"]', False),  # brackets inside a string are text
        ('["\\"' + "[" * 500 + '"]', False),  # an escaped quote does not end the string
        ('["\\\\"' + ", " + "[" * 70 + "]" * 70 + "]", True),  # an escaped backslash does
        ('[{"k": "}", "": ""}, ' * 30 + "1" + "]" * 30, False),
        ("[" + "[]," * 10_000 + "[]]", False),
    ],
)
def test_the_scan_counts_structure_only(text: str, deep: bool) -> None:
    assert nesting_exceeds(text.encode()) is deep
