"""The conversations behind a dashboard number: the same filters the KPIs count with.

`bot.insight.conversation_search` (the analyst API) filters by the log's columns; the
dashboard also needs "complaints", "recovered", "rated" and "with a fallback", which are the
KPIs' own definitions (`bot.insight.metrics`), so they are read from there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import exists, func, inspect, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

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


def _drill_conditions(drill: Drill) -> list[ColumnElement]:
    c = conversations.c
    where = in_period(drill.period)
    if drill.outcome:
        where.append(c.outcome == drill.outcome)
    flag_conditions = {"complaint": c.case_id.isnot(None), "recovered": recovered_condition(),
                       "rated": c.csat.isnot(None), "fallback": c.fallbacks > 0,
                       "handoff": c.handoff_id.isnot(None)}
    where.extend(flag_conditions[flag] for flag in drill.flags)
    if drill.intent:  # a conversation's turns come after its start, hence the `at` bound
        where.append(c.conversation_id.in_(select(turns.c.conversation_id).where(
            turns.c.role == "customer", turns.c.intent == drill.intent,
            turns.c.at >= drill.period.since)))
    if drill.product:  # the value as the entity JSON spells it, next to a product entity
        where.append(exists(select(literal(1)).where(
            turns.c.conversation_id == c.conversation_id,
            turns.c.entities.contains('"product"', autoescape=True),
            turns.c.entities.contains(json.dumps(drill.product), autoescape=True))))
    return where


def find_conversations(connection: Connection, drill: Drill, limit: int = PAGE_SIZE
                       ) -> tuple[int, list[ConversationRow]]:
    """How many conversations match, and one page of them, newest first."""
    if not inspect(connection).has_table(conversations.name):
        return 0, []
    without_jit(connection)
    where = _drill_conditions(drill)
    total = connection.scalar(select(func.count()).select_from(conversations).where(*where))
    c = conversations.c
    rows = connection.execute(
        select(c.conversation_id, c.channel, c.started_at, c.customer_turns, c.outcome, c.csat,
               c.case_id, c.handoff_id, c.fallbacks, c.last_sentiment)
        .where(*where).order_by(c.started_at.desc(), c.conversation_id)
        .limit(limit).offset(drill.offset))
    return int(total or 0), [ConversationRow(*row) for row in rows]
