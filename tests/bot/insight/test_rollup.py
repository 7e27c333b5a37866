"""Per-day rollups: the dashboard's numbers read from them are the log's, and stay so as the
log changes (new events on a settled day, erasure), on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.insight import rollup, subject_hub
from bot.insight.exchange_log import ExchangeLog
from bot.insight.metrics import (
    complaint_categories, daily_trends, daily_volume, insight, kpis, top_intents, voice_themes,
)
from bot.insight.period import Period
from bot.insight.tables import daily_conversations, rollup_days
from tests.bot.insight.known_exchanges import SINCE, UNTIL, WEEK, known_week
from tests.support.postgres import DbSchema


@pytest.fixture
def connection(make_db_url: Callable[[DbSchema], str]) -> Iterator[Connection]:
    yield from known_week(make_db_url)


def _from_the_log(connection: Connection, period: Period) -> tuple:
    """The dashboard's numbers by the log-only queries, for comparison."""
    return (kpis(connection, period), daily_volume(connection, period),
            daily_trends(connection, period), top_intents(connection, period),
            complaint_categories(connection, period), voice_themes(connection, period))


def _read(connection: Connection, period: Period) -> tuple:
    data = insight(connection, period)
    return data.kpis, data.volume, data.trends, data.intents, data.categories, data.themes


def _fresh_days(connection: Connection) -> list[date]:
    connection.commit()  # a new snapshot: the rollups are written on a connection of their own
    return sorted(connection.scalars(select(rollup_days.c.day).where(
        rollup_days.c.fresh.is_(True))))


def test_settled_whole_days_are_rolled_up_and_the_rest_read_from_the_log() -> None:
    now = datetime(2026, 11, 30, 12)
    period = Period(datetime(2026, 11, 1, 10), datetime(2026, 11, 8, 10), "telegram")
    days, rest = rollup.split(period, now)
    assert days == [date(2026, 11, d) for d in range(2, 8)]
    assert rest == [Period(datetime(2026, 11, 1, 10), datetime(2026, 11, 2), "telegram"),
                    Period(datetime(2026, 11, 8), datetime(2026, 11, 8, 10), "telegram")]
    # The last week up to now: today is never rolled up, yesterday only once it is an hour old.
    days, rest = rollup.split(Period(datetime(2026, 11, 23), now), now)
    assert days[-1] == date(2026, 11, 29) and rest == [Period(datetime(2026, 11, 30), now)]
    just_after_midnight = datetime(2026, 11, 30, 0, 30)
    days, rest = rollup.split(Period(datetime(2026, 11, 23), just_after_midnight),
                              just_after_midnight)
    assert days[-1] == date(2026, 11, 28)
    assert rest == [Period(datetime(2026, 11, 29), just_after_midnight)]
    # Less than a whole settled day: all from the log.
    short = Period(datetime(2026, 11, 29, 1), now)
    assert rollup.split(short, now) == ([], [short])


@pytest.mark.parametrize("channel", [None, "webchat", "telegram"])
def test_the_numbers_from_rollups_are_the_logs(connection, channel) -> None:
    period = Period(SINCE - timedelta(hours=5), UNTIL + timedelta(hours=3), channel)
    expected = _from_the_log(connection, period)
    assert _read(connection, period) == expected  # adds the settled days up
    assert _fresh_days(connection) == [date(2026, 11, d) for d in range(1, 8)]
    assert _read(connection, period) == expected  # reads them back
    assert _read(connection, WEEK) == _from_the_log(connection, WEEK)
    stored = connection.scalar(select(func.sum(daily_conversations.c.conversations)))
    assert stored == 8  # the week's conversations, each counted once


def test_an_event_on_a_settled_day_makes_it_add_up_again(connection) -> None:
    before = insight(connection, WEEK)
    assert before.kpis.total.conversations == 8
    moment = datetime(2026, 11, 3, 12, tzinfo=timezone.utc).timestamp()
    late = {"event": "user", "timestamp": moment, "text": "hello again",
            "input_channel": "telegram",
            "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": []}}
    exchange_log = ExchangeLog(connection.engine)
    assert exchange_log.record_many_sync([("tg-late", late)]) == 1
    assert date(2026, 11, 3) not in _fresh_days(connection)
    after = insight(connection, WEEK)
    assert after.kpis.total.conversations == 9
    assert dict((c.label, c.count) for c in after.intents)["greet"] == \
        dict((c.label, c.count) for c in before.intents).get("greet", 0) + 1
    for got, want in zip(_read(connection, WEEK), _from_the_log(connection, WEEK)):
        assert got == want
    assert date(2026, 11, 3) in _fresh_days(connection)


def test_a_replayed_event_leaves_the_rollups_fresh(connection) -> None:
    moment = datetime(2026, 11, 4, 9, tzinfo=timezone.utc).timestamp()
    event = {"event": "user", "timestamp": moment, "text": "hi", "input_channel": "webchat",
             "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}
    exchange_log = ExchangeLog(connection.engine)
    exchange_log.record_many_sync([("wc-replay", event)])
    insight(connection, WEEK)
    assert date(2026, 11, 4) in _fresh_days(connection)
    assert exchange_log.record_many_sync([("wc-replay", event)]) == 0
    assert date(2026, 11, 4) in _fresh_days(connection)


def test_erasing_a_customers_conversations_drops_the_rollups(connection) -> None:
    assert insight(connection, WEEK).kpis.total.conversations == 8
    subject_hub.erase(connection.engine, "C-1", ["wc-2"])
    assert _fresh_days(connection) == []
    assert insight(connection, WEEK).kpis.total.conversations == 7
    assert _read(connection, WEEK) == _from_the_log(connection, WEEK)
