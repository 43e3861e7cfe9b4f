"""The OpenAPI contract: every route's problems, headers and examples, documented as they behave.

A route declares only what it decides itself:

- ``responses=problem_responses(ThingNotFound, ThingConflict, ...)`` — its own problem classes;
- ``opt=IDEMPOTENT`` — it runs through ``api.kernel.idempotency.run`` (the ``Idempotency-Key`` request
  header, the ``Idempotent-Replayed`` response header and the key's three problems);
- ``opt=CONDITIONAL`` — it answers an ``ETag`` and 304 to a matching ``If-None-Match``;
- (both: ``opt={**IDEMPOTENT, **CONDITIONAL}``);
- ``opt={"request_body": RequestBody(...)}`` — the body a handler reads itself (a streamed form).

:class:`ContractPlugin` adds to every operation what follows from its shape: 400
``malformed_request`` and 422 ``validation_failed`` where it takes input, 400 ``cursor_invalid``
where it takes a ``cursor``, 404 ``not_found`` where its path has a parameter, 401 ``unauthorized``
and 403 ``forbidden`` (and the bearer security requirement) where it needs the ``principal``, and 503
``service_unavailable`` everywhere. Each error response is ``application/problem+json`` with the
one shared ``ProblemDocument`` schema, its ``type`` narrowed to the slugs that status can carry, one
example per slug, and ``Retry-After`` on 429 and 503. Every answer carries ``X-Request-Id``.
Examples of the main operations live in ``api.examples``. The API fuzzing test checks every problem
it meets against the operation's documented statuses and types.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from functools import partial
from typing import Any, cast

from litestar.config.app import AppConfig
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
    SecurityRequirement,
)
from litestar.plugins import InitPlugin, ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute

from api import examples as examples_
from api.kernel.idempotency import IdempotencyKeyInFlight, IdempotencyKeyInvalid, IdempotencyKeyReused
from api.kernel.pagination import CursorInvalid
from api.kernel.problems import (
    PROBLEM_JSON,
    BadRequest,
    Forbidden,
    NotFound,
    Problem,
    ProblemDocument,
    ProblemSpec,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
    describe,
)

IDEMPOTENT: dict[str, Any] = {"idempotency_key": True}
CONDITIONAL: dict[str, Any] = {"etag": True}
BEARER: list[SecurityRequirement] = [{"bearer": []}]

# Response headers, defined once under components/headers and referenced where they are sent.
HEADERS = {
    "Retry-After": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER, minimum=0), description="Seconds to wait before trying again."
    ),
    "ETag": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING), description="The answer's entity tag; send it back in `If-None-Match`."
    ),
    "Idempotent-Replayed": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, enum=["true"]),
        description="Present when this is the stored answer to an earlier request with the same `Idempotency-Key`.",
    ),
    "X-Request-Id": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING),
        description="This request's id (the caller's own `X-Request-Id` when it sent a sane one); quote it when "
        "reporting a problem: the server's logs carry it.",
    ),
}
_RETRY_AFTER = Reference("#/components/headers/Retry-After")
_ETAG = Reference("#/components/headers/ETag")
_REPLAYED = Reference("#/components/headers/Idempotent-Replayed")
_REQUEST_ID = Reference("#/components/headers/X-Request-Id")
# The schema of ProblemDocument; every route's 503 puts it in Litestar's registry under this name.
_PROBLEM = Reference("#/components/schemas/ProblemDocument")
# Problem responses most routes share, defined once under components/responses.
SHARED = {
    BadRequest: "MalformedRequest",
    Unauthorized: "Unauthorized",
    Forbidden: "Forbidden",
    ValidationFailed: "ValidationFailed",
    RateLimited: "RateLimited",
    ServiceUnavailable: "ServiceUnavailable",
}
_IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    description=(
        "Makes a retry safe: the same key with the same request answers the stored response (with "
        "`Idempotent-Replayed: true`) for 24 hours; with another request 422 `idempotency_key_reused`; "
        "while the first is still running 409 `idempotency_key_in_flight`."
    ),
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=255, pattern=r"^[\x21-\x7e]{1,255}$"),
)
_IF_NONE_MATCH = Parameter(
    name="If-None-Match",
    param_in="header",
    required=False,
    description="An `ETag` from an earlier answer: 304 without a body while nothing changed.",
    schema=Schema(type=OpenAPIType.STRING),
)


class ContractPlugin(InitPlugin, ReceiveRoutePlugin):
    """Gives every HTTP route's OpenAPI operation the problems, headers and examples it really has."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        config = app_config.openapi_config
        if config is not None:
            given = config.components if isinstance(config.components, list) else [config.components]
            responses: dict[str, OpenAPIResponse | Reference] = {
                name: _problem_response(p.status, [p]) for p, name in SHARED.items()
            }
            config.components = [*given, Components(headers=dict(HEADERS), responses=responses)]
        return app_config

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            responses = dict(handler.responses or {})
            # Every route can meet an outage; this also puts the shared problem schema in the registry.
            if 503 not in responses:
                responses[503] = _spec([ServiceUnavailable])
            handler.responses = responses
            # The handler's own operation class (one that declares a body read by hand) still makes the operation.
            made_by = handler.operation_class
            if isinstance(made_by, partial) and made_by.func is _operation:
                continue  # finished already
            # Litestar only calls the operation class with the operation's fields: a partial serves.
            handler.operation_class = cast("type[Operation]", partial(_operation, handler, made_by))


def _spec(problems: list[type[Problem]]) -> ProblemSpec:
    return ProblemSpec(
        data_container=ProblemDocument,
        media_type=PROBLEM_JSON,
        generate_examples=False,
        description=describe(problems),
        problems=tuple(problems),
    )


