"""The staff workbench at /workbench: served from the package without Node, as the citizen app is, and the
shipped build is exactly a fresh build of clients/workbench."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from tests.h5_app import ROOT, installed_app, run

WORKBENCH = ROOT / "clients" / "workbench"
SHIPPED = ROOT / "api" / "workbench_app"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_the_workbench_page_and_its_files(client: AsyncTestClient) -> None:
    r = await client.get("/workbench", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/workbench/"
    page = await client.get("/workbench/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="zh-CN">' in page.text and "政务服务工作台" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = next(p.name for p in (SHIPPED / "assets").iterdir() if p.suffix == ".js")
    assert f'src="/workbench/assets/{script}"' in page.text
    js = await client.get(f"/workbench/assets/{script}")
    assert js.status_code == 200 and js.headers["cache-control"] == "public, max-age=31536000, immutable"
    body = js.text
    # The screens the window and the back office work with.
    assert all(
        word in body
        for word in (
            "部门待办",
            "综合受理",
            "统一出件",
            "已超期",
            "不打回票打清单",
            "已核验领取人身份证",
            "差评整改工单",
            "代办授权编号",
        )
    )
    assert (await client.get("/workbench/nothing.js")).status_code == 404
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/workbench")]


def test_the_shipped_workbench_is_a_fresh_build_of_its_sources(tmp_path: Path) -> None:
    """api/workbench_app is what `make workbench` builds from clients/workbench with the packages of its lockfile."""
    app = installed_app(WORKBENCH)
    run(
        [
            str(app / "node_modules" / ".bin" / "vite"),
            "build",
            "--outDir",
            str(tmp_path / "out"),
            "--emptyOutDir",
            "--logLevel",
            "warn",
        ],
        cwd=app,
    )
    fresh, shipped = _tree(tmp_path / "out"), _tree(SHIPPED)
    assert sorted(fresh) == sorted(shipped), (
        "the shipped workbench is stale: run `make workbench`, commit api/workbench_app"
    )
    changed = [name for name in fresh if fresh[name] != shipped[name]]
    assert not changed, f"the shipped workbench differs from a fresh build in {changed}: run `make workbench`"
