"""API fuzzing: schemathesis over the whole OpenAPI document, as every kind of caller.

For each operation, schemathesis generates requests from the schema (valid ones, invalid ones, and
valid ones aimed at the world's real ids so handlers get past "not found"), and each request is
sent by an anonymous caller, a citizen at L3, staff holding every role of one department, that
department's system holding every scope, and an operator. No answer may be a server error,
every 4xx must be an RFC 9457 problem document with a type slug, a title and the status, and the
operation must document that status with that ``type``: the contract a client is generated from.

``ZB_FUZZ_EXAMPLES`` (default 3) sets the examples per operation and kind of generation.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from litestar import Litestar
from schemathesis import GenerationMode

from api.kernel.problems import PROBLEM_JSON
from tests.authz.world import World

EXAMPLES = int(os.environ.get("ZB_FUZZ_EXAMPLES", "3"))
ROLES = ("anonymous", "citizen", "staff", "client", "operator")


def _problem_errors(status: int, ctype: str, text: str) -> str | None:
    if status >= 500:
        return f"server error {status}: {text[:200]}"
    if status < 400:
        return None
    if ctype.split(";")[0] != PROBLEM_JSON:
        return f"{status} is not problem+json ({ctype}): {text[:120]}"
    try:
        body = json.loads(text)
    except ValueError:
        return f"{status} problem is not JSON: {text[:120]}"
    if not (isinstance(body.get("type"), str) and body.get("title") and body.get("status") == status):
        return f"{status} problem lacks type/title/status: {text[:160]}"
    return None


def _undocumented(spec: dict[str, Any], operation: Any, status: int, text: str) -> str | None:
    """A problem whose status, or whose ``type`` at that status, the operation does not document."""
    if status < 400:
        return None
    response = operation.definition.raw.get("responses", {}).get(str(status))
    if response is None:
        return f"{status} is not documented"
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    try:
        slug = json.loads(text).get("type")
        documented = response["content"][PROBLEM_JSON]["schema"]["allOf"][1]["properties"]["type"]["enum"]
    except (ValueError, KeyError, IndexError, AttributeError):
        return None
    return None if slug in documented else f"{status} `{slug}` is not documented (only {documented})"


def _streams(operation: Any) -> bool:
    """Server-Sent Events never end; the authorization matrix opens them instead."""
    raw = operation.definition.raw
    declared = any("text/event-stream" in (r.get("content") or {}) for r in raw.get("responses", {}).values())
    return declared or "text/event-stream" in raw.get("description", "")


def _strategies(operation: Any, world: World) -> list[Any]:
    found = [operation.as_strategy(), operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)]
    names = [p["name"] for p in operation.definition.raw.get("parameters", []) if p.get("in") == "path"]
    real = {n: world.alice[n] for n in names if n in world.alice}
    if real and len(real) == len(names):
        found.append(operation.as_strategy(path_parameters=real))
    return found


def test_no_server_errors_and_every_4xx_is_a_problem(app: Litestar, live: str, world: World) -> None:
    document = app.openapi_schema.to_schema()
    schema = schemathesis.openapi.from_dict(document)
    tokens = {role: world.tokens[role] for role in ROLES}
    failures: list[str] = []
    calls = 0
    operations = 0
    started = time.monotonic()
    session = requests.Session()  # keep-alive: the loopback server is the thing measured, not TCP set-up
    spent: dict[str, float] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if _streams(operation):
            continue
        operations += 1
        op_started = time.monotonic()

        for strategy in _strategies(operation, world):

            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=strategy)
            def run(case: Any) -> None:
                nonlocal calls
                for role in ROLES:
                    headers = dict(case.headers or {})
                    if tokens[role]:
                        headers["Authorization"] = f"Bearer {tokens[role]}"
                    try:
                        response = case.call(base_url=live, session=session, headers=headers, timeout=20)
                    except Exception as exc:
                        failures.append(f"{operation.label} as {role}: {type(exc).__name__}: {exc}")
                        continue
                    calls += 1
                    ctype = response.headers.get("content-type") or ""
                    error = _problem_errors(
                        response.status_code,
                        ctype[0] if isinstance(ctype, list) else ctype,
                        response.content.decode(errors="replace"),
                    )
                    if error:
                        failures.append(f"{operation.label} as {role}: {error}\n    {case.as_curl_command()}")
                    elif undocumented := _undocumented(
                        document, operation, response.status_code, response.content.decode(errors="replace")
                    ):
                        failures.append(f"{operation.label}: {undocumented}")

            with contextlib.suppress(
                hypothesis.errors.Unsatisfiable
            ):  # nothing invalid can be made of an operation without inputs
                run()
        spent[operation.label] = time.monotonic() - op_started
    slowest = sorted(spent.items(), key=lambda kv: -kv[1])[:5]
    print("slowest operations: " + ", ".join(f"{label} {seconds:.1f} s" for label, seconds in slowest))
    print(
        f"fuzzing: {operations} operations, {calls} requests in {time.monotonic() - started:.0f} s, "
        f"{len(failures)} findings"
    )
    assert not failures, "\n".join(sorted(set(failures))[:60])
