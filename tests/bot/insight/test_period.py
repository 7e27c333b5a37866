"""Periods people type: `7d`, `24h`, `30d`, dates and times; and what cannot be read."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bot.insight.period import Period, PeriodError, days, parse_moment
from tests.bot.insight.known_exchanges import WEEK


def test_every_day_of_the_period_is_there():
    assert days(WEEK) == [date(2026, 11, d) for d in range(1, 8)]
    assert days(Period(datetime(2026, 11, 1, 22), datetime(2026, 11, 2, 0, 1))) == [
        date(2026, 11, 1), date(2026, 11, 2)]


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("typed, expected", [
    ("7d", datetime(2026, 11, 23, 12)), ("24h", datetime(2026, 11, 29, 12)),
    ("30d", datetime(2026, 10, 31, 12)), ("2026-11-01", datetime(2026, 11, 1)),
    ("2026-11-01T08:30:00+01:00", datetime(2026, 11, 1, 7, 30)),
])
def test_moments_people_type(typed, expected):
    assert parse_moment(typed, NOW) == expected


@pytest.mark.parametrize("typed", ["yesterday", "7w", "-3d", "", "2026-13-01"])
def test_moments_that_cannot_be_read_say_so(typed):
    with pytest.raises(PeriodError, match="cannot read"):
        parse_moment(typed, NOW)


def test_a_period_must_not_be_empty():
    with pytest.raises(PeriodError, match="empty"):
        Period.parse("2026-11-05", "2026-11-01", None, NOW)
    period = Period.parse(None, None, " webchat ", NOW)
    assert (period.since, period.until, period.channel) == (
        datetime(2026, 11, 23, 12), datetime(2026, 11, 30, 12), "webchat")


def test_a_bare_until_date_takes_in_that_whole_day():
    period = Period.parse("2026-11-01", "2026-11-05", None, NOW)
    assert (period.since, period.until) == (datetime(2026, 11, 1), datetime(2026, 11, 6))
    assert Period.parse("2026-11-05", "2026-11-05", None, NOW).until == datetime(2026, 11, 6)
    timed = Period.parse("2026-11-01", "2026-11-05T00:00:00", None, NOW)
    assert timed.until == datetime(2026, 11, 5)  # a time is exclusive
    assert Period.parse(timed.query()["since"], timed.query()["until"], None, NOW) == timed
