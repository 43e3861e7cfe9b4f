"""``POST /v1/admin/certificate-types``: operators define or change a certificate type (证照类型).

The type's 证照类型代码 (``gb_type_code``: the defining department's credit code and three digits)
goes into every licence id and token of the type, so it is fixed once set; when a new type does not
bring one, the defining department's next free number is taken.
"""

from __future__ import annotations

from litestar import Response, post
from litestar.params import JSONBody

from api.deps import Db, Now
from api.kernel import audit
from api.kernel.identifiers import credit_code_valid
from api.kernel.problems import BadRequest, FieldError, ValidationFailed, success
from auth import BEARER, CurrentPrincipal, known_departments, problem_responses
from esign.errors import CertificateTypeInvalid, GbTypeCodeImmutable
from esign.http import AUTHZ
from esign.models import CertificateTypeIn
from esign.store import seal as seal_store
from esign.store import type as type_store
from matters import CertificateType


def _field_errors(data: CertificateTypeIn) -> list[FieldError]:
    errors, seen = [], set()
    for i, f in enumerate(data.fields):
        if f.key in seen:
            errors.append(FieldError(field=f"fields[{i}].key", message="is used twice"))
        seen.add(f.key)
        if (f.type == "enum") != bool(f.enum):
            errors.append(
                FieldError(field=f"fields[{i}].enum", message="is required for enum fields and only for them")
            )
    if data.gb_type_code and not credit_code_valid(data.gb_type_code[:18]):
        errors.append(FieldError(field="gb_type_code", message="must start with a valid credit code"))
    return errors


@post(
    "/v1/admin/certificate-types",
    operation_id="UpsertCertificateType",
    tags=["admin"],
    security=BEARER,
    summary="Define or change a certificate type (operator)",
    description=(
        "Upserts by `code`: 201 when new, 200 when changed. Field keys are unique snake_case; `enum` fields list "
        "their values; `sensitive` fields are sealed at rest and never put in a token. Unknown departments or bad "
        "field definitions answer 422 `certificate_type_invalid` naming them. `gb_type_code` (the defining "
        "department's credit code + 3 digits) is made when a new type has none and never changes afterwards "
        "(409 `gb_type_code_immutable`). The defining department defaults to the first issuer. Each field gets a "
        "registry number `n`, stable for ever: a field keeps its number, a new field takes the next one and a removed "
        "field's number is never given again (tokens key fields by it)."
    ),
    responses={
        **success(201, CertificateType, "Created."),
        **success(200, CertificateType, "Changed."),
        **problem_responses(BadRequest, ValidationFailed, CertificateTypeInvalid, *AUTHZ, GbTypeCodeImmutable),
    },
)
async def upsert_certificate_type(
    data: JSONBody[CertificateTypeIn], principal: CurrentPrincipal, db: Db, now: Now
) -> Response[CertificateType]:
    principal.require_roles("operator")
    errors = _field_errors(data)
    if errors:
        raise CertificateTypeInvalid(errors=errors)
    defining = data.defining_department_id or data.issuer_department_ids[0]
    async with db.acquire() as conn, conn.transaction():
        wanted = list(dict.fromkeys([*data.issuer_department_ids, defining]))
        known = await known_departments(conn, wanted)
        issuers = list(data.issuer_department_ids)
        unknown = [
            FieldError(
                field=f"issuer_department_ids[{issuers.index(d)}]" if d in issuers else "defining_department_id",
                message=f"no department {d}",
            )
            for d in wanted
            if d not in known
        ]
        if unknown:
            raise CertificateTypeInvalid(errors=unknown)
        known_type = await type_store.existing_type(conn, data.code)
        existing = known_type["gb_type_code"] if known_type else None
        gb_code = data.gb_type_code or existing
        if existing is not None and data.gb_type_code not in (None, existing):
            raise GbTypeCodeImmutable(f"{data.code} keeps {existing}", gb_type_code=existing)
        if gb_code is None:
            credit_code = await type_store.department_credit_code(conn, defining)
            gb_code = await type_store.next_gb_code(conn, credit_code or "")
            if gb_code is None:
                raise CertificateTypeInvalid("the defining department has used all 999 type numbers")
        owner = await type_store.gb_code_owner(conn, gb_code)
        if owner not in (None, data.code):
            raise CertificateTypeInvalid(errors=[FieldError(field="gb_type_code", message=f"is the code of {owner}")])
        fields, last_n = type_store.number_fields(
            [
                {"key": f.key, "label": f.label, "type": f.type, "required": f.required, "sensitive": f.sensitive}
                | ({"enum": f.enum} if f.enum else {})
                for f in data.fields
            ],
            known_type["fields"] if known_type else [],
            known_type["last_field_n"] if known_type else 0,
        )
        saved = await type_store.upsert_type(
            conn,
            {
                "code": data.code,
                "name": data.name.strip(),
                "gb_type_code": gb_code,
                "holder_kind": data.holder_kind,
                "defining_department_id": defining,
                "issuer_department_ids": list(dict.fromkeys(data.issuer_department_ids)),
                "fields": fields,
                "last_field_n": last_n,
                "validity_days": data.validity_days,
                "now": now,
            },
        )
        await seal_store.trust_list_changed(conn)  # the trust list carries the type registry
        await audit.append(
            conn,
            actor=principal.subject,
            action="esign.certificate_type_saved",
            subject=data.code,
            data={"gb_type_code": gb_code, "created": existing is None},
            at=now,
        )
    return Response(saved, status_code=201 if existing is None else 200)


ROUTES = [upsert_certificate_type]
