"""The served OpenAPI document as the contract tests read it."""

from __future__ import annotations

from typing import Any

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def inline_responses(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with every operation's shared responses (``$ref`` into components) put in place."""
    shared = spec.get("components", {}).get("responses", {})
    for item in spec["paths"].values():
        for method, op in item.items():
            if method in METHODS:
                op["responses"] = {
                    s: shared[r["$ref"].rsplit("/", 1)[1]] if "$ref" in r else r for s, r in op["responses"].items()
                }
    return spec
