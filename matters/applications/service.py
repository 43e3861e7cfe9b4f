"""Rules of applying and handling: conditions, form checks, materials, task order and status.

Pure functions: values in, values out; the clock and the calendar are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from api.kernel.identifiers import id_number_birth_date, id_number_sex
from api.kernel.problems import FieldError
from matters.applications.errors import FormInvalid, MaterialInvalid, MaterialsMissing
from matters.applications.models import ProvidedMaterial
from matters.models import BundleMaterial, FormField

# --- bundle conditions -------------------------------------------------------------------------

# The catalogue's conditions are one comparison over the merged form: `form.key == value` or `!=`,
# with null, true, false, a number or a quoted string. Anything else is refused when loaded.
_CONDITION = re.compile(
    r"^\s*form\.([a-z_][a-z0-9_]*)\s*(==|!=)\s*(null|true|false|-?\d+(?:\.\d+)?|'[^']*'|\"[^\"]*\")\s*$"
)


def parse_condition(text: str) -> tuple[str, str, Any]:
    match = _CONDITION.match(text)
    if not match:
        raise ValueError(f"unsupported condition: {text!r}")
    key, op, raw = match.groups()
    literals = {"null": None, "true": True, "false": False}
    if raw in literals:
        value: Any = literals[raw]
    elif raw[0] in "'\"":
        value = raw[1:-1]
    else:
        value = float(raw) if "." in raw else int(raw)
    return key, op, value


def condition_holds(condition: str | None, form: Mapping[str, Any]) -> bool:
    """Does a bundle entry apply to this form? No condition means always."""
    if condition is None:
        return True
    key, op, value = parse_condition(condition)
    equal = form.get(key) == value
    return equal if op == "==" else not equal


# --- form --------------------------------------------------------------------------------------


def check_form(
    fields: Iterable[FormField], form: Mapping[str, Any], *, known: Iterable[str] = (), today: date
) -> dict[str, Any]:
    """Validate the form against the fields of the matters that apply; 422 naming every bad field.

    ``known`` are further keys the bundle asks for (in matters that do not apply): accepted, unchecked.
    """
    by_key = {f.key: f for f in fields}
    known = set(known) | set(by_key)
    errors = [FieldError(f"form.{k}", "unknown field") for k in form if k not in known]
    clean: dict[str, Any] = {}
    for f in by_key.values():
        value = form.get(f.key)
        if value is None or value == "":
            if f.required:
                errors.append(FieldError(f"form.{f.key}", f"{f.label}为必填项"))
            continue
        problem = _type_problem(f, value, today=today)
        if problem:
            errors.append(FieldError(f"form.{f.key}", problem))
        else:
            clean[f.key] = value.strip() if isinstance(value, str) else value
    if errors:
        raise FormInvalid(errors=errors)
    return clean


def _type_problem(f: FormField, value: Any, *, today: date) -> str | None:
    if f.type == "integer":
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if not isinstance(value, str):
        return "must be text"
    if len(value) > 500:
        return "is too long"
    if f.type == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return "must be a date (YYYY-MM-DD)"
    return None


# --- materials ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WalletCertificate:
    """A valid certificate in the wallet of the applicant or the person applied for."""

    wallet_item_id: Any
    type_code: str


def resolve_materials(
    materials: Iterable[BundleMaterial],
    *,
    provided: Mapping[str, tuple[str | None, Any]],
    deferred: Iterable[str],
    wallet: Mapping[Any, WalletCertificate],
    deferrable: frozenset[str],
    holder_fields: Mapping[str, str],
    applicant_id_number: str | None,
    form: Mapping[str, Any],
    known: Iterable[str] = (),
) -> list[ProvidedMaterial]:
    """Decide how each material is satisfied, or raise 422 ``materials_missing`` listing codes.

    ``provided`` maps material code → (blob sha256, wallet item id) as the client sent them.
    Materials a department holds, an earlier matter of the bundle produces, or that belong to
    another person named in the form by ID number (fetched from the certificate library by the
    handling department) are never asked for. Codes in ``known`` (materials of the bundle's matters
    that do not apply to this form) are ignored rather than refused.
    """
    deferred = set(deferred)
    materials = list(materials)
    unknown = sorted((set(provided) | deferred) - {m.code for m in materials} - set(known))
    if unknown:
        raise MaterialInvalid(
            errors=[FieldError("materials", f"not a material of this application: {c}") for c in unknown]
        )
    out: list[ProvidedMaterial] = []
    missing: list[str] = []
    for m in materials:
        blob, item_id = provided.get(m.code, (None, None))
        if item_id is not None:
            cert = wallet.get(item_id)
            mine = _applicants_own(m.code, holder_fields, form, applicant_id_number)
            if cert is None or cert.type_code not in m.satisfied_by_certificate_types or not mine:
                raise MaterialInvalid(
                    errors=[FieldError(f"materials.{m.code}", "wallet item does not stand for this material")]
                )
            out.append(ProvidedMaterial(code=m.code, source="wallet", wallet_item_id=item_id))
        elif blob is not None:
            out.append(ProvidedMaterial(code=m.code, source="blob", blob_sha256=blob))
        elif (
            found := source_without_upload(
                m, wallet=wallet, holder_fields=holder_fields, form=form, applicant_id_number=applicant_id_number
            )
        ) is not None:
            out.append(found)
        elif m.code in deferred and m.code in deferrable:
            out.append(ProvidedMaterial(code=m.code, source="deferred"))
        elif m.required:
            missing.append(m.code)
    if missing:
        raise MaterialsMissing(f"missing: {', '.join(missing)}", missing=missing)
    return out


def source_without_upload(
    m: BundleMaterial,
    *,
    wallet: Mapping[Any, WalletCertificate],
    holder_fields: Mapping[str, str],
    form: Mapping[str, Any],
    applicant_id_number: str | None,
) -> ProvidedMaterial | None:
    """Where a material comes from when the citizen hands in nothing (免提交), or None.

    Held by a department (shared between departments), produced by an earlier matter of the
    bundle, belonging to another person named in the form by ID number (the handling department
    fetches it from the certificate library), or a certificate already in the wallet.
    """
    if m.held_by_department is not None:
        return ProvidedMaterial(code=m.code, source="department")
    if m.produced_by_matter is not None:
        return ProvidedMaterial(code=m.code, source="bundle", produced_by_matter=m.produced_by_matter)
    if not _applicants_own(m.code, holder_fields, form, applicant_id_number):
        # Someone else's certificate (the father's ID card): never the applicant's own one.
        return ProvidedMaterial(code=m.code, source="department")
    item = next((c.wallet_item_id for c in wallet.values() if c.type_code in m.satisfied_by_certificate_types), None)
    if item is not None:
        return ProvidedMaterial(code=m.code, source="wallet", wallet_item_id=item)
    return None


def _applicants_own(
    code: str, holder_fields: Mapping[str, str], form: Mapping[str, Any], applicant: str | None
) -> bool:
    """Is this material the applicant's own? True unless the form names another holder for it.

    A material whose holder the form names by ID number (``father_id_card`` → ``father_id_number``)
    belongs to that person; until the form names anyone it is treated as someone else's.
    """
    field = holder_fields.get(code)
    if field is None:
        return True
    named = form.get(field)
    return bool(named and applicant and str(named).upper() == applicant.upper())


# --- prefill -----------------------------------------------------------------------------------

# Form fields filled from a certificate already in the wallet: key → (certificate type, its field).
FROM_CERTIFICATES = {
    "property_location": ("real_estate_certificate", "location"),
    "entity_name": ("business_license", "entity_name"),
    "service_branch": ("veteran_certificate", "service_branch"),
    "discharged_on": ("veteran_certificate", "discharged_on"),
}


@dataclass(frozen=True)
class Someone:
    """What prefill may know of the applicant or the person applied for."""

    id_number: str | None
    name: str | None
    sex: str | None  # "male" / "female"
    born_on: date | None


def prefill_form(
    fields: Iterable[FormField],
    *,
    applicant: Someone,
    subject: Someone | None,
    newborn: bool,
    certificate_fields: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """Fill what the platform already knows; the citizen checks it and adds the rest."""
    keys = {f.key for f in fields}
    out: dict[str, Any] = {}
    if newborn and applicant.id_number and applicant.sex:
        parent = "father_id_number" if applicant.sex == "male" else "mother_id_number"
        if parent in keys:
            out[parent] = applicant.id_number
    if subject is not None:
        for key, value in (
            ("student_id_number", subject.id_number),
            ("deceased_id_number", subject.id_number),
            ("child_name", subject.name),
            ("child_sex", {"male": "男", "female": "女"}.get(subject.sex or "")),
            ("child_born_at", subject.born_on.isoformat() if subject.born_on else None),
        ):
            if key in keys and value:
                out[key] = value
    for key, (type_code, field) in FROM_CERTIFICATES.items():
        value = certificate_fields.get(type_code, {}).get(field)
        if key in keys and value is not None:
            out[key] = value
    return out


# --- births ------------------------------------------------------------------------------------

# The numbers a birth case is known by: the hospital's delivery record, the 出生医学证明.
BIRTH_KEY_FIELDS = ("delivery_record_no", "birth_certificate_no")
_SEXES = {"男": "male", "女": "female", "male": "male", "female": "female"}


def sex_of(value: Any) -> str | None:
    """``male`` / ``female`` from 男 / 女 (or the words themselves), else None."""
    return _SEXES.get(value.strip().lower() if isinstance(value, str) else "")


def birth_keys(form: Mapping[str, Any]) -> list[str]:
    """The texts a birth case is keyed by, from the numbers the form gives (spaces dropped, upper case)."""
    out = []
    for key in BIRTH_KEY_FIELDS:
        value = form.get(key)
        if isinstance(value, str) and (number := "".join(value.split()).upper()):
            out.append(f"{key}:{number}")
    return out


def assigned_number_problems(number: str, *, born_on: date | None, sex: str | None) -> list[FieldError]:
    """Why an ID number assigned at 出生登记 cannot be the child's: another birth date or sex (GB 11643 digits 7–14, 17)."""
    problems = []
    if born_on is not None and id_number_birth_date(number) != born_on:
        problems.append(FieldError("assigned_id_number", "does not carry the child's birth date"))
    if sex_of(sex) is not None and id_number_sex(number) != sex_of(sex):
        problems.append(FieldError("assigned_id_number", "does not carry the child's sex"))
    return problems


