"""``/v1/devices``: a holder's devices, whose keys make ``ZB2:`` presentations offline; and an operator's
revocation of a device on a reported loss (``/v1/admin/devices/{id}/revoke``)."""

from __future__ import annotations

from uuid import UUID

from litestar import delete, get, post
from litestar.params import FromPath, JSONBody

from api.deps import Db, Now
from api.kernel.problems import ValidationFailed
from auth import BEARER, AssuranceRequired, CurrentPrincipal, Principal, problem_responses
from esign import devices
from esign.devices import Device, DeviceIn, DeviceList, RevokeDeviceIn
from esign.errors import DeviceKeyInvalid, DeviceKeyRegistered, DeviceNotFound
from esign.http import AUTHZ, Esign
from wallet import IdentityRequired

RECENT_L3_SECONDS = 300


def _person(principal: Principal) -> tuple[UUID, UUID]:
    account = principal.require_account()
    if principal.person_id is None or principal.org_id is not None:
        raise IdentityRequired("devices belong to a person: complete 实人认证 first")
    return principal.person_id, account


@post(
    "/v1/devices",
    operation_id="RegisterDevice",
    tags=["devices"],
    security=BEARER,
    status_code=201,
    summary="Register this device's key for presentations made offline (ZB2:)",
    description=(
        "L3 proven within 300 s (403 `assurance_required` with `required_level` and `max_age_seconds` otherwise). "
        "The device's P-256 public key (`public_key`, base64url of its SEC 1 point) is bound to the caller's person; "
        "the device then gets, by sync (entity `device_credential`), one presentation credential per valid "
        "certificate of the person, refreshed before it expires. A key registered before → 409 "
        "`device_key_registered`; not a P-256 point, or ten active devices already → 422 `device_key_invalid`."
    ),
    responses=problem_responses(
        *AUTHZ, IdentityRequired, AssuranceRequired, ValidationFailed, DeviceKeyInvalid, DeviceKeyRegistered
    ),
)
async def register_device(
    data: JSONBody[DeviceIn], principal: CurrentPrincipal, db: Db, now: Now, esign: Esign
) -> Device:
    person_id, account_id = _person(principal)
    principal.require_assurance("L3", now=now, max_age_seconds=RECENT_L3_SECONDS)
    async with db.acquire() as conn, conn.transaction():
        return await devices.register(
            conn, esign, person_id=person_id, account_id=account_id, body=data, actor=principal.subject, now=now
        )


@get(
    "/v1/devices",
    operation_id="ListDevices",
    tags=["devices"],
    security=BEARER,
    summary="The caller's devices, revoked ones included",
    responses=problem_responses(*AUTHZ, IdentityRequired),
)
async def list_devices(principal: CurrentPrincipal, db: Db, esign: Esign) -> DeviceList:
    person_id, _ = _person(principal)
    async with db.acquire() as conn:
        return DeviceList(items=await devices.list_devices(conn, esign, person_id))


@delete(
    "/v1/devices/{device_id:uuid}",
    operation_id="RevokeDevice",
    tags=["devices"],
    security=BEARER,
    status_code=200,
    summary="Revoke one of the caller's devices (a lost or replaced phone)",
    description=(
        "Its credentials are revoked in the status lists (a copy of one fails `revoked` once a verifier's lists "
        "refresh) and deleted from the person's devices by sync. Answers the revoked device; revoking it again "
        "changes nothing. Another person's device → 404 `device_not_found`."
    ),
    responses=problem_responses(*AUTHZ, IdentityRequired, DeviceNotFound),
)
async def revoke_device(
    device_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, now: Now, esign: Esign
) -> Device:
    person_id, _ = _person(principal)
    async with db.acquire() as conn, conn.transaction():
        return await devices.revoke(
            conn, esign, device_id, by="holder", actor=principal.subject, reason=None, now=now, person_id=person_id
        )


@get(
    "/v1/admin/persons/{person_id:uuid}/devices",
    operation_id="ListPersonDevices",
    tags=["admin"],
    security=BEARER,
    summary="A person's devices (operator), to revoke one on a reported loss",
    responses=problem_responses(*AUTHZ),
)
async def list_person_devices(
    person_id: FromPath[UUID], principal: CurrentPrincipal, db: Db, esign: Esign
) -> DeviceList:
    principal.require_roles("operator")
    async with db.acquire() as conn:
        return DeviceList(items=await devices.list_devices(conn, esign, person_id))


@post(
    "/v1/admin/devices/{device_id:uuid}/revoke",
    operation_id="RevokeDeviceByOperator",
    tags=["admin"],
    security=BEARER,
    status_code=200,
    summary="Revoke a device on a reported loss (operator, audited)",
    description="As the holder's revocation, with the `reason` recorded in the audit log.",
    responses=problem_responses(*AUTHZ, ValidationFailed, DeviceNotFound),
)
async def revoke_device_by_operator(
    device_id: FromPath[UUID],
    data: JSONBody[RevokeDeviceIn],
    principal: CurrentPrincipal,
    db: Db,
    now: Now,
    esign: Esign,
) -> Device:
    principal.require_roles("operator")
    async with db.acquire() as conn, conn.transaction():
        return await devices.revoke(
            conn, esign, device_id, by="operator", actor=principal.subject, reason=data.reason, now=now
        )


ROUTES = [register_device, list_devices, revoke_device, list_person_devices, revoke_device_by_operator]
