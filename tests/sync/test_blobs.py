"""Blobs: content-addressed uploads, stored once, readable by the uploader (departments read them through their tasks)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.auth.helpers import assert_problem, auth
from tests.people import citizen, id_number, staff
from tests.sync.helpers import MATTER, mutation, pushed
from tests.sync.test_applications import application
from tests.sync.test_consents import record

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + b"0" * 2000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def put(
    client: AsyncTestClient, token: str, data: bytes, content_type: str = "image/png", *, path: str | None = None
) -> Any:
    return await client.put(
        f"/v1/blobs/{path or sha(data)}", content=data, headers=auth(token) | {"content-type": content_type}
    )


async def test_upload_once_read_back(client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection) -> None:
    token = mother["access_token"]
    r = await put(client, token, PNG)
    assert r.status_code == 201, r.text
    assert r.json() | {"created_at": None} == {
        "sha256": sha(PNG),
        "content_type": "image/png",
        "size": len(PNG),
        "created_at": None,
    }
    assert (await put(client, token, PNG)).status_code == 200
    got = await client.get(f"/v1/blobs/{sha(PNG)}", headers=auth(token))
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png" and got.headers["etag"] == f'"{sha(PNG)}"'
    assert got.headers["x-content-type-options"] == "nosniff"
    cached = await client.get(f"/v1/blobs/{sha(PNG)}", headers=auth(token) | {"If-None-Match": got.headers["etag"]})
    assert cached.status_code == 304
    assert await conn.fetchval("SELECT count(*) FROM sync_blob") == 1


async def test_bad_uploads_are_problems(client: AsyncTestClient, mother: dict[str, Any]) -> None:
    token = mother["access_token"]
    assert assert_problem(await put(client, token, PNG, path="0" * 64), 422, "blob_hash_mismatch")[
        "actual_sha256"
    ] == sha(PNG)
    assert_problem(await put(client, token, PNG, "image/jpeg"), 422, "blob_type_mismatch")
    assert_problem(await put(client, token, b"<svg/>", "image/svg+xml"), 415, "blob_type_unsupported")
    assert_problem(await put(client, token, PNG, "text/plain"), 415, "blob_type_unsupported")
    assert_problem(await put(client, token, b"", path=sha(b"")), 422, "blob_empty")
    assert_problem(await put(client, token, PNG, path="ABC"), 422, "validation_failed")
    big = b"%PDF-" + b"\x00" * (10 * 1024 * 1024)
    assert_problem(await put(client, token, big, "application/pdf"), 413, "blob_too_large")
    exactly = b"%PDF-" + b"\x00" * (10 * 1024 * 1024 - 5)
    assert (await put(client, token, exactly, "application/pdf")).status_code == 201
    assert_problem(
        await client.put(f"/v1/blobs/{sha(PNG)}", content=PNG, headers={"content-type": "image/png"}),
        401,
        "unauthorized",
    )


async def test_only_the_uploader_may_read_and_the_handling_department_reads_through_its_task(
    client: AsyncTestClient, mother: dict[str, Any], clerk: str, op: str, conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    stranger = (await citizen(client, clerk, name="赵六", id_number=id_number("19800101", 3)))["access_token"]
    yibao = await staff(client, op, conn, "yibao", ["clerk"])
    gongan = await staff(client, op, conn, "gongan", ["clerk"])

    # Offline, the application names the scan by its hash before it is uploaded.
    app_id = str(uuid.uuid4())
    args = application(app_id)
    args["materials"][0]["blob_sha256"] = sha(PDF)
    out = await pushed(client, token, str(uuid.uuid4()), [mutation(1, "application.submit", args)])
    assert out["results"][0]["status"] == "applied"
    assert_problem(await client.get(f"/v1/blobs/{sha(PDF)}", headers=auth(yibao)), 404, "blob_not_found")
    assert (await put(client, token, PDF, "application/pdf")).status_code == 201  # back online

    assert (await client.get(f"/v1/blobs/{sha(PDF)}", headers=auth(token))).content == PDF
    # The handling department reads it through its task, where the read is logged for the applicant.
    for other in (stranger, gongan, yibao):
        assert_problem(await client.get(f"/v1/blobs/{sha(PDF)}", headers=auth(other)), 404, "blob_not_found")
    task = (await client.get(f"/v1/applications/{app_id}", headers=auth(token))).json()["tasks"][0]["id"]
    code = args["materials"][0]["code"]
    got = await client.get(f"/v1/dept/tasks/{task}/materials/{code}/file", headers=auth(yibao))
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert_problem(
        await client.get(f"/v1/dept/tasks/{task}/materials/{code}/file", headers=auth(gongan)), 404, "task_not_found"
    )
    # Uploading the same bytes makes another person an uploader too: they sent them, they may read them.
    assert (await put(client, stranger, PDF, "application/pdf")).status_code == 200
    assert (await client.get(f"/v1/blobs/{sha(PDF)}", headers=auth(stranger))).status_code == 200
    assert_problem(await client.get(f"/v1/blobs/{'0' * 64}", headers=auth(token)), 404, "blob_not_found")


async def test_a_consent_to_an_application_lets_its_grantee_read_the_files_once_per_use(
    client: AsyncTestClient, mother: dict[str, Any], op: str, conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    minzheng = await staff(client, op, conn, "minzheng", ["clerk"])
    app_id = str(uuid.uuid4())
    args = application(app_id)
    args["materials"][0]["blob_sha256"] = sha(PDF)
    await pushed(client, token, str(uuid.uuid4()), [mutation(1, "application.submit", args)])
    assert (await put(client, token, PDF, "application/pdf")).status_code == 201
    # The wallet keeps the application as an item of its own; a pension record is another item.
    person = await conn.fetchval("SELECT applicant_person_id FROM application WHERE id = $1", uuid.UUID(app_id))
    app_item = uuid.uuid4()
    await conn.execute(
        """INSERT INTO wallet_item (id, person_id, kind, title, at, summary, application_id, data, created_at, updated_at)
           VALUES ($1, $3, 'application', '生育津贴申领', now(), $4, $2, '{}', now(), now())""",
        app_item,
        uuid.UUID(app_id),
        person,
        {
            "status": "submitted",
            "matter_code": MATTER,
            "applicant_person_id": str(person),
            "for_person_id": str(person),
        },
    )
    record_item = uuid.UUID(await record(client, op, conn))

    async def grant(item: uuid.UUID) -> str:
        out = await pushed(
            client,
            token,
            str(uuid.uuid4()),
            [
                mutation(
                    1,
                    "consent.grant",
                    {
                        "grantee_department_id": str(
                            await conn.fetchval("SELECT id FROM department WHERE key = 'minzheng'")
                        ),
                        "item_ids": [str(item)],
                        "purpose": "低保审核",
                        "max_uses": 1,
                        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                    },
                )
            ],
        )
        assert out["results"][0]["status"] == "applied", out
        return out["results"][0]["data"]["id"]

    def read(consent: str | None, who: str = minzheng) -> Any:
        return client.get(f"/v1/blobs/{sha(PDF)}", params={"consent_id": consent} if consent else {}, headers=auth(who))

    assert_problem(await read(None), 404, "blob_not_found")  # no task, no consent
    on_record = await grant(record_item)
    assert_problem(await read(on_record), 404, "blob_not_found")  # the record names no file …
    assert (
        await conn.fetchval("SELECT uses FROM wallet_consent WHERE id = $1", uuid.UUID(on_record)) == 0
    )  # … no use spent
    on_app = await grant(app_item)
    served = await read(on_app)
    assert served.status_code == 200 and served.content == PDF
    refused = await read(on_app)
    assert assert_problem(refused, 403, "consent_not_active")["reason"] == "used_up"
    outcomes = await conn.fetch(
        "SELECT outcome FROM wallet_access_log WHERE consent_id = $1 ORDER BY id", uuid.UUID(on_app)
    )
    assert [r["outcome"] for r in outcomes] == ["served", "refused"]
    assert_problem(await read(on_app, token), 403, "forbidden")  # a citizen holds no consent


# --- the same blobs sent as a form, as wx.uploadFile sends them -------------------------------------------

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


async def form(
    client: AsyncTestClient,
    token: str | None,
    data: bytes,
    content_type: str | None = "image/png",
    *,
    field: str = "file",
    extra: dict[str, str] | None = None,
) -> Any:
    part = ("photo.bin", data) if content_type is None else ("photo.bin", data, content_type)
    return await client.post("/v1/blobs", files={field: part}, data=extra or {}, headers=auth(token) if token else {})


async def test_a_form_upload_is_hashed_by_the_server_and_read_back(
    client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    r = await form(client, token, JPEG, "image/jpeg", extra={"name": "ignored", "sha256": sha(JPEG)})
    assert r.status_code == 201, r.text
    assert r.json() | {"created_at": None} == {
        "sha256": sha(JPEG),
        "content_type": "image/jpeg",
        "size": len(JPEG),
        "created_at": None,
    }
    got = await client.get(f"/v1/blobs/{sha(JPEG)}", headers=auth(token))
    assert got.status_code == 200 and got.content == JPEG and got.headers["content-type"] == "image/jpeg"
    # The same bytes again, by form or by PUT: already stored, one row.
    assert (await form(client, token, JPEG, "image/jpeg")).status_code == 200
    assert (await put(client, token, JPEG, "image/jpeg")).status_code == 200
    assert await conn.fetchval("SELECT count(*) FROM sync_blob") == 1
    # A blob PUT stored is the same blob to the form route.
    assert (await put(client, token, PDF, "application/pdf")).status_code == 201
    assert (await form(client, token, PDF, "application/pdf")).json()["sha256"] == sha(PDF)
    # wx.uploadFile may label any file application/octet-stream, or send no type: the bytes say what it is.
    r = await form(client, token, PNG, "application/octet-stream")
    assert r.status_code == 201 and r.json()["content_type"] == "image/png"
    assert (await form(client, token, PNG, None)).json()["content_type"] == "image/png"


async def test_bad_form_uploads_are_the_puts_problems(
    client: AsyncTestClient, mother: dict[str, Any], conn: asyncpg.Connection
) -> None:
    token = mother["access_token"]
    big = b"%PDF-" + b"\x00" * (10 * 1024 * 1024)
    assert_problem(await form(client, token, big, "application/pdf"), 413, "blob_too_large")
    exactly = b"%PDF-" + b"\x00" * (10 * 1024 * 1024 - 5)
    assert (await form(client, token, exactly, "application/pdf")).status_code == 201
    assert_problem(await form(client, token, b"<svg/>", "image/svg+xml"), 415, "blob_type_unsupported")
    assert_problem(await form(client, token, b"hello", "application/octet-stream"), 415, "blob_type_unsupported")
    assert_problem(await form(client, token, PNG, "image/jpeg"), 422, "blob_type_mismatch")
    assert_problem(await form(client, token, b"", "image/png"), 422, "blob_empty")
    mismatch = assert_problem(await form(client, token, PNG, extra={"sha256": "0" * 64}), 422, "blob_hash_mismatch")
    assert mismatch["actual_sha256"] == sha(PNG)
    assert_problem(await form(client, token, PNG, field="photo"), 422, "validation_failed")
    not_a_form = await client.post("/v1/blobs", content=PNG, headers=auth(token) | {"content-type": "image/png"})
    assert_problem(not_a_form, 400, "malformed_request")
    cut = await client.post(
        "/v1/blobs",
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\n\x89PNG',
        headers=auth(token) | {"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert_problem(cut, 400, "malformed_request")
    assert_problem(await form(client, None, PNG), 401, "unauthorized")
    assert await conn.fetchval("SELECT count(*) FROM sync_blob") == 1  # only the 10 MiB PDF
