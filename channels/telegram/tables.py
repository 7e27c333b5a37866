"""Tables of the Telegram channel's durable store.

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

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text

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
