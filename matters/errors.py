"""Problems raised by the catalogue and applications."""

from __future__ import annotations

from api.kernel.problems import NotFound, ValidationFailed


class MatterNotFound(NotFound):
    """事项不存在"""

    slug = "matter_not_found"


class BundleNotFound(NotFound):
    """一件事不存在"""

    slug = "bundle_not_found"


class MatterInvalid(ValidationFailed):
    """事项定义不符合要求"""

    slug = "matter_invalid"


class BundleInvalid(ValidationFailed):
    """一件事定义不符合要求"""

    slug = "bundle_invalid"


class AuthorityInvalid(ValidationFailed):
    """部门职权定义不符合要求"""

    slug = "authority_invalid"
