"""Tables of the exchange log, in the hub database (`RAPPORT_HUB_DB_URL`).

- `insight_conversations`: one row per Rasa conversation (sender id): its counters, the
  customer, case and handoff it led to, and its outcome, kept current as events arrive.
- `insight_turns`: every customer, bot and agent turn, its text redacted. A turn is keyed
  by `event_key`, the same for the same Rasa event from any broker, and
  UNIQUE(conversation_id, event_key) makes a replayed event insert nothing.
- `insight_set_aside`: events that could not be read, with the reason (never a crash).
- `insight_positions`: how far each consumer got, so a restart loses nothing.
- `insight_rollup_days`, `insight_daily_conversations`, `insight_daily_intents`,
  `insight_daily_categories`: the dashboard's numbers added up per settled day and channel
  (`bot.insight.rollup`), a cache of the two tables above that can be dropped at any time.

Times are naive UTC. `create_insight_tables` also adds the indexes an older database lacks.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, MetaData, String, Table,
    Text, UniqueConstraint, and_, func, inspect,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.database import create_tables

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})
_Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only

ROLES = ("customer", "bot", "agent")
OUTCOMES = ("contained", "escalated", "abandoned")

conversations = Table(
    "insight_conversations", metadata,
    Column("conversation_id", String(128), primary_key=True),
    Column("channel", String(32)),  # the input channel of the first customer turn
    Column("language", String(8)),
    Column("started_at", DateTime, nullable=False),
    Column("last_at", DateTime, nullable=False),
    Column("customer_turns", Integer, nullable=False, default=0, server_default="0"),
    Column("bot_turns", Integer, nullable=False, default=0, server_default="0"),
    Column("customer_id", String(64)),
    Column("case_id", String(64)),
    Column("handoff_id", String(64)),
    Column("outcome", String(16)),
    Column("csat", Integer),
    Column("first_sentiment", Float),
    Column("last_sentiment", Float),
    Column("fallbacks", Integer, nullable=False, default=0, server_default="0"),
)

turns = Table(
    "insight_turns", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("conversation_id", String(128), nullable=False, index=True),
    Column("event_key", String(64), nullable=False),
    Column("at", DateTime, nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("text", Text),  # redacted
    Column("intent", String(128)),
    Column("confidence", Float),
    Column("entities", Text),  # JSON list of {"entity", "value"}, values redacted
    Column("sentiment", Float),
    Column("action", String(128)),
    Column("response", String(128)),
    Column("latency_ms", Integer),
    Column("language", String(8)),
    Column("channel", String(32)),
    UniqueConstraint("conversation_id", "event_key"),
)

set_aside = Table(
    "insight_set_aside", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("conversation_id", String(128)),
    Column("raw", Text),  # the first 2,000 characters, redacted
    Column("reason", String(200), nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_insight_set_aside_at", "at"),
)

positions = Table(
    "insight_positions", metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)


# -- per-day rollups (bot.insight.rollup) -------------------------------------------------

rollup_days = Table(
    "insight_rollup_days", metadata,
    Column("day", Date, primary_key=True),
    Column("fresh", Boolean, nullable=False),  # False: written to since it was added up
)

_SUMMED = ("conversations", "customer_messages", "contained", "escalated", "abandoned",
           "csat_total", "csat_responses", "fallbacks", "complaints", "recovered",
           "sentiment_measured", "first_measured", "last_measured")
_FLOAT_SUMMED = ("sentiment_change_total", "first_total", "last_total")

daily_conversations = Table(  # bot.insight.metrics.conversation_groups, per day and channel
    "insight_daily_conversations", metadata,
    Column("day", Date, nullable=False, index=True),
    Column("channel", String(32)),
    *[Column(name, BigInteger, nullable=False) for name in _SUMMED],
    *[Column(name, Float, nullable=False) for name in _FLOAT_SUMMED],
)

daily_intents = Table(  # customer turns per day, turn channel, intent (and entities of VOICE_INTENTS)
    "insight_daily_intents", metadata,
    Column("day", Date, nullable=False, index=True),
    Column("channel", String(32)),
    Column("intent", String(128), nullable=False),
    Column("entities", Text),
    Column("turns", BigInteger, nullable=False),
)

daily_categories = Table(  # complaint conversations per start day, channel, product and issue
    "insight_daily_categories", metadata,
    Column("day", Date, nullable=False, index=True),
    Column("channel", String(32)),
    Column("product", Text, nullable=False),
    Column("issue_type", Text, nullable=False),
    Column("conversations", BigInteger, nullable=False),
)

# Turns with entities, in two parts a query reads separately (UNION ALL): entity JSON short
# enough for an index entry (PostgreSQL's limit is about 2.7 kB; 500 characters of at most
# 4 bytes, with the conversation id, fit), and the rest.
SHORT_ENTITIES = 500
ENTITY_PARTS = (and_(turns.c.entities.isnot(None), func.length(turns.c.entities) <= SHORT_ENTITIES),
                func.length(turns.c.entities) > SHORT_ENTITIES)

# Indexes added after the tables first shipped: `create_all` adds none to an existing table,
# so `add_missing_indexes` creates them. Customer turns by time (top intents, voice themes,
# the rollups' day sums); conversations by start (every period).
LATER_INDEXES = (
    # `at` first: with `role` first, SQLite (no statistics) joins turns to conversations on
    # role='customer' instead of conversation_id.
    Index("ix_insight_turns_at_role_intent_channel", turns.c.at, turns.c.role, turns.c.intent,
          turns.c.channel),
    Index("ix_insight_conversations_started_at_channel", conversations.c.started_at,
          conversations.c.channel),
    # Conversations with a customer turn of an intent (drill-downs, the analyst API).
    Index("ix_insight_turns_intent_role_at_conversation_id", turns.c.intent, turns.c.role,
          turns.c.at, turns.c.conversation_id),
    # Turns that named entities, with their entity JSON (products: drill-downs, the analyst
    # API), so a filter reads the index only; the rare long lists apart (ENTITY_PARTS).
    Index("ix_insight_turns_short_entities", turns.c.conversation_id, turns.c.entities,
          sqlite_where=ENTITY_PARTS[0], postgresql_where=ENTITY_PARTS[0]),
    Index("ix_insight_turns_long_entities", turns.c.conversation_id,
          sqlite_where=ENTITY_PARTS[1], postgresql_where=ENTITY_PARTS[1]),
)


def create_insight_tables(engine: Engine) -> None:
    """Create the exchange log's tables and indexes that are missing (safe from several processes)."""
    create_tables(engine, metadata)
    add_missing_indexes(engine)


def add_missing_indexes(engine: Engine) -> None:
    """Create the `LATER_INDEXES` a database made before them lacks."""
    inspector = inspect(engine)
    for index in LATER_INDEXES:
        present = {found["name"] for found in inspector.get_indexes(index.table.name)}
        if index.name in present:
            continue
        try:
            index.create(engine, checkfirst=True)
        except (OperationalError, ProgrammingError):  # another process made it just now
            if index.name not in {found["name"] for found in
                                  inspect(engine).get_indexes(index.table.name)}:
                raise


def event_key(sender_id: str, event: dict[str, Any]) -> str:
    """The SHA-256 (hex) naming one Rasa event of one conversation, whichever broker sent it.

    Made of the sender id, the event type, the timestamp (as a float, so 1700000000 and
    1700000000.0 agree) and the text or, failing that, the name.
    """
    timestamp = event.get("timestamp")
    try:
        moment = repr(float(timestamp))
    except (TypeError, ValueError):
        moment = repr(timestamp)
    words = event.get("text")
    if words is None:
        words = event.get("name")
    parts = (str(sender_id), str(event.get("event")), moment, "" if words is None else str(words))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
