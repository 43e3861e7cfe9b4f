"""Plain helpers for e-certificate route tests: tokens of the right people, seals, certificate bodies."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import httpx
from litestar.testing import AsyncTestClient

from tests.auth.helpers import ID_ALICE, assert_problem, auth
from tests.people import department_id, staff
from tests.wallet.helpers import dept_system

__all__ = ["ID_ALICE", "assert_problem", "auth", "department_id", "dept_system", "staff"]

ID_BOB = "440524188001010014"
ID_CAROL = "360426199101010071"
_refs = itertools.count(1)


def household(
    id_number: str = ID_ALICE, name: str = "张三丰", *, ref: str | None = None, **over: Any
) -> dict[str, Any]:
    """A 居民户口簿 (household register) certificate body; the address is a sensitive field."""
    body = {
        "type_code": "household_register",
        "holder": {"id_number": id_number, "name": name},
        "fields": {
            "household_head": "张三丰",
            "relation": "户主",
            "address": "株洲市天元区泰山路88号",
            "registered_on": "2020-01-02",
        },
        "external_ref": ref or f"hr-{next(_refs)}",
    }
    return body | over


async def make_seal(client: AsyncTestClient, token: str, **body: Any) -> dict[str, Any]:
    r = await client.post("/v1/dept/seals", json={"name": "电子证照专用章", **body}, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()


async def issue(client: AsyncTestClient, token: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = await client.post("/v1/dept/certificates", json=body, headers=auth(token))
    assert r.status_code == status, r.text
    return r.json()


async def submit_batch(
    client: AsyncTestClient, token: str, items: list[dict[str, Any]], **headers: str
) -> httpx.Response:
    """``POST /v1/dept/certificates:batch``: 202, the batch queued, its ``Location``."""
    r = await client.post("/v1/dept/certificates:batch", json={"items": items}, headers=auth(token) | headers)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/dept/certificate-batches/{r.json()['id']}"
    return r


async def batch_results(
    client: AsyncTestClient, token: str, location: str, *, limit: int = 500, status: str | None = None
) -> list[dict[str, Any]]:
    """Every settled item of a batch, page by page."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = (
            {"limit": limit} | ({"cursor": cursor} if cursor else {}) | ({"status": status} if status else {})
        )
        r = await client.get(f"{location}/results", params=params, headers=auth(token))
        assert r.status_code == 200, r.text
        out += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out


async def issue_batch(
    client: AsyncTestClient, worker: Any, token: str, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A batch submitted, issued by the workers' job (run by ``worker``, the state a worker process
    opens: the ``worker`` fixture), its results read back."""
    from esign.batch import jobs as batches

    r = await submit_batch(client, token, items)
    await batches.drain(worker)
    done = await client.get(r.headers["location"], headers=auth(token))
    assert done.json()["state"] == "done", done.text
    return await batch_results(client, token, r.headers["location"])


async def verify(client: AsyncTestClient, token: str) -> dict[str, Any]:
    r = await client.post("/v1/verify", json={"token": token})
    assert r.status_code == 200, r.text
    return r.json()


def problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    return assert_problem(r, status, slug)


def trust_list_payload(jws: str) -> dict[str, Any]:
    """The payload of a trust list's compact JWS, unverified (route tests read what it says)."""
    return json.loads(base64.urlsafe_b64decode(jws.split(".")[1] + "=="))
