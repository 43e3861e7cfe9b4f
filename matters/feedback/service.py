"""Rating rules (好差评), pure: which applications may be rated, which ratings open a rectification
(差评整改) and when its answer is due."""

from __future__ import annotations

from datetime import datetime

from matters.feedback.errors import ApplicationNotFinished
from matters.workdays import Calendar, due_at

# Ratings at or below this open a rectification case (差评整改).
BAD_LEVEL = 2
# An application is rated once it is finished: completed, or refused.
FINISHED = ("completed", "rejected")


def check_rateable(status: str) -> None:
    """An application in ``status`` may be rated: 409 while it is still being handled."""
    if status not in FINISHED:
        raise ApplicationNotFinished(status=status)


def opens_rectification(level: int) -> bool:
    """A rating this bad asks the department to answer it."""
    return level <= BAD_LEVEL


def rectification_due(cal: Calendar, now: datetime, days: int) -> datetime:
    """When a rectification opened ``now`` must be answered: ``days`` working days on."""
    return due_at(cal, now, days)
