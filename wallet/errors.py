"""Problems the wallet answers with; the docstring is the title, ``slug`` the stable ``type``."""

from __future__ import annotations

from api.kernel.problems import Conflict, Forbidden, NotFound, ValidationFailed


class IdentityRequired(Forbidden):
    """需要先完成实人认证"""

    slug = "identity_required"


class WalletNotFound(NotFound):
    """证照夹不存在或无权查看"""

    slug = "wallet_not_found"


class ItemNotFound(NotFound):
    """证照夹条目不存在"""

    slug = "wallet_item_not_found"


class WalletClosed(Conflict):
    """该证照夹已关闭（持有人已身故），不再接受新的写入"""

    slug = "wallet_closed"


class NotPresentable(Conflict):
    """该证照当前不能亮证"""

    slug = "certificate_not_presentable"


class PresentationFieldsInvalid(ValidationFailed):
    """亮证字段不属于该证照"""

    slug = "presentation_fields_invalid"


class ConsentInvalid(ValidationFailed):
    """授权内容不符合要求"""

    slug = "consent_invalid"


class ConsentNotFound(NotFound):
    """授权不存在"""

    slug = "consent_not_found"


class ConsentNotActive(Forbidden):
    """授权已过期、已撤销或次数已用完"""

    slug = "consent_not_active"


class HolderUnknown(ValidationFailed):
    """找不到该持有人，请同时提供姓名"""

    slug = "holder_unknown"


class RecordInvalid(ValidationFailed):
    """记录内容不符合要求"""

    slug = "record_invalid"


class ExternalRefConflict(Conflict):
    """该业务编号已用于另一条记录"""

    slug = "external_ref_conflict"


class LifeEventExists(Conflict):
    """该人员已有此项人生事件"""

    slug = "life_event_exists"


class GuardianshipInvalid(ValidationFailed):
    """监护关系不符合要求"""

    slug = "guardianship_invalid"
