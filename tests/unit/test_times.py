"""Times on the wire: UTC, to the millisecond, spelled one way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.times import format_time, parse_time, to_millisecond, utc_now

PARIS_WINTER = timezone(timedelta(hours=1))


class _NoOffset(tzinfo):
    """A time zone that does not know its offset: as ambiguous as none at all."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


def test_to_millisecond_cuts_finer_digits_rather_than_rounding() -> None:
    moment = datetime(2026, 11, 21, 9, 30, 0, 123_999, tzinfo=UTC)

    assert to_millisecond(moment) == datetime(2026, 11, 21, 9, 30, 0, 123_000, tzinfo=UTC)


def test_to_millisecond_moves_the_time_to_utc() -> None:
    moment = datetime(2026, 11, 21, 10, 30, tzinfo=PARIS_WINTER)

    in_utc = to_millisecond(moment)

    assert in_utc.tzinfo is UTC
    assert in_utc == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 11, 21, 9, 30), datetime(2026, 11, 21, 9, 30, tzinfo=_NoOffset())],
    ids=["naive", "zone-without-offset"],
)
def test_a_time_without_a_zone_is_rejected(moment: datetime) -> None:
    with pytest.raises(ValueError, match="time zone"):
        to_millisecond(moment)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 21, 9, 30, 0, 123_000, tzinfo=UTC), "2026-11-21T09:30:00.123Z"),
        (datetime(2026, 11, 21, 9, 30, tzinfo=UTC), "2026-11-21T09:30:00.000Z"),
        (datetime(2026, 11, 21, 9, 30, 0, 999_999, tzinfo=UTC), "2026-11-21T09:30:00.999Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 6_000, tzinfo=UTC), "2026-01-02T03:04:05.006Z"),
        (datetime(2026, 11, 21, 0, 30, tzinfo=PARIS_WINTER), "2026-11-20T23:30:00.000Z"),
    ],
    ids=["milliseconds", "whole-second", "truncated", "zero-padded", "other-zone"],
)
def test_format_time_spells_a_time_the_one_way_the_protocol_does(
    moment: datetime, text: str
) -> None:
    assert format_time(moment) == text


def test_format_time_rejects_a_naive_time() -> None:
    with pytest.raises(ValueError, match="time zone"):
        format_time(datetime(2026, 11, 21, 9, 30))


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-21T09:30:00.123Z",
        "2026-11-21T09:30:00.123+00:00",
        "2026-11-21T10:30:00.123+01:00",
        "2026-11-21T09:30:00.123456Z",
    ],
    ids=["z", "plus-zero", "other-zone", "microseconds"],
)
def test_parse_time_reads_any_rfc3339_spelling_to_the_millisecond_in_utc(text: str) -> None:
    moment = parse_time(text)

    assert moment == datetime(2026, 11, 21, 9, 30, 0, 123_000, tzinfo=UTC)
    assert moment.tzinfo is UTC


def test_parse_time_rejects_a_time_without_a_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        parse_time("2026-11-21T09:30:00.123")


@settings(database=None)
@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),  # hypothesis takes naive bounds
        max_value=datetime(2999, 12, 30),
        timezones=st.sampled_from([UTC, PARIS_WINTER, timezone(timedelta(hours=-7))]),
    )
)
def test_parse_time_reads_back_what_format_time_wrote(moment: datetime) -> None:
    text = format_time(moment)

    assert parse_time(text) == to_millisecond(moment)
    assert format_time(parse_time(text)) == text


def test_utc_now_is_in_utc_to_the_millisecond() -> None:
    now = utc_now()

    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0
