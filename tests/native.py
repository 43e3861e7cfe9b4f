"""The C forms that hatch_build.py compiles, beside the Python forms they stand in for, for tests."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest


def built(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def forms(python_form: Callable[..., Any], module: str, name: str) -> list[Any]:
    """Test parameters: the Python form, and the C form where it was built."""
    c = built(module)
    return [
        pytest.param(python_form, id="python"),
        pytest.param(
            getattr(c, name) if c else None,
            id="c",
            marks=pytest.mark.skipif(c is None, reason="built without a C compiler"),
        ),
    ]
