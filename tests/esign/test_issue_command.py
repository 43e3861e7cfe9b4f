"""``zhangban issue FILE.csv`` against a live ``zhangban serve``, as a department's clerk runs it: a
spreadsheet exported by Excel (GB 18030) or saved as UTF-8 with a BOM, a progress bar, a summary and
the failed rows written beside the file."""

from __future__ import annotations

import asyncio
import csv
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.config import Settings
from api.kernel.crypto import mask_name
from tests.auth.helpers import auth
from tests.faults.procs import Proc, environment
from tests.people import department_id, id_number, staff

ROOT = Path(__file__).resolve().parents[2]
HEADER = "type_code,holder_id_number,holder_name,external_ref,household_head,relation,address,registered_on"


def row(i: int, *, number: str | None = None, ref: str | None = None, name: str = "张三丰") -> str:
    return (
        f"household_register,{number or id_number('19880808', i)},{name},{'表格-' + str(i) if ref is None else ref},"
        f"{name},户主,株洲市天元区泰山路{i}号,2020-01-02"
    )


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Proc]:
    """``zhangban serve`` on the test's database, running its jobs (the batch job among them)."""
    proc = Proc("serve", environment(settings))
    proc.start()
    try:
        await proc.healthy()
        yield proc
    finally:
        proc.stop()
        proc.log.unlink(missing_ok=True)


async def _issue(settings: Settings, server: Proc, file: Path, **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "issue",
        str(file),
        "--server",
        server.url,
        cwd=ROOT,
        env=environment(settings) | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_department_issues_from_a_spreadsheet(
    client: AsyncTestClient,
    op: str,
    conn: asyncpg.Connection,
    settings: Settings,
    server: Proc,
    tmp_path: Path,
) -> None:
    admin = await staff(client, op, conn, "gongan", ["dept_admin"])
    assert (
        await client.post("/v1/dept/seals", json={"name": "电子证照专用章"}, headers=auth(admin))
    ).status_code == 201
    police = await department_id(conn, "gongan")
    made = await client.post(
        f"/v1/admin/departments/{police}/clients",
        headers=auth(op),
        json={"name": "户籍表格导入", "scopes": ["certificates:issue"]},
    )
    assert made.status_code == 201, made.text
    signed_in = {"ZB_CLIENT_ID": made.json()["client_id"], "ZB_CLIENT_SECRET": made.json()["client_secret"]}

    # As Excel in China saves "CSV": GB 18030, CRLF, an empty row at the end.
    rows = [row(1), row(2), row(3, number="36042619910102009X"), row(4, ref=""), row(5, name="欧阳𠀾")]
    sheet = tmp_path / "户籍名单.csv"
    sheet.write_bytes("\r\n".join([HEADER, *rows, ",,,,,,,", ""]).encode("gb18030"))
    code, out, err = await _issue(settings, server, sheet, **signed_in)
    assert code == 1, out + err
    assert "5 rows: 3 issued, 0 issued before, 2 failed (1 not sent: row_invalid)" in out, out + err
    assert "issuing" in err and "3/4" not in out  # the progress bar goes to stderr
    failures = tmp_path / "户籍名单.failures.csv"
    assert failures.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel opens it as UTF-8
    with failures.open(encoding="utf-8-sig", newline="") as f:
        failed = list(csv.DictReader(f))
    assert [(x["line"], x["external_ref"], x["problem"]) for x in failed] == [
        ("4", "表格-3", "id_number_invalid"),
        ("5", "", "row_invalid"),
    ]
    assert "holder.id_number" in failed[0]["errors"] and "external_ref" in failed[1]["detail"]
    issued = await conn.fetch(
        "SELECT external_ref, holder_name_masked FROM esign_certificate "
        "WHERE external_ref LIKE '表格-%' ORDER BY external_ref"
    )
    # The names were read in the file's own encoding (a character beyond the BMP included).
    assert [(x["external_ref"], x["holder_name_masked"]) for x in issued] == [
        ("表格-1", mask_name("张三丰")),
        ("表格-2", mask_name("张三丰")),
        ("表格-5", mask_name("欧阳𠀾")),
    ]

    # The same rows saved again as UTF-8 with a BOM and run again: nothing is issued twice.
    again = tmp_path / "again.csv"
    again.write_bytes(b"\xef\xbb\xbf" + "\n".join([HEADER, row(1), row(2), row(5, name="欧阳𠀾")]).encode())
    code, out, err = await _issue(settings, server, again, **signed_in)
    assert code == 0, out + err
    assert "3 rows: 0 issued, 3 issued before, 0 failed" in out
    assert not (tmp_path / "again.failures.csv").exists()
    # The first file once more (as after fixing what made rows fail): a new batch, not the old answer.
    code, out, err = await _issue(settings, server, sheet, **signed_in)
    assert code == 1 and "5 rows: 0 issued, 3 issued before, 2 failed" in out, out + err
    assert await conn.fetchval("SELECT count(*) FROM esign_certificate WHERE external_ref LIKE '表格-%'") == 3


async def test_without_a_department_sign_in_nothing_is_sent(settings: Settings, server: Proc, tmp_path: Path) -> None:
    sheet = tmp_path / "名单.csv"
    sheet.write_text("\n".join([HEADER, row(1)]), encoding="utf-8")
    code, _, err = await _issue(settings, server, sheet)
    assert code == 2 and "ZB_CLIENT_SECRET" in err
    code, _, err = await _issue(settings, server, sheet, ZB_CLIENT_ID="nobody", ZB_CLIENT_SECRET="wrong")
    assert code == 2 and "401" in err
