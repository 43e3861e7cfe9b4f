"""The wallet's rules without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from wallet import service
from wallet.errors import ConsentInvalid, PresentationFieldsInvalid, RecordInvalid

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_coming_of_age_is_the_18th_birthday_at_midnight_in_china() -> None:
    assert service.comes_of_age(date(2008, 11, 22)) == datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
    # Born on 29 February: of age from 28 February of the 18th year, as PostgreSQL's date arithmetic says.
    assert service.comes_of_age(date(2008, 2, 29)) == datetime(2026, 2, 27, 16, 0, tzinfo=UTC)


def test_birth_date_is_read_from_the_id_number() -> None:
    assert service.born_on_from_id_number("11010519491231002X") == date(1949, 12, 31)
    assert service.born_on_from_id_number("short") is None


@pytest.mark.parametrize(
    ("revoked", "expires", "uses", "max_uses", "state"),
    [
        (None, NOW + timedelta(hours=1), 0, 2, "active"),
        (None, NOW + timedelta(hours=1), 2, 2, "used_up"),
        (None, NOW, 0, None, "expired"),
        (NOW, NOW + timedelta(hours=1), 0, None, "revoked"),
        (NOW, NOW - timedelta(hours=1), 5, 5, "revoked"),
    ],
)
def test_consent_state(
    revoked: datetime | None, expires: datetime, uses: int, max_uses: int | None, state: str
) -> None:
    assert service.consent_state(revoked_at=revoked, expires_at=expires, uses=uses, max_uses=max_uses, now=NOW) == state


def test_a_consent_must_end_in_the_future_and_within_a_year() -> None:
    a = uuid4()
    assert service.check_consent([a, a], NOW + timedelta(days=1), now=NOW) == [a]
    for bad in (NOW, NOW + timedelta(days=366)):
        with pytest.raises(ConsentInvalid) as info:
            service.check_consent([a], bad, now=NOW)
        assert info.value.errors[0].field == "expires_at"


def test_presentations_disclose_exactly_the_chosen_fields() -> None:
    fields = {"name": "张三", "address": "湖南省", "sex": "男"}
    assert service.chosen_fields(fields, ["sex", "sex"]) == {"sex": "男"}
    with pytest.raises(PresentationFieldsInvalid) as info:
        service.chosen_fields(fields, ["sex", "salary"])
    assert [e.field for e in info.value.errors] == ["fields.salary"]


def test_records_split_sensitive_values_and_refuse_unknown_keys() -> None:
    public, sealed = service.split_record({"month": "2026-10", "amount": 1200}, ["amount"])
    assert public == {"month": "2026-10"} and sealed == {"amount": 1200}
    with pytest.raises(RecordInvalid):
        service.split_record({"month": "2026-10"}, ["amount"])
    with pytest.raises(RecordInvalid):
        service.split_record({"blob": "x" * 20000}, [])


@pytest.mark.parametrize(
    ("left", "threshold"),
    [
        (timedelta(days=31), None),
        (timedelta(days=30), 30),
        (timedelta(days=8), 30),
        (timedelta(days=7), 7),
        (timedelta(hours=25), 7),
        (timedelta(hours=24), 1),
        (timedelta(minutes=1), 1),
        (timedelta(0), None),
    ],
)
def test_expiry_thresholds(left: timedelta, threshold: int | None) -> None:
    assert service.expiry_threshold(NOW + left, NOW) == threshold


def test_life_events_are_dated_by_their_certificate_field_and_keyed_by_source() -> None:
    fallback = NOW
    assert service.event_time({"born_at": "2026-11-18"}, "born_at", fallback) == datetime(2026, 11, 17, 16, tzinfo=UTC)
    assert service.event_time({"born_at": "not a date"}, "born_at", fallback) == fallback
    person = uuid4()
    # Born and died happen once per person, whatever the source; the rest once per source.
    assert service.event_source_key("born", person, "certificate:1") == service.event_source_key(
        "born", person, "bundle:2"
    )
    assert service.event_source_key("married", person, "certificate:1") != service.event_source_key(
        "married", person, "x"
    )
