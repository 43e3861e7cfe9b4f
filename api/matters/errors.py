"""Problems raised by the catalogue and applications."""

from __future__ import annotations

from api.problems import NotFound


class MatterNotFound(NotFound):
    """事项不存在"""

    slug = "matter_not_found"


class BundleNotFound(NotFound):
    """一件事不存在"""

    slug = "bundle_not_found"
