"""好差评, rectification cases and 找茬 feedback on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

# 非常不满意 … 非常满意
LEVEL_NAMES = {1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意"}

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class EvaluationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    level: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    tags: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=30)]], msgspec.Meta(max_length=10)] = []


class Rectification(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    application_id: UUID
    department_id: UUID
    level: int
    status: Literal["open", "answered"]
    due_at: datetime
    overdue: bool
    answer: str | None
    answered_at: datetime | None


class Evaluation(msgspec.Struct, frozen=True, kw_only=True):
    application_id: UUID
    level: int
    level_name: str
    comment: str | None
    tags: list[str]
    at: datetime
    rectification: Rectification | None


class RectificationPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Rectification]
    next_cursor: str | None


class AnswerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Text


class FeedbackIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["complaint", "suggestion", "error_report"]
    text: Text
    application_id: UUID | None = None
    matter_code: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class Feedback(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    kind: Literal["complaint", "suggestion", "error_report"]
    text: str
    application_id: UUID | None
    matter_code: str | None
    # Where it was routed: the matter's department, or null for the operators.
    department_id: UUID | None
    status: Literal["open", "answered"]
    answer: str | None
    answered_at: datetime | None
    created_at: datetime


class FeedbackPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Feedback]
    next_cursor: str | None
