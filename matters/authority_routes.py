"""``GET``/``PUT /v1/admin/departments/{department_id}/authority``: operators keep each department's powers.

The document is what the catalogue states for the department (权责清单): the record kinds it
pushes, the life events it declares, whether it sets guardianships and attests real-name checks at
its windows. The certificate types it issues are stated on the types (``issuer_department_ids``)
and the matters it handles on the matters; :mod:`api.kernel.authority` reads all of them.
"""

from __future__ import annotations

from typing import Annotated, get_args
from uuid import UUID

from litestar import Response, get, put
from litestar.params import JSONBody, PathParameter

from api.deps import Db, Now
from api.kernel import audit, authority
from api.kernel.authority import Authority
from api.kernel.problems import (
    BadRequest,
    FieldError,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
    problem_responses,
    success,
)
from auth import BEARER, CurrentPrincipal, known_departments
from matters.errors import AuthorityInvalid
from wallet import LifeEvent

DepartmentId = Annotated[UUID, PathParameter(description="The department's id.")]
LIFE_EVENTS = frozenset(get_args(LifeEvent))


def authority_errors(data: Authority) -> list[FieldError]:
    """Every problem of an authority document."""
    errors = []
    for i, event in enumerate(data.life_events):
        if event not in LIFE_EVENTS:
            known = ", ".join(sorted(LIFE_EVENTS))
            errors.append(FieldError(f"life_events[{i}]", f"no life event {event} (one of {known})"))
    for field, values in (("record_kinds", data.record_kinds), ("life_events", data.life_events)):
        for i, value in enumerate(values):
            if values.index(value) != i:
                errors.append(FieldError(f"{field}[{i}]", f"{value} is listed twice"))
    return errors


async def _known(db: Db, department_id: UUID) -> None:
    async with db.acquire() as conn:
        if not await known_departments(conn, [department_id]):
            raise NotFound()


@get(
    "/v1/admin/departments/{department_id:uuid}/authority",
    operation_id="GetDepartmentAuthority",
    tags=["admin"],
    security=BEARER,
    summary="A department's listed powers (权责清单) besides the certificate types it issues (operator)",
    description="All empty for a department whose powers were never stated. Unknown department → 404.",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def get_department_authority(department_id: DepartmentId, principal: CurrentPrincipal, db: Db) -> Authority:
    principal.require_roles("operator")
    await _known(db, department_id)
    return await authority.get_authority(db, department_id)


@put(
    "/v1/admin/departments/{department_id:uuid}/authority",
    operation_id="PutDepartmentAuthority",
    tags=["admin"],
    security=BEARER,
    summary="State a department's powers (权责清单) besides the certificate types it issues (operator)",
    description=(
        "Replaces the whole document; the answer is the document as it now reads (what the GET returns), 201 when "
        "the department had none, 200 otherwise. Lists are kept sorted without repeats. Every department write "
        "checks it at once: a power taken away answers 403 `authority_required` naming it. 422 `authority_invalid` "
        "names an unknown life event or a value listed twice. Audited (`catalogue.authority_saved`, with the "
        "document)."
    ),
    responses={
        **success(201, Authority, "Stated for the first time."),
        **success(200, Authority, "Changed."),
        **problem_responses(BadRequest, ValidationFailed, AuthorityInvalid, Unauthorized, Forbidden, NotFound),
    },
)
async def put_department_authority(
    department_id: DepartmentId, data: JSONBody[Authority], principal: CurrentPrincipal, db: Db, now: Now
) -> Response[Authority]:
    principal.require_roles("operator")
    errors = authority_errors(data)
    if errors:
        raise AuthorityInvalid(errors=errors)
    async with db.acquire() as conn, conn.transaction():
        if not await known_departments(conn, [department_id]):
            raise NotFound()
        before = await authority.get_authority(conn, department_id)
        created = await authority.put_authority(conn, department_id, data, now=now)
        saved = await authority.get_authority(conn, department_id)
        await audit.append(
            conn,
            actor=principal.subject,
            action="catalogue.authority_saved",
            subject=f"department:{department_id}",
            data={"before": _plain(before), "after": _plain(saved)},
            at=now,
        )
    return Response(saved, status_code=201 if created else 200)


def _plain(value: Authority) -> dict[str, object]:
    return {
        "record_kinds": value.record_kinds,
        "life_events": value.life_events,
        "guardianship": value.guardianship,
        "realname_proofing": value.realname_proofing,
        "window_intake": value.window_intake,
    }


ROUTES = [get_department_authority, put_department_authority]
