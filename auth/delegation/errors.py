"""Problems of 代办 authorisations (delegations)."""

from __future__ import annotations

from api.kernel.problems import Forbidden, NotFound, ValidationFailed


class DelegationNotFound(NotFound):
    """代办授权不存在"""

    slug = "delegation_not_found"


class DelegationInvalid(ValidationFailed):
    """代办授权内容不符合要求"""

    slug = "delegation_invalid"


class DelegationInactive(Forbidden):
    """代办授权已过期或已撤销"""

    slug = "delegation_inactive"


class DelegationOutOfScope(Forbidden):
    """代办授权不包含该事项或该操作"""

    slug = "delegation_out_of_scope"


class DelegationAgentMismatch(Forbidden):
    """代办人身份与授权不符"""

    slug = "delegation_agent_mismatch"
