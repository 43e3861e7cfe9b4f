"""Applications (citizens) and department tasks (staff and department systems)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

import auth
from api.deps import Db, Keys, Now
from api.kernel import idempotency, responses
from api.kernel.authority import AuthorityRequired
from api.kernel.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from api.kernel.problems import Forbidden, Unauthorized, problem_responses, success
from api.openapi import IDEMPOTENT
from auth import (
    BEARER,
    AssuranceRequired,
    CurrentPrincipal,
    DelegationInactive,
    DelegationOutOfScope,
    Principal,
    dependents_of,
)
from matters import store as catalogue_store
from matters.applications import handling, materials, results, signing, store, views, workflow
from matters.applications.errors import (
    ApplicantKindNotAllowed,
    ApplicationClosed,
    ApplicationIdReused,
    ApplicationNotFound,
    AssignedIdNumberMismatch,
    CreditCodeRequired,
    FormInvalid,
    IdNumberInvalid,
    MaterialInvalid,
    MaterialNotAvailable,
    MaterialNotFound,
    MaterialsMissing,
    NotGuardian,
    ReasonsRequired,
    TaskNotFound,
    TaskStateConflict,
)
from matters.applications.models import (
    Application,
    ApplicationPage,
    ApproveIn,
    DeptTask,
    DeptTaskPage,
    Prefill,
    RejectIn,
    SubmitApplication,
    SupplementIn,
    SupplementRequestIn,
    TaskMaterialList,
    TaskMaterialRead,
)
from matters.errors import BundleNotFound

# 实人认证 L2 (name + ID number checked) is the least a person needs to apply at all.
APPLY_LEVEL = "L2"
# Acting for someone else (a dependent) is a sensitive act: L3, proven within the last 30 minutes.
FOR_OTHERS_LEVEL, FOR_OTHERS_MAX_AGE = "L3", 1800


def require_applicant(principal: Principal, now: Any) -> workflow.Applicant:
    """Who applies: an account at L2 or above with a verified identity (a 403 otherwise)."""
    account_id = principal.require_account()
    principal.require_assurance(APPLY_LEVEL, now=now)
    if principal.person_id is None:
        raise Forbidden("a verified identity is required to apply")
    return workflow.Applicant(account_id=account_id, person_id=principal.person_id)


async def _as_agent(
    db: Any,
    keyring: Any,
    principal: Principal,
    action: str,
    matter_codes: list[str] | None,
    *,
    application_id: UUID,
    now: Any,
) -> None:
    """A 经办人 acting for an entity, or a 代办人 for a person: the act must be within the authorisation, checked now
    and logged in its uses (a refusal too, committed before it is answered)."""
    if not principal.is_agent or principal.delegation_id is None or principal.person_id is None:
        return
    kind = "organisation" if principal.org_id is not None else "person"
    if principal.actor_person_id is None:  # an acting token always names the person acting
        raise Forbidden("the acting token does not name the person acting")
    async with db.acquire() as conn, conn.transaction():
        number = await auth.get_id_number(conn, keyring, principal.actor_person_id)
        refusal = await auth.use(
            conn,
            keyring,
            principal.delegation_id,
            principal_kind=kind,
            principal_id=principal.person_id,
            agent_id_number=number or "",
            action=action,
            matter_codes=matter_codes,
            department_id=None,
            actor=principal.subject,
            application_id=application_id,
            now=now,
        )
    if refusal is not None:
        raise refusal


class ApplicationController(Controller):
    path = "/v1/applications"
    tags = ["applications"]
    security = BEARER

    @post(
        operation_id="SubmitApplication",
        opt=IDEMPOTENT,
        summary="Apply for a bundle (一件事) or a single matter — accepted once (综合受理)",
        description=(
            "The client makes the `id` (UUID); sending the same body with the same id again returns the stored "
            "application with 200 (phones retry). A bundle creates one task per applicable matter, routed to its "
            "department; tasks that wait for earlier matters start as `waiting`. Materials come from the wallet "
            "(`wallet_item_id`), an upload (`blob_sha256`, which may be uploaded later), the department that holds "
            "them, or an earlier matter of the bundle; required materials missing → 422 `materials_missing` with "
            "`missing`. Deferrable materials (容缺受理) may be listed in `deferred_materials` and are then due by "
            "`supplement_due_at`. Applying for a dependent needs L3 within 30 minutes; 出生一件事 creates the "
            "newborn's person with both parents as guardians. A birth is one case, known by the form's "
            "`delivery_record_no` (分娩记录编号) or `birth_certificate_no` (出生医学证明编号), one of which is required: "
            "the second parent applying for the same baby gets 200 with the existing application (its own `id`), "
            "becomes a guardian if not one yet, and no second child is created. `child_sex` is 男 or 女. "
            "A 经办人 acting for a business entity applies within their authorisation (403 `delegation_inactive`, "
            "`delegation_out_of_scope`); each attempt is logged in the authorisation's uses. Who may apply is the "
            "bundle's or matter's `applicant_kinds`: a person's matter applied for acting for an entity, or an "
            "entity's as a person → 403 `applicant_kind_not_allowed`."
        ),
        responses={
            **success(200, Application, "Submitted before with this `id` and body."),
            **problem_responses(
                FormInvalid,
                MaterialsMissing,
                MaterialInvalid,
                ApplicationIdReused,
                NotGuardian,
                AssuranceRequired,
                Unauthorized,
                DelegationInactive,
                DelegationOutOfScope,
                ApplicantKindNotAllowed,
            ),
        },
        status_code=201,
    )
    async def submit(
        self,
        request: Request,
        data: JSONBody[SubmitApplication],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Response[Application]:
        who = require_applicant(principal, now)
        if data.for_person_id not in (None, who.person_id):
            principal.require_assurance(FOR_OTHERS_LEVEL, now=now, max_age_seconds=FOR_OTHERS_MAX_AGE)
        await _as_agent(
            db,
            keyring,
            principal,
            "apply",
            [data.bundle_code or data.matter_code or ""],
            application_id=data.id,
            now=now,
        )

        async with db.acquire() as conn, conn.transaction():

            async def create() -> tuple[int, Any]:
                cal = await catalogue_store.load_calendar(conn)
                app, created = await workflow.submit(conn, keyring, who, data, now=now, cal=cal)
                if created and principal.org_id is not None:
                    # What an entity submits, it signs with its 企业电子印章.
                    await signing.sign(
                        conn, request.app.state.esign, keyring, app.for_person_id, app.id, principal.org_id
                    )
                return (201 if created else 200), app

            made = await idempotency.run(request, conn, scope=f"account:{who.account_id}", create=create)
            return responses.answer(made, Application)

    @get(operation_id="ListApplications", summary="My applications and those for my dependents, newest first")
    async def list_applications(
        self,
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
        status: Annotated[
            Literal["submitted", "in_progress", "needs_supplement", "completed", "rejected", "withdrawn"] | None,
            QueryParameter(),
        ] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ApplicationPage:
        principal.require_account()
        if principal.person_id is None:
            return ApplicationPage(items=[], next_cursor=None)
        before = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            deps = await dependents_of(conn, principal.person_id, now=now)
            rows = await store.list_applications(
                conn,
                person_id=principal.person_id,
                family=await auth.family(conn, principal.person_id),
                dependents=deps,
                status=status,
                before=before,
                limit=limit,
            )
            items = [await views.application(conn, keyring, r["for_person_id"], r["id"], row=r) for r in rows]
        return ApplicationPage(
            items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None
        )

    @get(
        "/{application_id:uuid}",
        operation_id="GetApplication",
        summary="One application with its tasks and timeline",
        responses=problem_responses(ApplicationNotFound, Unauthorized),
    )
    async def get_application(
        self, application_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Application:
        async with db.acquire() as conn:
            row = (
                await store.find_application(conn, await auth.family(conn, principal.person_id), application_id)
                if principal.person_id is not None
                else None
            )
            if row is None:
                raise views.hidden()
            await _may_read(conn, principal, row, now=now)
            return await views.application(conn, keyring, row["for_person_id"], application_id, row=row)

    @post(
        "/{application_id:uuid}/withdraw",
        operation_id="WithdrawApplication",
        status_code=200,
        summary="Withdraw an application before it is completed",
        responses=problem_responses(ApplicationNotFound, ApplicationClosed, AssuranceRequired, Unauthorized),
    )
    async def withdraw(
        self, application_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Application:
        who = require_applicant(principal, now)
        async with db.acquire() as conn, conn.transaction():
            return await workflow.withdraw(conn, keyring, who, application_id, now=now)

    @post(
        "/{application_id:uuid}/supplement",
        operation_id="SupplementApplication",
        status_code=200,
        summary="Hand in the materials a department asked for (补正) or that were deferred (容缺)",
        description="The applicant, or a guardian of the person applied for (either parent of a newborn).",
        responses=problem_responses(ApplicationNotFound, MaterialInvalid, AssuranceRequired, Unauthorized),
    )
    async def supplement(
        self,
        application_id: FromPath[UUID],
        data: JSONBody[SupplementIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Application:
        who = require_applicant(principal, now)
        await _as_agent(db, keyring, principal, "supplement", None, application_id=application_id, now=now)
        async with db.acquire() as conn, conn.transaction():
            cal = await catalogue_store.load_calendar(conn)
            return await handling.supplement(conn, keyring, who, application_id, data.materials, now=now, cal=cal)


async def _may_read(conn: Any, principal: Principal, row: Any, *, now: Any) -> None:
    """The applicant, the person applied for and their guardians may read an application."""
    me = principal.person_id
    if me is not None and me in (row["applicant_person_id"], row["for_person_id"]):
        return
    if me is not None and row["for_person_id"] in await dependents_of(conn, me, now=now):
        return
    raise views.hidden()


DEPT_PROBLEMS = (TaskNotFound, TaskStateConflict, Unauthorized, Forbidden)
# Deciding a task needs the matter to be the department's (authority ``matter:<code>``).
DECIDE_PROBLEMS = (*DEPT_PROBLEMS, AuthorityRequired)


class DeptTaskController(Controller):
    path = "/v1/dept/tasks"
    tags = ["department tasks"]
    security = BEARER

    @get(
        operation_id="ListDepartmentTasks",
        summary="The caller's department's tasks (filter by status, overdue)",
        description="Staff with any role of the department, or a department system with `tasks:handle`.",
    )
    async def list_tasks(
        self,
        request: Request,
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
        status: Annotated[
            Literal["waiting", "pending", "claimed", "approved", "rejected", "needs_supplement", "cancelled"] | None,
            QueryParameter(),
        ] = None,
        overdue: Annotated[
            bool | None, QueryParameter(description="Only tasks past (true) or within (false) their due time.")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> DeptTaskPage:
        dept = _department(principal, "clerk")
        after = decode_cursor(cursor, UUID) if cursor else None
        async with db.acquire() as conn:
            rows = await store.list_department_tasks(
                conn, dept, status=status, overdue=overdue, now=now, after=after, limit=limit
            )
            items = [await views.dept_task(conn, keyring, r, now=now, esign=request.app.state.esign) for r in rows]
        return DeptTaskPage(items=items, next_cursor=encode_cursor(str(items[-1].id)) if len(items) == limit else None)

    @get(
        "/{task_id:uuid}",
        operation_id="GetDepartmentTask",
        summary="One task with its own matter's form fields and materials",
        description="The form and materials are those of the task's matter only; the rest of the application stays with "
        "the departments it concerns. Read the materials through `GET …/materials`.",
        responses=problem_responses(*DEPT_PROBLEMS),
    )
    async def get_task(
        self, request: Request, task_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> DeptTask:
        dept = _department(principal, "clerk")
        async with db.acquire() as conn:
            return await views.dept_task(
                conn,
                keyring,
                await store.get_task(conn, task_id, department_id=dept),
                now=now,
                esign=request.app.state.esign,
            )

    @get(
        "/{task_id:uuid}/materials",
        operation_id="ListTaskMaterials",
        summary="The materials of the task's own matter and how to read each (免提交)",
        description=(
            "Staff of the task's department (any role) or its system with `tasks:handle`. Only the materials the task's "
            "matter asks for: `read: certificate` → `GET …/materials/{code}`, `read: file` → `GET …/materials/{code}/file`; "
            "`null` when there is nothing to read yet (not handed in, deferred, produced by a matter not approved yet) or "
            "the material is shared by the department that holds it (`held_by_department`). Nothing is read here."
        ),
        responses=problem_responses(*DEPT_PROBLEMS),
    )
    async def list_materials(
        self, task_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> TaskMaterialList:
        dept = _department(principal, "clerk")
        async with db.acquire() as conn:
            return await materials.list_materials(conn, keyring, task_id, department_id=dept, now=now)

    @get(
        "/{task_id:uuid}/materials/{code:str}",
        operation_id="ReadTaskMaterial",
        summary="Read the certificate standing for one material of the task's matter; logged for its holder",
        description=(
            "The certificate in the applicant's wallet, the one an earlier matter of the bundle issued, or the one held by "
            "the person the form names for it by ID number (the father's ID card), with every field. The read appears "
            "in the holder's access log (`GET /v1/wallet/access-log`) with the department and `task_id`. A material "
            "that is not the task's matter's → 404 `material_not_found`; nothing to read (yet) → 409 "
            "`material_not_available`."
        ),
        responses=problem_responses(*DEPT_PROBLEMS, MaterialNotFound, MaterialNotAvailable),
    )
    async def read_material(
        self,
        request: Request,
        task_id: FromPath[UUID],
        code: Annotated[str, PathParameter(max_length=64)],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> TaskMaterialRead:
        dept = _department(principal, "clerk")
        async with db.acquire() as conn, conn.transaction():
            return await materials.read_certificate(
                conn,
                keyring,
                request.app.state.esign,
                task_id,
                code,
                department_id=dept,
                actor=principal.subject,
                now=now,
            )

    @get(
        "/{task_id:uuid}/materials/{code:str}/file",
        operation_id="ReadTaskMaterialFile",
        summary="Download the file handed in for one material of the task's matter; logged for the applicant",
        media_type="application/octet-stream",
        response_description="The file as uploaded, with the Content-Type it was uploaded with.",
        description=(
            "The upload (photo, scan, PDF) the applicant handed in for this material. The read appears in the "
            "applicant's access log with the department and `task_id`. Another matter's material (the bank card, for "
            "the hospital) → 404 `material_not_found`; not uploaded (yet) → 409 `material_not_available`."
        ),
        responses=problem_responses(*DEPT_PROBLEMS, MaterialNotFound, MaterialNotAvailable),
    )
    async def read_material_file(
        self,
        task_id: FromPath[UUID],
        code: Annotated[str, PathParameter(max_length=64)],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Response[bytes]:
        dept = _department(principal, "clerk")
        async with db.acquire() as conn, conn.transaction():
            row = await materials.read_file(
                conn, keyring, task_id, code, department_id=dept, actor=principal.subject, now=now
            )
        headers = {
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
        return Response(content=bytes(row["data"]), media_type=row["content_type"], headers=headers)

    @post(
        "/{task_id:uuid}/claim",
        operation_id="ClaimTask",
        status_code=200,
        summary="Take a pending task",
        responses=problem_responses(*DECIDE_PROBLEMS),
    )
    async def claim(
        self, task_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, keyring: Keys, now: Now
    ) -> Application:
        dept = _department(principal, "clerk")
        async with db.acquire() as conn, conn.transaction():
            cal = await catalogue_store.load_calendar(conn)
            return await handling.claim(
                conn, keyring, task_id, department_id=dept, actor=principal.subject, now=now, cal=cal
            )

    @post(
        "/{task_id:uuid}/approve",
        operation_id="ApproveTask",
        status_code=200,
        summary="Approve; issues the matter's result certificate into the wallet of the person applied for",
        description="`assigned_id_number` records the ID number public security assigns (出生登记), checked per GB 11643 "
        "and against the child: a number whose birth date or sex is not the child's → 422 "
        "`assigned_id_number_mismatch`; "
        "`assigned_credit_code` names the business a registration creates, which holds its result "
        "certificate (营业执照) — without it such a matter answers 422 `credit_code_required`.",
        responses=problem_responses(*DECIDE_PROBLEMS, IdNumberInvalid, AssignedIdNumberMismatch, CreditCodeRequired),
    )
    async def approve(
        self,
        task_id: FromPath[UUID],
        data: JSONBody[ApproveIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
        request: Request,
    ) -> Application:
        dept = _department(principal, "approver")
        async with db.acquire() as conn, conn.transaction():
            cal = await catalogue_store.load_calendar(conn)
            return await handling.approve(
                conn,
                keyring,
                task_id,
                data,
                department_id=dept,
                actor=principal.subject,
                now=now,
                cal=cal,
                issue_result=results.issuer(request.app.state),
            )

    @post(
        "/{task_id:uuid}/reject",
        operation_id="RejectTask",
        status_code=200,
        summary="Reject with the reasons and the list of what is needed (不打回票打清单)",
        description="No reasons → 422 `reasons_required`.",
        responses=problem_responses(*DECIDE_PROBLEMS, ReasonsRequired),
    )
    async def reject(
        self,
        task_id: FromPath[UUID],
        data: JSONBody[RejectIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Application:
        dept = _department(principal, "approver")
        async with db.acquire() as conn, conn.transaction():
            cal = await catalogue_store.load_calendar(conn)
            return await handling.reject(
                conn, keyring, task_id, data, department_id=dept, actor=principal.subject, now=now, cal=cal
            )

    @post(
        "/{task_id:uuid}/request-supplement",
        operation_id="RequestSupplement",
        status_code=200,
        summary="Ask the citizen for more (补正); the task's clock stops until they answer",
        responses=problem_responses(*DECIDE_PROBLEMS, MaterialInvalid),
    )
    async def request_supplement(
        self,
        task_id: FromPath[UUID],
        data: JSONBody[SupplementRequestIn],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
    ) -> Application:
        dept = _department(principal, "approver")
        async with db.acquire() as conn, conn.transaction():
            cal = await catalogue_store.load_calendar(conn)
            return await handling.request_supplement(
                conn, keyring, task_id, data, department_id=dept, actor=principal.subject, now=now, cal=cal
            )


class PrefillController(Controller):
    path = "/v1/bundles/{code:str}/prefill"
    tags = ["applications"]
    security = BEARER

    @get(
        operation_id="PrefillBundle",
        summary="What the platform fills in and hands in for you (免提交)",
        description="For the caller (L2+) or a dependent (`for_person_id`, guardians only): form fields prefilled from "
        "the person and their wallet, and for each material whether it comes `from_wallet`, `from_bundle` "
        "(an earlier matter produces it), `from_department` (shared by the department that holds it), or "
        "is `needed`.",
        responses=problem_responses(BundleNotFound, NotGuardian, AssuranceRequired, Unauthorized),
    )
    async def prefill(
        self,
        code: Annotated[str, PathParameter(max_length=64)],
        principal: CurrentPrincipal,
        db: Db,
        keyring: Keys,
        now: Now,
        for_person_id: Annotated[UUID | None, QueryParameter()] = None,
    ) -> Prefill:
        who = require_applicant(principal, now)
        async with db.acquire() as conn:
            return await workflow.prefill(conn, keyring, who, code, for_person_id, now=now)


def _department(principal: Principal, role: str) -> UUID:
    """The caller's department, for staff holding ``role`` or a department system with ``tasks:handle``.

    Reading and claiming (``clerk``) is open to any staff role of the department; deciding needs
    ``approver``.
    """
    if (
        role == "clerk"
        and principal.client_id is None
        and principal.department_id is not None
        and principal.roles & {"clerk", "approver", "issuer", "dept_admin"}
    ):
        return principal.department_id
    return principal.require_staff(role, scope="tasks:handle")


ROUTES = [ApplicationController, PrefillController, DeptTaskController]
