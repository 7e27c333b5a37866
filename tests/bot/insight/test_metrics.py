"""The dashboard's numbers over a known week, on real SQLite and PostgreSQL databases.

Every expected value below is worked out by hand from `known_exchanges` (the comments say
how), so a query that counts the wrong rows fails here.
"""

from __future__ import annotations

from typing import Callable, Iterator

from datetime import date, datetime

import pytest
from sqlalchemy.engine import Connection

from bot.insight.metrics import (
    Category, Count, DayTrend, DayVolume, Theme, insight, kpis, top_intents,
)
from bot.insight.period import Period
from tests.bot.insight.exchange_rows import add_conversation
from tests.bot.insight.known_exchanges import HOSTILE, WEEK, known_week
from tests.support.postgres import DbSchema


@pytest.fixture
def connection(make_db_url: Callable[[DbSchema], str]) -> Iterator[Connection]:
    yield from known_week(make_db_url)


def test_the_weeks_kpis_over_all_channels(connection):
    total = kpis(connection, WEEK).total
    assert total.conversations == 8  # wc-old and wc-late fall outside the week
    assert total.customer_messages == 14  # 2+2+2+2+3+1+1+1
    assert (total.contained, total.escalated, total.abandoned) == (6, 1, 1)
    assert total.containment_rate == 0.75
    assert total.escalation_rate == total.abandonment_rate == 0.125
    assert (total.csat_total, total.csat_responses) == (23, 6)  # 5+4+2+3+4+5
    assert total.csat_average == pytest.approx(23 / 6)
    assert total.fallback_rate == pytest.approx(3 / 14)  # tg-5's two and tg-6's one
    # Complaints wc-2 (accepted, CSAT 4), wc-3 (declined), tg-4 (accepted, CSAT 3).
    assert (total.recovered, total.complaints) == (1, 3)
    assert total.service_recovery_rate == pytest.approx(1 / 3)
    # 0.4 + 0.8 - 0.2 + 0.4 + 0.3 over the five conversations with two measured turns or
    # more (wc-7 said one thing: no change to measure)
    assert total.sentiment_measured == 5
    assert total.sentiment_change == pytest.approx(1.7 / 5)
    # H1 150 s and H2 60 s; H3 never claimed, H4 created before the week
    assert total.handoffs_claimed == 2
    assert total.handoff_wait_s == pytest.approx(105.0, abs=0.01)


def test_kpis_per_channel(connection):
    report = kpis(connection, WEEK)
    assert [k.channel for k in report.by_channel] == ["webchat", "telegram", None]
    webchat, telegram, unknown = report.by_channel
    assert (webchat.conversations, webchat.customer_messages, webchat.contained) == (4, 7, 4)
    assert webchat.csat_average == 4.0 and webchat.fallback_rate == 0.0
    assert (webchat.recovered, webchat.complaints) == (1, 2)
    assert webchat.sentiment_change == pytest.approx(1.0 / 3)
    assert webchat.handoff_wait_s == pytest.approx(60.0, abs=0.01)
    assert (telegram.conversations, telegram.customer_messages) == (3, 6)
    assert (telegram.contained, telegram.escalated, telegram.abandoned) == (1, 1, 1)
    assert telegram.csat_average == 3.5 and telegram.fallback_rate == 0.5
    assert telegram.service_recovery_rate == 0.0
    assert telegram.handoff_wait_s == pytest.approx(150.0, abs=0.01)
    assert (unknown.conversations, unknown.csat_average, unknown.sentiment_change) == (1, None, None)


def test_one_channel_only(connection):
    report = kpis(connection, Period(WEEK.since, WEEK.until, "telegram"))
    assert [k.channel for k in report.by_channel] == ["telegram"]
    assert (report.total.conversations, report.total.customer_messages) == (3, 6)
    assert report.total.handoffs_claimed == 1
    assert report.total.handoff_wait_s == pytest.approx(150.0, abs=0.01)


def test_an_empty_period_has_no_rates(connection):
    total = kpis(connection, Period(datetime(2025, 1, 1), datetime(2025, 1, 2))).total
    assert total.conversations == 0
    assert total.containment_rate is None and total.csat_average is None
    assert total.fallback_rate is None and total.handoff_wait_s is None


def test_the_weeks_series(connection):
    data = insight(connection, WEEK)
    assert data.volume == [DayVolume(date(2026, 11, 1), 0, 0),
                           DayVolume(date(2026, 11, 2), 2, 4), DayVolume(date(2026, 11, 3), 2, 4),
                           DayVolume(date(2026, 11, 4), 1, 3), DayVolume(date(2026, 11, 5), 1, 1),
                           DayVolume(date(2026, 11, 6), 1, 1), DayVolume(date(2026, 11, 7), 1, 1)]
    assert data.intents == [Count("complain", 3), Count("affirm", 2), Count("nlu_fallback", 2),
                            Count("praise", 2), Count("ask_order_status", 1), Count("deny", 1),
                            Count("greet", 1), Count("request_human", 1), Count("suggest", 1)]
    assert data.categories == [Category("Kettle", "damaged", 1), Category("Kettle", "late", 1),
                               Category("Toaster", "damaged", 1)]
    assert data.themes == [Theme("praise", HOSTILE, 1), Theme("praise", "Toaster", 1),
                           Theme("suggest", "Kettle", 1)]
    quiet_day, first_day, second_day, *_, fifth_day, last_day = data.trends
    assert quiet_day == DayTrend(date(2026, 11, 1), None, None, None, 0)
    assert first_day.day == date(2026, 11, 2)
    assert first_day.first_sentiment == pytest.approx(-0.25)  # (0.1 - 0.6) / 2
    assert first_day.last_sentiment == pytest.approx(0.35)  # (0.5 + 0.2) / 2
    assert (first_day.csat_average, first_day.csat_responses) == (4.5, 2)
    assert second_day.csat_average == 2.5
    assert fifth_day == DayTrend(date(2026, 11, 6), 0.6, 0.8, 5.0, 1)
    assert last_day == DayTrend(date(2026, 11, 7), None, None, None, 0)


def test_top_intents_on_one_channel_and_a_limit(connection):
    telegram = Period(WEEK.since, WEEK.until, "telegram")
    assert top_intents(connection, telegram, limit=2) == [Count("nlu_fallback", 2),
                                                          Count("affirm", 1)]


def test_a_complaint_that_named_nothing_is_unknown(connection):
    add_conversation(connection.engine, "wc-10", datetime(2026, 11, 7, 9), case_id="CASE-9",
                     channel="webchat", turns_said=[
                         {"role": "customer", "intent": "complain", "text": "it is bad"}])
    assert Category("unknown", "unknown", 1) in insight(connection, WEEK).categories
