"""Tables of the web chat's store, in the hub database (`RAPPORT_HUB_DB_URL`).

- `webchat_sessions`: one row per widget session. Only the SHA-256 of the session token is
  kept; the Rasa sender id is derived from that hash, so the token itself never reaches a
  tracker, a log or the agent console.
- `webchat_messages`: every message of a conversation (customer, bot, agent), keyed by the
  Rasa sender id, numbered 1, 2, 3... per conversation (`seq`). A customer message whose
  turn is running carries the process running it (`turn_owner`, a `channels.leases` owner)
  and until when (`turn_lease_until`, epoch seconds); both are cleared in the transaction
  that stores the bot's replies. A turn whose owner died (kill -9) is run again.
- `webchat_conversations`: each conversation's last number. Writers take numbers by updating
  this row, which holds its lock until they commit, so numbers become visible in order: a
  client that has read up to N never misses a message numbered below N that commits later
  (on PostgreSQL as on SQLite, from any number of processes).

Times are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text,
    UniqueConstraint, inspect,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

MAX_AGENT_NAME = 80

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})
_Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only

sessions = Table(
    "webchat_sessions", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("sender_id", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    # Who opened the session: a keyed hash of the client address (`creator_of`), never the
    # address. Verification failures count against it, so a new session costs a guesser
    # nothing. Null on sessions made before the column existed.
    Column("creator", String(64)),
)

conversations = Table(  # the last number given out in each conversation
    "webchat_conversations", metadata,
    Column("conversation_id", String(128), primary_key=True),
    Column("last_seq", Integer, nullable=False),
)

messages = Table(
    "webchat_messages", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("conversation_id", String(128), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("agent_name", String(MAX_AGENT_NAME)),
    Column("client_id", String(64)),
    Column("created_at", DateTime, nullable=False),
    Column("turn_owner", String(200)),
    Column("turn_lease_until", Float),
    UniqueConstraint("conversation_id", "seq"),
    UniqueConstraint("conversation_id", "client_id"),
    Index("ix_webchat_messages_created_at", "created_at"),
)


# Columns added since a table was first made: (table, column, SQL type).
_ADDED_COLUMNS = (
    (sessions.name, "creator", "VARCHAR(64)"),
    (messages.name, "turn_owner", "VARCHAR(200)"),
    (messages.name, "turn_lease_until", "FLOAT"),
)


def add_missing_columns(engine: Engine) -> None:
    """Columns added since a table was first made (`create_all` never alters a table)."""
    def has(table: str, column: str) -> bool:
        return any(found["name"] == column for found in inspect(engine).get_columns(table))

    for table, column, sql_type in _ADDED_COLUMNS:
        if has(table, column):
            continue
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
        except DBAPIError:
            if not has(table, column):  # not another process adding it at the same moment
                raise
