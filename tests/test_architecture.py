"""docs/architecture.md matches the code: its domains, rooms, kernel and root modules, and its arrows.

The import contracts themselves run in `make lint` (.ci/run); this keeps the picture from drifting.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import grimp

from api.app import DOMAINS

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
ROOMS = ("models", "service", "store", "flows", "routes", "errors", "wiring")
NAMES = [domain.name for domain in DOMAINS]


def _modules(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}


def _listed(label: str) -> set[str]:
    paragraph = DOC.split(f"\n{label} (", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"`(\w+)`", paragraph.split(":", 1)[1]))


def test_the_domains_are_the_app_s_the_contracts_and_the_page_s() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert sorted(config["tool"]["importlinter"]["root_packages"]) == sorted(["api", *NAMES])
    assert set(NAMES) <= set(config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    drawn = set(re.findall(r"^ {8}(\w+)$", DOC, re.M))
    assert drawn == set(NAMES)


def test_each_domain_has_the_rooms_the_page_says() -> None:
    rows = re.findall(r"^\| `([\w.]+)` \| [^|]+ \| ([\w ·]+) \|$", DOC, re.M)
    assert {name for name, _ in rows if "." not in name} == set(NAMES)
    for name, rooms in rows:
        folder = ROOT / name.replace(".", "/")
        present = [room for room in ROOMS if (folder / f"{room}.py").exists() or (folder / room).is_dir()]
        assert rooms.split(" · ") == present, name
    for domain in NAMES:  # every sub-package with rooms of its own is in the table
        for sub in (ROOT / domain).iterdir():
            if (sub / "__init__.py").exists() and sub.name not in ROOMS and sub.name != "codec":
                assert f"{domain}.{sub.name}" in dict(rows), f"{domain}.{sub.name} is missing from the rooms table"


def test_the_kernel_and_the_root_are_the_modules_the_page_lists() -> None:
    assert _listed("Kernel") == _modules(ROOT / "api" / "kernel")
    assert _listed("Root") == _modules(ROOT / "api")


def test_the_arrows_between_domains_are_the_imports_between_them() -> None:
    graph = grimp.build_graph("api", *NAMES, exclude_type_checking_imports=True)
    imports = set()
    for module in graph.modules:
        source = module.split(".")[0]
        for imported in graph.find_modules_directly_imported_by(module):
            target = imported.split(".")[0]
            if source in NAMES and target in NAMES and source != target:
                imports.add((source, target))
    arrows = set(re.findall(r"^ {4}(\w+) --> (\w+)$", DOC, re.M)) - {("domains", "kernel"), ("root", "kernel")}
    arrows = {(a, b) for a, b in arrows if b != "codec"}
    assert arrows == imports
