"""Rendering: catalogue templates filled with event values, and WeChat's limits on field values.

WeChat refuses a whole subscribe message (47003) when one value breaks its parameter type's rule,
so every value is coerced to fit before sending: ``thing`` at most 20 characters, ``phrase`` at
most 5 Chinese characters, ``time`` only digits and date punctuation, and never a control
character, zero-width or bidirectional mark (they pass through forms and would break the card).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

# China has one time zone and no daylight saving: a fixed offset is exact.
CHINA = timezone(timedelta(hours=8), "CST")

_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_SPACES = re.compile(r"\s+")
_KEY = re.compile(r"([a-z_]+?)\d+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_DATETIME_CHARS = re.compile(r"[^0-9年月日时分秒:：/\-~ .]")


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


_FIELDS: dict[str, tuple[str, ...] | None] = {}
_RENDERED: dict[tuple[Any, ...], str] = {}


def render(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with ``{name}`` filled from ``values``; unknown names render empty.

    A bulk send renders the same few texts thousands of times: a text is kept by its template and
    the values it shows, and made once.
    """
    if template not in _FIELDS:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        _FIELDS[template] = tuple(sorted(fields)) if all(f.isidentifier() for f in fields) else None
    names = _FIELDS[template]
    key = (template, *(values.get(n) for n in names)) if names is not None else None
    try:
        text = _RENDERED.get(key) if key is not None else None
    except TypeError:  # a value that cannot be a key (a list, a dict): made every time
        key = text = None
    if text is None:
        text = clean(template.format_map(_Values(values)))
        if key is not None:
            if len(_RENDERED) >= 10_000:
                _RENDERED.clear()
            _RENDERED[key] = text
    return text


def clean(text: str) -> str:
    """Without control or invisible characters, whitespace runs folded to one space."""
    return _INVISIBLE.sub("", _SPACES.sub(" ", text)).strip()


def china_time(at: datetime) -> str:
    """``2025年03月04日 09:30`` in China time (fits WeChat's ``time`` type)."""
    return at.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M")


def china_date(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y年%m月%d日")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ascii_token(text: str, limit: int) -> str:
    return "".join(c for c in text if c.isascii() and not c.isspace())[:limit]


def _first(pattern: str, text: str, limit: int) -> str:
    m = re.search(pattern, text)
    return m.group(0)[:limit] if m else ""


def _datetime(text: str) -> str:
    kept = _DATETIME_CHARS.sub("", text).strip()
    return kept if any(c.isdigit() for c in kept) else ""


def _name(text: str) -> str:
    text = "".join(c for c in text if not c.isdigit()).strip()
    return text[:10] if _CJK.search(text) else text[:20]


_COERCE = {
    "thing": lambda v: _cut(v, 20),
    "enum": lambda v: _cut(v, 20),
    "phrase": lambda v: "".join(_CJK.findall(v))[:5],
    "time": lambda v: _datetime(v),
    "date": lambda v: _datetime(v),
    "character_string": lambda v: _ascii_token(v, 32),
    "number": lambda v: _first(r"\d+(\.\d+)?", v, 32).rstrip("."),
    "letter": lambda v: "".join(c for c in v if c.isascii() and c.isalpha())[:32],
    "symbol": lambda v: "".join(c for c in v if not c.isalnum() and not c.isspace())[:5],
    "amount": lambda v: _first(r"\d{1,10}(\.\d{1,2})?", v, 13),
    "phone_number": lambda v: "".join(c for c in v if c.isdigit() or c in "+-")[:17],
    "car_number": lambda v: "".join(c for c in v if c.isascii() and c.isalnum())[:8],
    "name": _name,
}

# What a value becomes when nothing of it survives: WeChat refuses empty values too.
_FALLBACK = {
    "time": "00:00",
    "date": "00:00",
    "character_string": "-",
    "phone_number": "-",
    "phrase": "通知",
    "number": "0",
    "amount": "0",
    "letter": "N",
    "symbol": "-",
    "name": "用户",
    "car_number": "0",
}


def key_type(key: str) -> str:
    """The parameter type of a template key: ``thing1`` → ``thing``; unknown types count as ``thing``."""
    m = _KEY.fullmatch(key)
    return m.group(1) if m and m.group(1) in _COERCE else "thing"


def wechat_value(key: str, value: str) -> str:
    """``value`` made acceptable for the template key ``key`` (its type decides the rule)."""
    typ = key_type(key)
    out = _COERCE[typ](clean(value))
    return out or _FALLBACK.get(typ, "无")


def wechat_data(
    fields: tuple[tuple[str, str], ...], texts: Mapping[str, str], values: Mapping[str, Any]
) -> dict[str, dict[str, str]]:
    """The ``data`` of a subscribe message: each template key with its rendered, coerced value."""
    return {key: {"value": wechat_value(key, render(texts.get(name, ""), values))} for key, name in fields}


def sms_params(template: str, values: Mapping[str, Any]) -> dict[str, str]:
    """The parameters of an SMS template: each ``{name}`` the text shows, rendered on its own.

    The gateway fills its registered copy of the template with these, so they are the same values
    the rendered text shows.
    """
    names = dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f)
    return {name: render("{" + name + "}", values) for name in names}
