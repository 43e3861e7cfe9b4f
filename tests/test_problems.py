"""Every error is RFC 9457 problem+json with a stable type; no trace, no 500 for bad input."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Annotated

import asyncpg
import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from api.kernel.problems import PROBLEM_JSON
from tests.auth.helpers import auth, claims, sms_login
from tests.people import next_phone


async def test_unknown_route_is_a_problem(client: AsyncTestClient) -> None:
    r = await client.get("/v1/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json() == {"type": "not_found", "title": "资源不存在", "status": 404}


async def test_wrong_method_is_a_problem(client: AsyncTestClient) -> None:
    r = await client.delete("/v1/matters")
    assert r.status_code == 405
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["type"] == "method_not_allowed"


async def test_bad_query_value_names_the_field(client: AsyncTestClient) -> None:
    r = await client.get("/v1/matters", params={"limit": "501"})
    assert r.status_code == 422
    body = r.json()
    assert body["type"] == "validation_failed"
    assert [e["field"] for e in body["errors"]] == ["limit"]


async def test_request_id_is_echoed_or_made(client: AsyncTestClient) -> None:
    mine = await client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    made = await client.get("/health", headers={"X-Request-Id": "bad id\nwith newline"})
    assert made.headers["x-request-id"] != "bad id\nwith newline"
    assert len(made.headers["x-request-id"]) == 32


# A tiny app with a body-taking route exercises the body paths the catalogue does not have yet.


class Thing(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    count: int


@post("/echo", sync_to_thread=False)
def echo(data: JSONBody[Thing]) -> Thing:
    return data


@post("/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("secret 110105194912310021 in a stack trace")


@pytest.fixture
async def body_client(app: Litestar) -> AsyncTestClient:
    app.register(echo)
    app.register(boom)
    async with AsyncTestClient(app=app) as c:
        yield c


async def test_malformed_body_is_400(body_client: AsyncTestClient) -> None:
    r = await body_client.post("/echo", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["type"] == "malformed_request"


async def test_missing_body_is_400(body_client: AsyncTestClient) -> None:
    for content in (None, b""):
        r = await body_client.post("/echo", content=content, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert r.json()["type"] == "malformed_request" and r.json()["detail"] == "the request has no body"


async def test_body_breaking_a_rule_is_422(body_client: AsyncTestClient) -> None:
    r = await body_client.post("/echo", json={"name": "x", "count": "not a number"})
    assert r.status_code == 422
    assert r.json()["type"] == "validation_failed"
    assert r.json()["errors"][0]["field"] == "count"
    ok = await body_client.post("/echo", json={"name": "x", "count": 2})
    assert ok.status_code == 201 and ok.json() == {"name": "x", "count": 2}


async def test_unexpected_error_hides_everything(body_client: AsyncTestClient) -> None:
    r = await body_client.post("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json() == {"type": "internal_error", "title": "服务器内部错误", "status": 500}
    assert "110105" not in r.text and "Traceback" not in r.text


async def test_text_postgresql_cannot_hold_is_400(client: AsyncTestClient) -> None:
    # A NUL character reaches the database as a query parameter; PostgreSQL refuses it.
    r = await client.get("/v1/matters", params={"q": "出生\x00"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM_JSON and r.json()["type"] == "malformed_request"
    assert (await client.get("/v1/matters", params={"q": "出生"})).status_code == 200


def _deadlock_with_a_logout(database_url: str, login: uuid.UUID, holding: threading.Event) -> None:
    """In a thread of its own (the test client blocks the test's loop while a request runs): hold the
    audit chain's head, wait until the logout's transaction waits for it, then want the login's row."""

    async def run() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            async with conn.transaction():
                await conn.execute("SELECT seq FROM audit_head WHERE id FOR UPDATE")
                holding.set()
                while not await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                ):
                    await asyncio.sleep(0.02)
                await conn.execute("UPDATE auth_refresh_family SET method = method WHERE id = $1", login)
        finally:
            await conn.close()

    asyncio.run(run())


async def test_a_deadlock_is_a_503_to_retry_with_one_line_in_the_log(
    client: AsyncTestClient,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pair = await sms_login(client, next_phone())
    login = uuid.UUID(claims(pair["access_token"])["sid"])
    # Logging out revokes the login's row and then appends to the audit chain; the other transaction
    # holds the chain's head, then wants the login's row: a real deadlock, which PostgreSQL breaks
    # (after deadlock_timeout) by aborting the transaction that waited first, the route's.
    holding = threading.Event()
    other = threading.Thread(target=_deadlock_with_a_logout, args=(database_url, login, holding))
    other.start()
    await asyncio.to_thread(holding.wait)
    r = await client.post("/v1/auth/logout", headers=auth(pair["access_token"]))
    await asyncio.to_thread(other.join)
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON, r.text
    assert r.headers["retry-after"] == "1"
    assert r.json() == {
        "type": "service_unavailable",
        "title": "服务暂时不可用，请稍后再试",
        "status": 503,
        "detail": "a concurrent change conflicted with this request; nothing was written, try again",
    }
    # Nothing was written: the login goes on, and the retry the client is asked for succeeds.
    assert (await client.get("/v1/me", headers=auth(pair["access_token"]))).status_code == 200
    assert (await client.post("/v1/auth/logout", headers=auth(pair["access_token"]))).status_code == 204
    [logged] = [rec for rec in caplog.records if rec.name == "zhangban.errors"]
    assert (
        "DeadlockDetectedError" in logged.getMessage() and logged.exc_info is None and "\n" not in logged.getMessage()
    )