def _operation(handler: HTTPRouteHandler, made_by: type[Operation], **fields: Any) -> Operation:
    """Litestar's operation for ``handler``, finished as the module docstring says."""
    op = made_by(**fields)
    responses = op.responses or {}
    opt = handler.opt or {}
    problems: dict[int, list[type[Problem]]] = defaultdict(list)
    for status, spec in (handler.responses or {}).items():
        if isinstance(spec, ProblemSpec):
            problems[status].extend(spec.problems)
    if opt.get("request_body") is not None:
        op.request_body = opt["request_body"]  # a body the handler reads itself (a streamed form)
    takes_input = bool(op.parameters or op.request_body)
    # Litestar's own 400 ({status_code, detail, extra}) is never what the client gets: see api/kernel/problems.py.
    for code in [s for s, r in responses.items() if not isinstance(r, Reference) and _is_litestar_error(r)]:
        del responses[code]
    defaults: list[type[Problem]] = []
    if takes_input or opt.get("idempotency_key"):
        defaults += [BadRequest, ValidationFailed]
    params = [p for p in op.parameters or [] if isinstance(p, Parameter)]
    if any(p.param_in == "path" for p in params):
        defaults.append(NotFound)  # a path value that is not one (or hidden from the caller)
    if any(p.param_in == "query" and p.name == "cursor" for p in params):
        defaults.append(CursorInvalid)
    principal = _principal(handler)
    if principal == "required":
        defaults.append(Forbidden)  # the caller is not of the kind, role or scope the route serves
    if principal:
        defaults.append(Unauthorized)
        if op.security is None:
            op.security = BEARER if principal == "required" else [*BEARER, {}]
    if opt.get("idempotency_key"):
        defaults += [IdempotencyKeyInvalid, IdempotencyKeyInFlight, IdempotencyKeyReused]
        op.parameters = [*(op.parameters or []), _IDEMPOTENCY_KEY]
    for p in defaults:
        declared = [q for q in problems[p.status] if q.slug == p.slug]
        if not declared and not _own_body(handler, p.status):
            problems[p.status].append(p)
    for status, group in problems.items():
        if group and not _own_body(handler, status):
            shared = SHARED.get(group[0]) if len(group) == 1 else None
            responses[str(status)] = (
                Reference(f"#/components/responses/{shared}") if shared else _problem_response(status, group)
            )
    if opt.get("etag"):
        if not any(isinstance(p, Parameter) and p.name.lower() == "if-none-match" for p in op.parameters or []):
            op.parameters = [*(op.parameters or []), _IF_NONE_MATCH]
        responses["304"] = OpenAPIResponse(
            description="Not Modified: the `If-None-Match` tag is still current.", headers={"ETag": _ETAG}
        )
    for code, response in responses.items():
        if not isinstance(response, OpenAPIResponse):
            continue
        headers = {**(response.headers or {}), "X-Request-Id": _REQUEST_ID}
        if code.startswith("2"):
            if opt.get("etag"):
                headers["ETag"] = _ETAG
            if opt.get("idempotency_key"):
                headers["Idempotent-Replayed"] = _REPLAYED
        response.headers = headers
    op.responses = dict(sorted(responses.items()))
    examples_.apply(handler, op)
    return op


def _problem_response(status: int, group: list[type[Problem]]) -> OpenAPIResponse:
    slugs = list(dict.fromkeys(p.slug for p in group))
    narrowed = Schema(
        all_of=[
            _PROBLEM,
            Schema(
                type=OpenAPIType.OBJECT,
                required=["type"],
                properties={"type": Schema(type=OpenAPIType.STRING, enum=slugs)},
            ),
        ]
    )
    examples: dict[str, Example | Reference] = {
        p.slug: Example(summary=p.__doc__, value={"type": p.slug, "title": p.__doc__, "status": status})
        for p in {p.slug: p for p in group}.values()
    }
    headers: dict[str, OpenAPIHeader | Reference] = {"Retry-After": _RETRY_AFTER} if status in (429, 503) else {}
    headers["X-Request-Id"] = _REQUEST_ID
    return OpenAPIResponse(
        description=describe({p.slug: p for p in group}.values()),
        headers=headers,
        content={PROBLEM_JSON: OpenAPIMediaType(schema=narrowed, examples=examples)},
    )


def _is_litestar_error(response: OpenAPIResponse) -> bool:
    for media in (response.content or {}).values():
        schema = media.schema
        if isinstance(schema, Schema) and schema.properties and "status_code" in schema.properties:
            return True
    return False


def _own_body(handler: HTTPRouteHandler, status: int) -> bool:
    """Whether the route documents its own non-problem body for ``status`` (``/health``'s 503)."""
    spec = (handler.responses or {}).get(status)
    return spec is not None and not isinstance(spec, ProblemSpec)


def _principal(handler: HTTPRouteHandler) -> str | None:
    """``"required"`` when the route (or a dependency it uses) needs a caller, ``"optional"``, or None."""
    dependencies = handler.resolve_dependencies()
    names = list(handler.parsed_fn_signature.parameters)
    seen: set[str] = set()
    while names:
        name = names.pop()
        if name in seen:
            continue
        seen.add(name)
        if name == "principal":
            return "required"
        if name in dependencies:
            names.extend(inspect.signature(dependencies[name].dependency).parameters)
    return "optional" if "maybe_principal" in seen else None


__all__ = ["BEARER", "CONDITIONAL", "IDEMPOTENT", "ContractPlugin"]
