"""Finding conversations in the exchange log: every filter, pages, CSV, a transcript.

On SQLite and PostgreSQL (the product filter reads the entities' JSON with each database's
own functions).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Callable, Iterator

import pytest
from sqlalchemy.engine import Engine

from bot.database import make_engine
from bot.insight.conversation_search import (
    MAX_LIMIT, ConversationQuery, SearchError, parse_query, search, to_csv, transcript,
)
from bot.insight.period import Period
from bot.insight.tables import create_insight_tables, metadata
from tests.bot.insight.exchange_rows import add_conversation
from tests.support.postgres import DbSchema


def _create(url: str) -> None:
    engine = make_engine(url)
    try:
        create_insight_tables(engine)
    finally:
        engine.dispose()


LOG_SCHEMA = DbSchema("rapport_insight_search", "hub.db", create=_create, metadata=metadata)
DAY = datetime(2026, 11, 2, 9, 0)


@pytest.fixture
def log(make_db_url: Callable[[DbSchema], str]) -> Iterator[Engine]:
    """An exchange log with four conversations that differ in every filtered way."""
    engine = make_engine(make_db_url(LOG_SCHEMA))
    add_conversation(engine, "tg-1", DAY, channel="telegram", outcome="contained",
                     last_sentiment=0.6, turns_said=[
                         {"role": "customer", "text": "where is my order", "intent": "order_status",
                          "entities": [{"entity": "order_number", "value": "RP-100001"}]},
                         {"role": "bot", "text": "It is on its way", "action": "utter_order"}])
    add_conversation(engine, "webchat-2", datetime(2026, 11, 3, 14, 0), channel="webchat",
                     outcome="escalated", handoff_id="H-1", first_sentiment=-0.2,
                     last_sentiment=-0.7, turns_said=[
                         {"role": "customer", "text": "my Trail Boots arrived torn",
                          "intent": "complain",
                          "entities": [{"entity": "product", "value": "Trail Boots"}]},
                         {"role": "agent", "text": "So sorry, I'll sort it"}])
    add_conversation(engine, "rest:shop:3", datetime(2026, 11, 4, 8, 0), channel="rest",
                     outcome="abandoned", first_sentiment=0.01, turns_said=[
                         {"role": "customer", "text": "do you sell trail boots?",
                          "intent": "product_question",
                          "entities": [{"entity": "issue_type", "value": "trail boots"}]}])
    add_conversation(engine, "=cmd|'/c calc'!A1", datetime(2026, 11, 5, 8, 0),
                     channel="rest", outcome="contained")
    yield engine
    engine.dispose()


def _ids(engine: Engine, **params: str) -> list[str]:
    with engine.connect() as connection:
        page = search(connection, parse_query(params))
    return [row["conversation_id"] for row in page.conversations]


def test_no_filter_lists_every_conversation_newest_first(log):
    assert _ids(log) == ["=cmd|'/c calc'!A1", "rest:shop:3", "webchat-2", "tg-1"]


@pytest.mark.parametrize("params, expected", [
    ({"since": "2026-11-03"}, ["=cmd|'/c calc'!A1", "rest:shop:3", "webchat-2"]),
    ({"until": "2026-11-03"}, ["webchat-2", "tg-1"]),  # a date takes in the whole day
    ({"until": "2026-11-03T14:00:00Z"}, ["tg-1"]),  # a time is exclusive
    ({"since": "2026-11-03T00:00:00+01:00", "until": "2026-11-04"}, ["rest:shop:3", "webchat-2"]),
    ({"channel": "telegram"}, ["tg-1"]),
    ({"intent": "complain"}, ["webchat-2"]),
    ({"sentiment": "positive"}, ["tg-1"]),
    ({"sentiment": "negative"}, ["webchat-2"]),
    ({"sentiment": "neutral"}, ["rest:shop:3"]),  # no last sentiment: the first one counts
    ({"outcome": "abandoned"}, ["rest:shop:3"]),
    ({"handoff": "yes"}, ["webchat-2"]),
    ({"handoff": "no"}, ["=cmd|'/c calc'!A1", "rest:shop:3", "tg-1"]),
    ({"product": "trail boots"}, ["webchat-2"]),  # any case; another entity's value is not it
    ({"product": "Rain Jacket"}, []),
    ({"channel": "rest", "outcome": "contained"}, ["=cmd|'/c calc'!A1"]),
])
def test_each_filter_keeps_only_what_it_says(log, params, expected):
    assert _ids(log, **params) == expected


def test_pages_and_the_total(log):
    with log.connect() as connection:
        page = search(connection, parse_query({"limit": "2", "offset": "1"}))
    assert page.total == 4
    assert [row["conversation_id"] for row in page.conversations] == ["rest:shop:3", "webchat-2"]
    assert page.conversations[0]["handoff"] is False and page.conversations[1]["handoff"] is True


@pytest.mark.parametrize("params, message", [
    ({"since": "yesterday"}, "since must be a date"),
    ({"until": "2026-13-01"}, "until must be a date"),
    ({"since": "2026-11-05", "until": "2026-11-01"}, "since must be before until"),
    ({"sentiment": "angry"}, "sentiment must be one of negative, neutral, positive"),
    ({"outcome": "won"}, "outcome must be one of contained, escalated, abandoned"),
    ({"handoff": "maybe"}, "handoff must be yes or no"),
    ({"limit": "ten"}, "limit must be a whole number"),
    ({"limit": "0"}, "limit must be between 1 and"),
    ({"limit": str(MAX_LIMIT + 1)}, "limit must be between 1 and"),
    ({"offset": "-1"}, "offset must be between 0 and"),
    ({"offset": str(10**30)}, "offset must be between 0 and 9007199254740992"),
    ({"limit": str(10**30)}, "limit must be between 1 and"),
    ({"format": "xml"}, "format must be json or csv"),
    ({"chanel": "telegram"}, "unknown parameter 'chanel'"),
    ({"product": "x" * 129}, "product is longer than 128 characters"),
])
def test_bad_parameters_are_refused_with_a_reason(params, message):
    with pytest.raises(SearchError, match=message.replace("(", r"\(")):
        parse_query(params)


def test_csv_allows_a_larger_export_by_default():
    assert parse_query({"format": "csv"}).limit > parse_query({}).limit


def test_csv_has_a_header_and_defuses_spreadsheet_formulas(log):
    with log.connect() as connection:
        page = search(connection, ConversationQuery(limit=10))
    rows = list(csv.DictReader(io.StringIO(to_csv(page))))
    assert [row["conversation_id"] for row in rows] == [
        "'=cmd|'/c calc'!A1", "rest:shop:3", "webchat-2", "tg-1"]
    negative = next(row for row in rows if row["conversation_id"] == "webchat-2")
    assert (negative["handoff"], negative["last_sentiment"], negative["outcome"]) == (
        "yes", "-0.7", "escalated")  # numbers stay numbers


def test_a_transcript_is_the_conversation_and_its_turns_in_order(log):
    with log.connect() as connection:
        body = transcript(connection, "webchat-2")
        missing = transcript(connection, "webchat-404")
    assert missing is None
    assert (body["conversation_id"], body["outcome"], body["handoff_id"]) == (
        "webchat-2", "escalated", "H-1")
    assert [(turn["role"], turn["text"]) for turn in body["turns"]] == [
        ("customer", "my Trail Boots arrived torn"), ("agent", "So sorry, I'll sort it")]
    assert body["turns"][0]["entities"] == [{"entity": "product", "value": "Trail Boots"}]
    assert body["started_at"].endswith("+00:00")


def test_a_hub_without_the_log_yet_answers_empty(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with engine.connect() as connection:
            assert search(connection, ConversationQuery()).total == 0
            assert transcript(connection, "tg-1") is None
    finally:
        engine.dispose()


def test_a_bare_until_date_means_what_the_dashboard_means():
    """One reading of since/until for the API and the dashboard (bot.insight.period)."""
    now = datetime(2026, 11, 30, 12)
    for since, until in (("2026-11-01", "2026-11-05"), ("2026-11-01T06:00:00Z", "2026-11-05T18:00"),
                         ("2026-11-01", "2026-11-05T00:00:00")):
        query = parse_query({"since": since, "until": until})
        period = Period.parse(since, until, None, now)
        assert (query.since, query.until) == (period.since, period.until), (since, until)
    assert parse_query({"until": "2026-11-05"}).until == datetime(2026, 11, 6)


def test_a_huge_offset_past_the_end_is_an_empty_page(log):
    with log.connect() as connection:
        page = search(connection, parse_query({"offset": str(2**53)}))
    assert (page.total, page.conversations) == (4, [])
