"""Tables of the Telegram channel's durable store, and the engine it runs on.

- telegram_updates: every update received, keyed by Telegram's update_id so a re-sent update
  is recognised; state received → answered, or dead (dead-lettered) or ignored.
- telegram_chats: one lease per chat, held by the process working on that chat's updates.
- telegram_outbox: one row per Bot API call to make; written in the same transaction that
  marks its update answered; state pending → sent, or failed.
- telegram_dead_letters: updates that could not be processed, with the error.
- telegram_buttons: button payloads too long for Telegram's 64-byte callback_data.

Times are Unix seconds (floats). Lease rows carry a version for compare-and-swap claims.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text, create_engine, event,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool, StaticPool

metadata = MetaData()

updates = Table(
    "telegram_updates", metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("chat_id", String(32), nullable=True),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", Float, nullable=False, default=0.0),
    Column("last_error", Text, nullable=True),
    Column("received_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Index("ix_telegram_updates_work", "state", "chat_id", "update_id"),
)

chats = Table(
    "telegram_chats", metadata,
    Column("chat_id", String(32), primary_key=True),
    Column("owner", String(200), nullable=True),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("version", Integer, nullable=False, default=0),
)

outbox = Table(
    "telegram_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", String(32), nullable=False),
    Column("update_id", BigInteger, nullable=True),
    Column("method", String(64), nullable=False),
    Column("params", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", Float, nullable=False, default=0.0),
    Column("owner", String(200), nullable=True),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("version", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_telegram_outbox_work", "state", "chat_id", "id"),
)

dead_letters = Table(
    "telegram_dead_letters", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("update_id", BigInteger, nullable=True),
    Column("chat_id", String(32), nullable=True),
    Column("payload", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("at", Float, nullable=False),
)

buttons = Table(
    "telegram_buttons", metadata,
    Column("token", String(32), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)


def make_engine(url: str, timeout: float) -> Engine:
    """An engine whose waits (connecting, or a locked database) end after about `timeout` s."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or "mode=memory" in database
        if not in_memory and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, future=True, poolclass=StaticPool if in_memory else QueuePool,
            connect_args={"check_same_thread": False, "timeout": timeout},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and parsed.get_driver_name() == "psycopg2":
        connect_args = {"connect_timeout": max(1, int(timeout)),
                        "options": f"-c lock_timeout={int(timeout * 1000)}"}
    return create_engine(parsed, future=True, pool_pre_ping=True, pool_timeout=timeout,
                         connect_args=connect_args)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an update we answered 200 for survives a power cut, not only a crash
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()