# --- tasks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedTask:
    matter_code: str
    after: tuple[str, ...]
    required: bool


def plan_tasks(entries: Iterable[tuple[str, list[str], str | None]], form: Mapping[str, Any]) -> list[PlannedTask]:
    """One task per applicable matter; `after` keeps only matters that apply to this form.

    A matter behind a condition is optional: its rejection does not reject the application.
    """
    applicable = [(c, a, cond) for c, a, cond in entries if condition_holds(cond, form)]
    codes = {c for c, _, _ in applicable}
    return [PlannedTask(c, tuple(x for x in a if x in codes), cond is None) for c, a, cond in applicable]


def ready(after: Iterable[str], status_by_matter: Mapping[str, str]) -> bool:
    """A waiting task starts once every matter it waits for is approved."""
    return all(status_by_matter.get(code) == "approved" for code in after)


def blocked(after: Iterable[str], status_by_matter: Mapping[str, str]) -> bool:
    """A task can never start once a matter it waits for was rejected or cancelled."""
    return any(status_by_matter.get(code) in ("rejected", "cancelled") for code in after)


def application_status(tasks: Iterable[tuple[str, bool]], *, withdrawn: bool = False) -> str:
    """Aggregate ``(task status, required)`` pairs into the application's status."""
    if withdrawn:
        return "withdrawn"
    tasks = list(tasks)
    statuses = [s for s, _ in tasks]
    if any(s == "rejected" and required for s, required in tasks):
        return "rejected"
    if "needs_supplement" in statuses:
        return "needs_supplement"
    if all(s in ("approved", "rejected", "cancelled") for s in statuses):
        return "completed"
    if any(s in ("claimed", "approved", "rejected") for s in statuses):
        return "in_progress"
    return "submitted"
