"""``PUT /v1/admin/matters/{code}`` and ``PUT /v1/admin/bundles/{code}``: operators keep the catalogue.

Each takes the shape its GET returns, so an operator reads an entry, changes it and puts it back.
The checks below are pure; the handlers look up what they refer to and save in one transaction.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, put
from litestar.params import JSONBody, PathParameter

from api.deps import Db, Now
from api.kernel import audit
from api.kernel.problems import (
    BadRequest,
    FieldError,
    Forbidden,
    Unauthorized,
    ValidationFailed,
    problem_responses,
    success,
)
from auth import BEARER, CurrentPrincipal, known_departments
from matters import admin_store, service, store
from matters.applications.service import parse_condition
from matters.errors import BundleInvalid, MatterInvalid
from matters.models import Bundle, BundleIn, Matter, MatterIn

# Working days; anything longer is a typo, and would overflow the date arithmetic of due times later.
MAX_DAYS = 3650
MAX_COUNT = 99  # copies of a material, visits to a window


def _within(errors: list[FieldError], field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        errors.append(FieldError(field, f"must be between {low} and {high}"))


def matter_errors(
    code: str, data: MatterIn, *, departments: set[UUID], issuers: dict[str, set[UUID]]
) -> list[FieldError]:
    """Every problem of a matter put at ``code``, given the departments and certificate types that exist."""
    errors = []
    if data.code != code:
        errors.append(FieldError("code", f"does not match the path ({code})"))
    if data.department.id not in departments:
        errors.append(FieldError("department.id", f"no department {data.department.id}"))
    g = data.guide
    _within(errors, "guide.legal_limit_days", g.legal_limit_days, 0, MAX_DAYS)
    _within(errors, "guide.promised_limit_days", g.promised_limit_days, 0, MAX_DAYS)
    _within(errors, "guide.visits_required", g.visits_required, 0, MAX_COUNT)
    if g.promised_limit_days > g.legal_limit_days:
        errors.append(FieldError("guide.promised_limit_days", "承诺时限 may not exceed 法定时限 (legal_limit_days)"))
    codes: set[str] = set()
    for i, m in enumerate(data.materials):
        if m.code in codes:
            errors.append(FieldError(f"materials[{i}].code", f"{m.code} is listed twice"))
        codes.add(m.code)
        _within(errors, f"materials[{i}].copies", m.copies, 1, MAX_COUNT)
        for j, t in enumerate(m.satisfied_by_certificate_types):
            if t not in issuers:
                errors.append(
                    FieldError(f"materials[{i}].satisfied_by_certificate_types[{j}]", f"no certificate type {t}")
                )
        if m.held_by_department is not None and m.held_by_department.id not in departments:
            errors.append(
                FieldError(f"materials[{i}].held_by_department.id", f"no department {m.held_by_department.id}")
            )
    keys: set[str] = set()
    for i, f in enumerate(data.form):
        if f.key in keys:
            errors.append(FieldError(f"form[{i}].key", f"{f.key} is listed twice"))
        keys.add(f.key)
    result = data.result_certificate_type
    if result is not None and result not in issuers:
        errors.append(FieldError("result_certificate_type", f"no certificate type {result}"))
    elif result is not None and data.department.id in departments and data.department.id not in issuers[result]:
        # Approving a task issues the result in the matter's department's name; it must be an issuer.
        errors.append(FieldError("result_certificate_type", "the matter's department is not an issuer of this type"))
    return errors


def bundle_errors(
    code: str, data: BundleIn, *, departments: set[UUID], form_keys: dict[str, frozenset[str]]
) -> list[FieldError]:
    """Every problem of a bundle put at ``code``, given the departments and the matters (their form keys) that exist."""
    errors = []
    if data.code != code:
        errors.append(FieldError("code", f"does not match the path ({code})"))
    if data.lead_department.id not in departments:
        errors.append(FieldError("lead_department.id", f"no department {data.lead_department.id}"))
    _within(errors, "promised_limit_days", data.promised_limit_days, 0, MAX_DAYS)
    if not data.matters:
        errors.append(FieldError("matters", "must name at least one matter"))
    members = {e.code for e in data.matters}
    asked = {k for c in members for k in form_keys.get(c, ())}
    seen: set[str] = set()
    for i, e in enumerate(data.matters):
        if e.code not in form_keys:
            errors.append(FieldError(f"matters[{i}].code", f"no matter {e.code}"))
        elif e.code in seen:
            errors.append(FieldError(f"matters[{i}].code", f"{e.code} is listed twice"))
        seen.add(e.code)
        for j, before in enumerate(e.after):
            if before not in members:
                errors.append(FieldError(f"matters[{i}].after[{j}]", f"{before} is not a matter of this bundle"))
            elif e.after.index(before) != j:
                errors.append(FieldError(f"matters[{i}].after[{j}]", f"{before} is listed twice"))
        if e.condition is not None:
            try:
                key, _, _ = parse_condition(e.condition)
            except ValueError as exc:
                errors.append(
                    FieldError(f"matters[{i}].condition", f"{exc} (one comparison: form.key == or != a value)")
                )
            else:
                if key not in asked:
                    errors.append(
                        FieldError(f"matters[{i}].condition", f"form.{key} is not a field of this bundle's matters")
                    )
    after = {e.code: list(e.after) for e in data.matters}
    for i, e in enumerate(data.matters):
        if e.code in service.predecessors(e.code, after):
            errors.append(FieldError(f"matters[{i}].after", f"forms a cycle: {e.code} would wait for itself"))
    return errors


def _forget_built_bundles(request: Request[Any, Any, Any], code: str | None = None) -> None:
    """Drop this process's built bundles (all, or one) that ``GET /v1/bundles/{code}`` caches."""
    built = request.app.state.get("built_bundles")
    if built is None:
        return
    if code is None:
        built.clear()
    else:
        built.pop(code, None)


