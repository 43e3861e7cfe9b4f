"""Problems of the service-centre window (综合受理, 统一窗口出件)."""

from __future__ import annotations

from api.kernel.problems import Conflict, Forbidden, NotFound


class IntakeNotFound(NotFound):
    """窗口受理记录不存在"""

    slug = "intake_not_found"


class WindowOtherCentre(Forbidden):
    """该办件由其他服务中心受理"""

    slug = "window_other_centre"


class WindowConsentRequired(Forbidden):
    """群众尚未在窗口授权调取其电子证照"""

    slug = "window_consent_required"


class IntakeSubmitted(Conflict):
    """本次受理已提交申请"""

    slug = "intake_already_submitted"


class NotReadyForPickup(Conflict):
    """办理结果尚未全部办结，不能出件"""

    slug = "not_ready_for_pickup"


class AlreadyHandedOver(Conflict):
    """办理结果已交付"""

    slug = "already_handed_over"


class RecipientMismatch(Forbidden):
    """领取人不是申请人本人或其代办人"""

    slug = "recipient_mismatch"
