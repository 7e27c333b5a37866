"""The hub database's handoff and agent tables, and `Database`, the store over them.

Tables are created idempotently (`create_hub_tables`) by the hub at start and by the action
server on first use, so either may start first; SQLite and PostgreSQL both work. Times are
stored as naive UTC and come back aware (`naive`/`aware` in bot.database). Several
processes share these tables, so every change of state is one conditional UPDATE, never
read-then-write.
"""

from __future__ import annotations

import secrets

from sqlalchemy import (
    Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text,
)
from sqlalchemy.engine import Engine

from bot import database
from bot.database import ThreadedStore
from bot.handoff.states import OPEN_STATES

metadata = MetaData()

agents = Table(
    "agents", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("login", String(64), nullable=False, unique=True),  # the name, lower-cased
    Column("role", String(16), nullable=False),  # agent | analyst | admin
    Column("password_hash", String(255), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=True),  # console heartbeat: presence
)

agent_sessions = Table(
    "agent_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie's token
    Column("agent_id", String(32), ForeignKey("agents.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("last_used_at", DateTime, nullable=False),
)

login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(160), nullable=False, index=True),  # "user:<login>" or "ip:<address>"
    Column("at", DateTime, nullable=False, index=True),
)

# The name customers see for an agent (`rapport agent add NAME --display-name "Sam"`); the
# login name stays internal. Its own table so existing hub databases need no ALTER.
agent_profiles = Table(
    "agent_profiles", metadata,
    Column("agent_id", String(32), ForeignKey("agents.id", ondelete="CASCADE"),
           primary_key=True),
    Column("display_name", String(64), nullable=False),
)

handoffs = Table(
    "handoffs", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("channel", String(32), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("reason", String(500), nullable=False),
    Column("severity", String(16), nullable=True),
    Column("tier", String(16), nullable=True),
    Column("public_risk", Boolean, nullable=False, default=False),
    Column("base_priority", Integer, nullable=False, default=0),
    Column("priority_reasons", Text, nullable=False, default="[]"),  # JSON [[reason, points]]
    Column("customer_id", String(64), nullable=True),
    Column("customer_name", String(200), nullable=True),
    Column("case_id", String(64), nullable=True),
    Column("packet", Text, nullable=False, default="{}"),  # JSON, see bot.handoff.packet
    Column("agent_id", String(32), ForeignKey("agents.id"), nullable=True, index=True),
    Column("created_at", DateTime, nullable=False),
    Column("assigned_at", DateTime, nullable=True),
    Column("closed_at", DateTime, nullable=True),
    Column("resolution_note", Text, nullable=True),
    Column("csat", Integer, nullable=True),
    Column("last_customer_text", String(300), nullable=True),
    Column("last_customer_at", DateTime, nullable=True),
    Column("last_event_id", Integer, nullable=False, default=0),
    Column("revision", Integer, nullable=False, default=1),  # +1 on every change
    # A hand-back to the bot still to do (resolved | callback | abandoned), and its lease.
    Column("handback", String(16), nullable=True),
    Column("handback_lease", DateTime, nullable=True),
)
_open = handoffs.c.state.in_(OPEN_STATES)
Index("handoffs_one_open_per_conversation", handoffs.c.conversation_id, unique=True,
      sqlite_where=_open, postgresql_where=_open)

handoff_notes = Table(
    "handoff_notes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("handoff_id", String(32), ForeignKey("handoffs.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("author", String(64), nullable=True),  # an agent's name; None for the system
    Column("kind", String(16), nullable=False),  # note | transfer | system
    Column("text", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# What agents did in the console (bot.hub.audit): who, what, which handoff, when.
console_audit = Table(
    "console_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("agent_id", String(32), nullable=False, index=True),
    Column("agent_name", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("handoff_id", String(32), nullable=True, index=True),
    Column("detail", String(300), nullable=False, default=""),
)


def new_hub_id(prefix: str) -> str:
    return prefix + secrets.token_hex(6).upper()


def create_hub_tables(engine: Engine) -> None:
    """Create the hub tables that are missing; safe when another process does it at once."""
    database.create_tables(engine, metadata)


class Database(ThreadedStore):
    """The hub database: one short transaction at a time, in a worker thread."""

    metadata = metadata
    label = "hub database"


def open_database(url: str) -> Database:
    """A Database on a SQLAlchemy URL (SQLite files get WAL and a busy timeout)."""
    return Database(database.make_engine(url), dispose_engine=True)
