"""Every e-certificate error has a Chinese title and a slug of its own."""

from __future__ import annotations

import pytest

from esign import errors

ALL = [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, errors.EsignError)]


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_titles_are_chinese(cls: type[errors.EsignError]) -> None:
    assert cls.__doc__ and any("\u4e00" <= ch <= "\u9fff" for ch in cls.__doc__)
    assert 400 <= cls.status < 600


def test_slugs_are_unique() -> None:
    slugs = [cls.slug for cls in ALL]
    assert len(slugs) == len(set(slugs))
