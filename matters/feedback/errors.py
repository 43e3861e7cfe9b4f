"""Problems of ratings (好差评), rectifications and feedback (找茬)."""

from __future__ import annotations

from api.kernel.problems import Conflict, NotFound


class EvaluationExists(Conflict):
    """该申请已评价"""

    slug = "evaluation_exists"


class ApplicationNotFinished(Conflict):
    """申请办结后才能评价"""

    slug = "application_not_finished"


class RectificationNotFound(NotFound):
    """整改工单不存在"""

    slug = "rectification_not_found"


class FeedbackNotFound(NotFound):
    """反馈不存在"""

    slug = "feedback_not_found"


class AlreadyAnswered(Conflict):
    """已答复"""

    slug = "already_answered"
