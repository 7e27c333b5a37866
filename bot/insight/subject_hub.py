"""One data subject in the hub database: exchange log, handoffs and web chat messages.

The exchange log (`bot.insight.tables`) and the handoff tables (`bot.handoff.tables`) are
imported. The web chat's tables belong to `channels/webchat/tables.py`, which `bot/` may
not import (tests/test_layout.py), so they are reflected by name from the database
(`WEBCHAT_TABLES`, SQLAlchemy `Table(..., autoload_with=engine)`); a hub without web chat
simply has none of them.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import MetaData, Table, delete, inspect, or_, select
from sqlalchemy.engine import Connection, Engine

from bot.handoff.tables import handoff_notes, handoffs
from bot.insight import rollup
from bot.insight.tables import conversations as log_conversations
from bot.insight.tables import rollup_days
from bot.insight.tables import set_aside as log_set_aside
from bot.insight.tables import turns as log_turns

# The web chat's tables and the column that holds the Rasa sender id.
WEBCHAT_TABLES = (("webchat_messages", "conversation_id", "messages"),
                  ("webchat_conversations", "conversation_id", "conversations"),
                  ("webchat_sessions", "sender_id", "sessions"))
_NOT_EXPORTED = frozenset({"token_hash"})  # a session credential's hash, not the customer's data


def conversation_ids(hub: Engine, customer_id: str) -> set[str]:
    """Conversations the exchange log or a handoff ties to the customer."""
    conversations = log_conversations
    found: set[str] = set()
    present = set(inspect(hub).get_table_names())
    with hub.connect() as connection:
        if conversations.name in present:
            found.update(connection.scalars(select(conversations.c.conversation_id).where(
                conversations.c.customer_id == customer_id)))
        if handoffs.name in present:
            found.update(connection.scalars(select(handoffs.c.conversation_id).where(
                handoffs.c.customer_id == customer_id)))
    return found


def records(hub: Engine, conversation_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per conversation: its exchange-log row, turns (in order), set-aside events, handoffs
    with notes and web chat rows: everything `erase` deletes."""
    wanted = sorted(set(conversation_ids))
    found: dict[str, dict[str, Any]] = {
        cid: {"exchange_log": None, "turns": [], "set_aside": [], "handoffs": [],
              "web_chat": {label: [] for _, _, label in WEBCHAT_TABLES}} for cid in wanted}
    present = set(inspect(hub).get_table_names())
    conversations, turns = log_conversations, log_turns
    with hub.connect() as connection:
        if conversations.name in present:
            for row in connection.execute(select(conversations).where(
                    conversations.c.conversation_id.in_(wanted))):
                found[row.conversation_id]["exchange_log"] = dict(row._mapping)
        if turns.name in present:
            for row in connection.execute(select(turns).where(
                    turns.c.conversation_id.in_(wanted)).order_by(turns.c.at, turns.c.id)):
                found[row.conversation_id]["turns"].append(dict(row._mapping))
        if log_set_aside.name in present:
            for row in connection.execute(select(log_set_aside).where(
                    log_set_aside.c.conversation_id.in_(wanted)).order_by(log_set_aside.c.id)):
                found[row.conversation_id]["set_aside"].append(dict(row._mapping))
        if handoffs.name in present:
            for row in connection.execute(select(handoffs).where(
                    handoffs.c.conversation_id.in_(wanted)).order_by(handoffs.c.created_at)):
                handoff = dict(row._mapping)
                handoff["notes"] = [dict(note._mapping) for note in connection.execute(
                    select(handoff_notes).where(handoff_notes.c.handoff_id == row.id)
                    .order_by(handoff_notes.c.id))]
                found[row.conversation_id]["handoffs"].append(handoff)
        _webchat_records(connection, present, wanted, found)
    return found


def _webchat_records(connection: Connection, present: set[str], wanted: list[str],
                     found: dict[str, dict[str, Any]]) -> None:
    for name, column, label in WEBCHAT_TABLES:
        if name not in present:
            continue
        table = Table(name, MetaData(), autoload_with=connection)
        for row in connection.execute(select(table).where(table.c[column].in_(wanted))
                                      .order_by(*table.primary_key.columns)):
            kept = {key: value for key, value in row._mapping.items()
                    if key not in _NOT_EXPORTED}
            found[row._mapping[column]]["web_chat"][label].append(kept)


def erase(hub: Engine, customer_id: str, conversation_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Delete the conversations' log, handoffs (and notes) and web chat rows; counts by store."""
    wanted = sorted(set(conversation_ids))
    present = set(inspect(hub).get_table_names())
    with hub.begin() as connection:
        return {"exchange log": _erase_log(connection, present, wanted),
                "handoffs": _erase_handoffs(connection, present, customer_id, wanted),
                "web chat": _erase_webchat(connection, present, wanted)}


def _erase_log(connection: Connection, present: set[str], wanted: list[str]) -> dict[str, int]:
    counts = {}
    for table, label in ((log_turns, "turns"), (log_set_aside, "set-aside events"),
                         (log_conversations, "conversations")):
        counts[label] = connection.execute(delete(table).where(
            table.c.conversation_id.in_(wanted))).rowcount if table.name in present else 0
    if rollup_days.name in present:  # the dashboard's day sums counted them: add up again
        rollup.forget_all(connection)
    return counts


def _erase_handoffs(connection: Connection, present: set[str], customer_id: str,
                    wanted: list[str]) -> dict[str, int]:
    if handoffs.name not in present:
        return {"handoffs": 0, "notes": 0}
    theirs = select(handoffs.c.id).where(or_(handoffs.c.conversation_id.in_(wanted),
                                             handoffs.c.customer_id == customer_id))
    notes = connection.execute(delete(handoff_notes).where(
        handoff_notes.c.handoff_id.in_(theirs))).rowcount
    deleted = connection.execute(delete(handoffs).where(or_(
        handoffs.c.conversation_id.in_(wanted), handoffs.c.customer_id == customer_id))).rowcount
    return {"handoffs": deleted, "notes": notes}


def _erase_webchat(connection: Connection, present: set[str], wanted: list[str]) -> dict[str, int]:
    counts = {}
    for name, column, label in WEBCHAT_TABLES:
        if name not in present:
            counts[label] = 0
            continue
        table = Table(name, MetaData(), autoload_with=connection)
        counts[label] = connection.execute(delete(table).where(
            table.c[column].in_(wanted))).rowcount
    return counts
