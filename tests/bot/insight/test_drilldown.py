"""The conversations behind each dashboard number, over the known week (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Callable, Iterator

import pytest
from sqlalchemy.engine import Connection

from bot.insight.drilldown import Drill, find_conversations
from bot.insight.period import Period
from tests.bot.insight.exchange_rows import add_conversation
from tests.bot.insight.known_exchanges import WEEK, known_week
from tests.support.postgres import DbSchema


@pytest.fixture
def connection(make_db_url: Callable[[DbSchema], str]) -> Iterator[Connection]:
    yield from known_week(make_db_url)


@pytest.mark.parametrize("drill, expected", [
    (Drill(WEEK, outcome="escalated"), ["tg-5"]),
    (Drill(WEEK, flags=("complaint",)), ["tg-4", "wc-3", "wc-2"]),
    (Drill(WEEK, flags=("recovered",)), ["wc-2"]),
    (Drill(WEEK, flags=("rated",)), ["wc-7", "tg-5", "tg-4", "wc-3", "wc-2", "wc-1"]),
    (Drill(WEEK, flags=("fallback",)), ["tg-6", "tg-5"]),
    (Drill(WEEK, flags=("handoff",)), ["tg-5"]),
    (Drill(WEEK, flags=("complaint",), product="Kettle"), ["wc-3", "wc-2"]),
    (Drill(WEEK, intent="praise"), ["x-9", "wc-7"]),
    (Drill(Period(WEEK.since, WEEK.until, "webchat"), outcome="contained"),
     ["wc-7", "wc-3", "wc-2", "wc-1"]),
])
def test_the_conversations_behind_each_number(connection, drill, expected):
    total, rows = find_conversations(connection, drill)
    assert total == len(expected)
    assert [row.conversation_id for row in rows] == expected


def test_drill_down_pages(connection):
    total, rows = find_conversations(connection, Drill(WEEK, offset=6), limit=5)
    assert total == 8
    assert [row.conversation_id for row in rows] == ["wc-2", "wc-1"]


def test_a_product_with_accents_is_found_as_the_log_stores_it(connection):
    entities = json.dumps([{"entity": "product", "value": "Crème Kettle"}], ensure_ascii=False)
    add_conversation(connection.engine, "wc-creme", datetime(2026, 11, 4, 10), channel="webchat",
                     outcome="contained", turns_said=[
                         {"role": "customer", "text": "my crème kettle leaks", "intent": "complain",
                          "entities": entities}])
    for typed in ("Crème Kettle", "crème kettle"):
        total, rows = find_conversations(connection, Drill(WEEK, product=typed))
        assert (total, [row.conversation_id for row in rows]) == (1, ["wc-creme"]), typed
    assert find_conversations(connection, Drill(WEEK, product="Crème"))[0] == 0  # the whole value
