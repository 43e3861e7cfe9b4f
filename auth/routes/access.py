"""Ending a department's access: revoking its systems' credentials, replacing their secrets, removing staff.

The operator or the department's own ``dept_admin`` may do each (another department's admin gets
404, as for creating them). Each act is audited with the client address, and takes effect at once:
a revoked client's access tokens and a removed member's logins are refused by every server process
within two seconds (``auth/revocation.py``).
"""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Request, delete, post
from litestar.datastructures import State
from litestar.params import FromPath

from api.deps import Db, Now
from api.kernel import audit
from api.kernel.client_address import client_address
from api.kernel.problems import BadRequest
from auth.errors import ClientNotFound, ClientRevoked, DepartmentNotFound, problem_responses
from auth.guards import BEARER, CurrentPrincipal
from auth.routes.admin import ADMIN_401_403, ClientCreated, _managed_department
from auth.store import admin as admin_store
from auth.tokens import new_secret


class DepartmentAccessController(Controller):
    path = "/v1/admin/departments/{department_id:uuid}"
    tags = ["admin"]
    security = BEARER

    @post(
        "/clients/{client_id:uuid}/revoke",
        operation_id="RevokeDepartmentClient",
        status_code=200,
        summary="Revoke a department system's credentials; its access tokens stop working at once",
        description="For good: a revoked client gets no more tokens (`invalid_client`) and the tokens it holds are "
        "refused within two seconds. Revoking a revoked client changes nothing and answers the same.",
        responses=problem_responses(*ADMIN_401_403, DepartmentNotFound, ClientNotFound),
    )
    async def revoke_client(
        self,
        department_id: FromPath[UUID],
        client_id: FromPath[UUID],
        request: Request,
        principal: CurrentPrincipal,
        state: State,
        db: Db,
        now: Now,
    ) -> admin_store.ClientView:
        async with db.acquire() as conn, conn.transaction():
            await _managed_department(conn, principal, department_id)
            client = await admin_store.lock_client(conn, department_id, client_id)
            revoked = await admin_store.revoke_client(conn, client_id, now=now)
            if revoked is not None:
                client = revoked
                await audit.append(
                    conn,
                    actor=principal.subject,
                    action="admin.client_revoked",
                    subject=str(client_id),
                    data={"department": str(department_id)},
                    client_address=client_address(request),
                    at=now,
                )
        state.revoked_logins.stale()
        return client

    @post(
        "/clients/{client_id:uuid}/rotate-secret",
        operation_id="RotateClientSecret",
        status_code=200,
        summary="Replace a department system's secret; the old one stops working at once",
        description="The new `client_secret` is shown only in this response. Access tokens already obtained stay "
        "valid until they expire (at most 15 minutes); to end them too, revoke the client.",
        responses=problem_responses(*ADMIN_401_403, DepartmentNotFound, ClientNotFound, ClientRevoked),
    )
    async def rotate_secret(
        self,
        department_id: FromPath[UUID],
        client_id: FromPath[UUID],
        request: Request,
        principal: CurrentPrincipal,
        db: Db,
        now: Now,
    ) -> ClientCreated:
        secret, digest = new_secret("zbs_")
        async with db.acquire() as conn, conn.transaction():
            await _managed_department(conn, principal, department_id)
            client = await admin_store.lock_client(conn, department_id, client_id)
            if client.revoked_at is not None:
                raise ClientRevoked()
            client = await admin_store.rotate_client_secret(conn, client_id, digest, now=now)
            await audit.append(
                conn,
                actor=principal.subject,
                action="admin.client_secret_rotated",
                subject=str(client_id),
                data={"department": str(department_id)},
                client_address=client_address(request),
                at=now,
            )
        return ClientCreated(
            client_id=client_id,
            client_secret=secret,
            department_id=department_id,
            name=client.name,
            scopes=client.scopes,
        )

    @delete(
        "/staff/{account_id:uuid}",
        operation_id="RemoveStaff",
        status_code=204,
        summary="Remove a member of staff from the department; their logins end",
        description="The account keeps existing as a citizen's, but every login it holds ends (its access tokens "
        "carry the staff roles), so the person logs in again without them. Removing an account that is not "
        "staff of this department changes nothing and answers the same.",
        responses=problem_responses(BadRequest, *ADMIN_401_403, DepartmentNotFound),
    )
    async def remove_staff(
        self,
        department_id: FromPath[UUID],
        account_id: FromPath[UUID],
        request: Request,
        principal: CurrentPrincipal,
        state: State,
        db: Db,
        now: Now,
    ) -> None:
        async with db.acquire() as conn, conn.transaction():
            await _managed_department(conn, principal, department_id)
            removed = await admin_store.remove_staff(conn, department_id, account_id, now=now)
            if removed is not None:
                roles, ended = removed
                await audit.append(
                    conn,
                    actor=principal.subject,
                    action="admin.staff_removed",
                    subject=str(account_id),
                    data={"department": str(department_id), "roles": roles, "logins_ended": ended},
                    client_address=client_address(request),
                    at=now,
                )
        state.revoked_logins.stale()


ROUTES = [DepartmentAccessController]
