"""Dependencies are resolved by Litestar's own public machinery: nothing patches its private modules."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_module_reaches_into_litestar_private_modules() -> None:
    private = re.compile(r"\blitestar\._\w")
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("api", "auth", "esign", "notify")
        for path in (ROOT / package).rglob("*.py")
        if private.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