Code = Annotated[str, PathParameter(max_length=64)]


@put(
    "/v1/admin/matters/{code:str}",
    operation_id="UpsertMatter",
    tags=["admin"],
    security=BEARER,
    summary="Define or change a matter (事项) of the catalogue (operator)",
    description=(
        "Upserts by `code`: 201 when new, 200 when changed. The body is what `GET /v1/matters/{code}` returns, and so "
        "is the answer (the matter as it now reads), so an operator can read a matter, change it and put it back; "
        "department names are ignored. Materials are shared between matters: a material code the catalogue does not "
        "know yet is created from its `name`, `satisfied_by_certificate_types` and `held_by_department`; for a known "
        "one these three replace the stored ones for every matter naming it (whether it may be deferred, and whose "
        "ID number it carries, stay as they are). 422 `matter_invalid` names each bad field: a `code` other than the "
        "path's, unknown departments or certificate types, a result certificate type the matter's department does "
        "not issue, a material code or form key listed twice, `guide.promised_limit_days` (承诺时限) beyond "
        "`guide.legal_limit_days` (法定时限), negative numbers. Bundles of the matter show the change at once on "
        "the server process that saved it and within a minute on the others. Audited (`catalogue.matter_saved`)."
    ),
    responses={
        **success(201, Matter, "Created."),
        **success(200, Matter, "Changed."),
        **problem_responses(BadRequest, ValidationFailed, MatterInvalid, Unauthorized, Forbidden),
    },
)
async def upsert_matter(
    request: Request[Any, Any, Any], code: Code, data: JSONBody[MatterIn], principal: CurrentPrincipal, db: Db, now: Now
) -> Response[Matter]:
    principal.require_roles("operator")
    held = {m.held_by_department.id for m in data.materials if m.held_by_department is not None}
    types = {t for m in data.materials for t in m.satisfied_by_certificate_types}
    if data.result_certificate_type is not None:
        types.add(data.result_certificate_type)
    async with db.acquire() as conn, conn.transaction():
        departments = await known_departments(conn, [data.department.id, *held])
        issuers = await admin_store.certificate_type_issuers(conn, sorted(types))
        errors = matter_errors(code, data, departments=departments, issuers=issuers)
        if errors:
            raise MatterInvalid(errors=errors)
        created = await admin_store.save_matter(conn, data, now=now)
        await audit.append(
            conn,
            actor=principal.subject,
            action="catalogue.matter_saved",
            subject=code,
            data={"created": created},
            at=now,
        )
        saved = await store.get_matter(conn, code)
    _forget_built_bundles(request)
    return Response(saved, status_code=201 if created else 200)


@put(
    "/v1/admin/bundles/{code:str}",
    operation_id="UpsertBundle",
    tags=["admin"],
    security=BEARER,
    summary="Define or change a bundle (一件事) of existing matters (operator)",
    description=(
        "Upserts by `code`: 201 when new, 200 when changed. The body is what `GET /v1/bundles/{code}` returns, and so "
        "is the answer: `form`, `materials` and `stats` are derived from the matters and ignored, as are each "
        "matter's `name` and `department` and the lead department's name. Whom the bundle is for (a newborn, the "
        "deceased, or the applicant) keeps its stored value; a new bundle is for the applicant. 422 `bundle_invalid` "
        "names each bad field: a `code` other than the path's, an unknown lead department, no matters, a matter "
        "unknown or listed twice, an `after` naming a matter not in the bundle or closing a cycle, a `condition` that "
        "is not one comparison `form.key == value` or `!=` over a field of the bundle's matters, negative numbers. "
        "The server process that saved the bundle serves it at once; the others cache a built bundle for up to a "
        "minute, so they show the change within a minute. Audited (`catalogue.bundle_saved`)."
    ),
    responses={
        **success(201, Bundle, "Created."),
        **success(200, Bundle, "Changed."),
        **problem_responses(BadRequest, ValidationFailed, BundleInvalid, Unauthorized, Forbidden),
    },
)
async def upsert_bundle(
    request: Request[Any, Any, Any], code: Code, data: JSONBody[BundleIn], principal: CurrentPrincipal, db: Db, now: Now
) -> Response[Bundle]:
    principal.require_roles("operator")
    async with db.acquire() as conn, conn.transaction():
        departments = await known_departments(conn, [data.lead_department.id])
        form_keys = await admin_store.matter_form_keys(conn, list({e.code for e in data.matters}))
        errors = bundle_errors(code, data, departments=departments, form_keys=form_keys)
        if errors:
            raise BundleInvalid(errors=errors)
        created = await admin_store.save_bundle(conn, data, now=now)
        await audit.append(
            conn,
            actor=principal.subject,
            action="catalogue.bundle_saved",
            subject=code,
            data={"created": created},
            at=now,
        )
        saved = await store.get_bundle(conn, code)
    _forget_built_bundles(request, code)
    return Response(saved, status_code=201 if created else 200)


ROUTES = [upsert_matter, upsert_bundle]
