"""A domain's public surface, loaded on first use.

A domain's ``__init__`` names what other domains may use and where it lives; nothing is imported
until it is used, so that domains that use each other (esign issues into the wallet, the wallet
shows certificates) can be imported in any order, as their modules could before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def surface(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``names`` maps each public name to its module."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # found once, then an ordinary attribute
        return value

    return __getattr__
