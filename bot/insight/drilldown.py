"""The conversations behind a dashboard number: the same filters the KPIs count with.

`bot.insight.conversation_search` (the analyst API) filters by the log's columns; the
dashboard also needs "complaints", "recovered", "rated" and "with a fallback", which are the
KPIs' own definitions (`bot.insight.metrics`), so they are read from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from bot.insight.conversation_search import counted_page, names_product
from bot.insight.metrics import in_period, recovered_condition, without_jit
from bot.insight.period import Period
from bot.insight.tables import conversations, turns


DRILL_FLAGS = ("complaint", "recovered", "rated", "fallback", "handoff")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Drill:
    """Which conversations a dashboard number stands for (each filter optional)."""

    period: Period
    outcome: Optional[str] = None
    intent: Optional[str] = None
    product: Optional[str] = None
    flags: tuple[str, ...] = ()  # of DRILL_FLAGS
    offset: int = 0


@dataclass(frozen=True)
class ConversationRow:
    conversation_id: str
    channel: Optional[str]
    started_at: datetime
    customer_turns: int
    outcome: Optional[str]
    csat: Optional[int]
    case_id: Optional[str]
    handoff_id: Optional[str]
    fallbacks: int
    last_sentiment: Optional[float]


def _drill_conditions(dialect: str, drill: Drill) -> list[ColumnElement]:
    c = conversations.c
    where = in_period(drill.period)
    if drill.outcome:
        where.append(c.outcome == drill.outcome)
    flag_conditions = {"complaint": c.case_id.isnot(None), "recovered": recovered_condition(),
                       "rated": c.csat.isnot(None), "fallback": c.fallbacks > 0,
                       "handoff": c.handoff_id.isnot(None)}
    where.extend(flag_conditions[flag] for flag in drill.flags)
    if drill.intent:  # a conversation's turns come after its start, hence the `at` bound
        # On SQLite `id || ''`: not the key, so it does not look up every id of a common
        # intent and sort them all, but reads the period newest first and stops at the page.
        column = c.conversation_id + "" if dialect == "sqlite" else c.conversation_id
        where.append(column.in_(select(turns.c.conversation_id).where(
            turns.c.role == "customer", turns.c.intent == drill.intent,
            turns.c.at >= drill.period.since)))
    if drill.product:  # the analyst API's rule: a `product` entity with that value, any case
        where.append(names_product(dialect, drill.product))
    return where


def find_conversations(connection: Connection, drill: Drill, limit: int = PAGE_SIZE
                       ) -> tuple[int, list[ConversationRow]]:
    """How many conversations match, and one page of them, newest first."""
    if not inspect(connection).has_table(conversations.name):
        return 0, []
    without_jit(connection)
    where = _drill_conditions(connection.dialect.name, drill)
    c = conversations.c
    total, rows = counted_page(connection, [
        c.conversation_id, c.channel, c.started_at, c.customer_turns, c.outcome, c.csat,
        c.case_id, c.handoff_id, c.fallbacks, c.last_sentiment], where, limit, drill.offset,
        one_pass=drill.product is not None)
    return total, [ConversationRow(**row) for row in rows]
