"""The OpenAPI document as a client generator and a developer without internet meet it."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import tempfile
from html.parser import HTMLParser
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.config import Settings
from tests import browser
from tests.openapi_doc import METHODS, inline_responses

PROBLEM = "application/problem+json"
# Operations whose declared requests and answers the examples must show.
MAIN = (
    "SmsLogin",
    "OpenRealnameSession",
    "IssueCertificate",
    "VerifyToken",
    "GetBundle",
    "ListBundles",
    "SubmitApplication",
    "GetApplication",
    "SyncPull",
    "SyncPush",
)
IDEMPOTENT = (
    "SubmitApplication",
    "IssueCertificate",
    "OpenRealnameSession",
    "CreateSeal",
    "GrantConsent",
    "CreateWebhook",
    "CreateDepartment",
)
CONDITIONAL = ("GetTrustList", "GetStatusList", "SyncPull", "GetBlob")


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation, its shared responses (``$ref``) resolved."""
    inline_responses(spec)
    return [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items() if method in METHODS
    ]


@pytest.fixture
async def spec(client: AsyncTestClient) -> dict[str, Any]:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    return r.json()


async def test_docs_page_loads_only_its_own_assets(client: AsyncTestClient) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    parser = _Refs()
    parser.feed(page.text)
    assert len(parser.refs) >= 3, parser.refs  # style sheet, two scripts, icon
    kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for ref in parser.refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"{ref} is not on this origin"
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.headers["content-type"].startswith(kinds[ref[ref.rindex(".") :]]), (ref, asset.headers)
        assert len(asset.content) > 500
    assert (await client.get("/schema/assets/swagger-editor.js")).status_code == 404


def test_docs_page_renders_the_operations_offline(settings: Settings) -> None:
    # Every host but the loopback resolves to nothing: a CDN reference would leave the page blank.
    chromium = browser.chromium()
    with (
        browser.live_server(create_app(settings)) as base,
        tempfile.TemporaryDirectory(prefix="zb-chromium-") as profile,
    ):
        out = subprocess.run(
            [
                chromium,
                *browser.CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=15000",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--dump-dom",
                f"{base}/schema",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    assert "opblock" in dom, dom[:2000]  # Swagger UI drew operations
    for op in ("SubmitApplication", "IssueCertificate", "VerifyToken"):
        assert op in dom


async def test_every_error_is_a_problem_document(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["ProblemDocument"]
    # What most routes share is defined once and referenced.
    me = spec["paths"]["/v1/me"]["get"]["responses"]
    assert me["401"] == {"$ref": "#/components/responses/Unauthorized"}
    assert me["503"] == {"$ref": "#/components/responses/ServiceUnavailable"}
    assert {"type", "title", "status"} <= set(problem["required"])
    for path, method, op in _operations(spec):
        where = f"{method.upper()} {path}"
        assert "status_code" not in json.dumps(op), f"{where} documents the framework's error shape"
        assert "503" in op["responses"], where
        for status, response in op["responses"].items():
            assert response["headers"]["X-Request-Id"] == {"$ref": "#/components/headers/X-Request-Id"}, (where, status)
            if not status.startswith(("4", "5")) or op["operationId"] == "Health":
                continue  # /health's 503 is the health document naming what is down
            assert list(response["content"]) == [PROBLEM], (where, status)
            schema = response["content"][PROBLEM]["schema"]
            assert schema["allOf"][0] == {"$ref": "#/components/schemas/ProblemDocument"}, (where, status)
            slugs = schema["allOf"][1]["properties"]["type"]["enum"]
            assert slugs and all(re.fullmatch(r"[a-z][a-z0-9_]*", s) for s in slugs), (where, status, slugs)
            assert set(response["content"][PROBLEM]["examples"]) == set(slugs)
            for slug in slugs:
                assert f"`{slug}`" in response["description"]
            if status in ("429", "503"):
                assert "Retry-After" in response["headers"], (where, status)
        inputs = [p for p in op.get("parameters", []) if p["name"].lower() not in ("if-none-match", "idempotency-key")]
        if inputs or op.get("requestBody"):
            assert "malformed_request" in json.dumps(op["responses"]["400"]), where
            assert "validation_failed" in json.dumps(op["responses"]["422"]), where
        if op.get("security") == [{"bearer": []}]:
            assert "unauthorized" in json.dumps(op["responses"].get("401", {})), where
    by_id = {op["operationId"]: op for _, _, op in _operations(spec)}
    assert by_id["Health"]["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Health"
    }
    assert "rate_limited" in json.dumps(by_id["SmsSendCode"]["responses"]["429"])
    assert by_id["GetMe"]["security"] == [{"bearer": []}]


async def test_schema_names_are_clean_and_unique(spec: dict[str, Any]) -> None:
    names = list(spec["components"]["schemas"])
    assert [n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)] == []
    for gone in ("api_wallet_models_HolderIn", "wallet_models_DepartmentRef"):
        assert gone not in names
    assert {"HolderIn", "WalletHolderIn", "DepartmentRef", "TimelineEntry", "ApplicationTimelineEntry"} <= set(names)


async def test_headers_are_declared_as_they_behave(spec: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in _operations(spec)}
    for op_id in IDEMPOTENT:
        op = by_id[op_id]
        assert any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in op["parameters"]), op_id
        for status, response in op["responses"].items():
            if status.startswith("2"):
                assert "Idempotent-Replayed" in response["headers"], (op_id, status)
        slugs = json.dumps(op["responses"])
        for slug in ("idempotency_key_invalid", "idempotency_key_in_flight", "idempotency_key_reused"):
            assert slug in slugs, (op_id, slug)
    for op_id in CONDITIONAL:
        op = by_id[op_id]
        assert any(p["in"] == "header" and p["name"].lower() == "if-none-match" for p in op["parameters"]), op_id
        assert "ETag" in op["responses"]["200"]["headers"] and "ETag" in op["responses"]["304"]["headers"], op_id
        assert "content" not in op["responses"]["304"]
    assert "Idempotency-Key" not in json.dumps(by_id["GetApplication"])


async def test_declared_headers_are_sent(client: AsyncTestClient) -> None:
    first = await client.get("/v1/trust-list")
    assert first.status_code == 200 and first.headers["etag"]
    again = await client.get("/v1/trust-list", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == first.headers["etag"]
    assert again.headers["x-request-id"] and again.headers["x-request-id"] != first.headers["x-request-id"]


def test_every_route_that_honours_idempotency_key_declares_it(app: Litestar) -> None:
    # New routes get the header documented by saying ``opt=IDEMPOTENT``; this keeps the two in step.
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            calls = "idempotency.run(" in inspect.getsource(handler.fn)
            assert calls == bool(handler.opt.get("idempotency_key")), f"{route.path}: opt=IDEMPOTENT"


async def test_main_operations_carry_examples(spec: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in _operations(spec)}
    for op_id in MAIN:
        op = by_id[op_id]
        if "requestBody" in op:
            assert op["requestBody"]["content"]["application/json"].get("examples"), f"{op_id}: request example"
        ok = [r for s, r in op["responses"].items() if s.startswith("2") and r.get("content")]
        assert any(media.get("examples") for r in ok for media in r["content"].values()), f"{op_id}: answer example"
