"""The kernel's own errors, raised below the composition root and known by it."""

from __future__ import annotations


class ConfigError(Exception):
    """The environment does not describe a usable configuration."""
