"""One data subject in the Telegram channel's store (settings.telegram_db_url).

Received updates, the outbox and dead letters hold the customer's messages (a shared phone
number among them) by Telegram chat id until the channel purges them. `bot/` may not import
`channels/` (tests/test_layout.py), so the tables are reflected by name and a conversation id
is turned into a chat id with the channel's prefix, `TELEGRAM_PREFIX`, which must equal
`channels.telegram.inbound.CONVERSATION_PREFIX` (a test holds them together).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

from sqlalchemy import MetaData, Table, delete, inspect, select
from sqlalchemy.engine import Engine, make_url

from bot.database import make_engine

TELEGRAM_PREFIX = "tg-"
# The store's tables that hold a chat's messages, by the column holding the chat id.
TELEGRAM_TABLES = (("telegram_updates", "updates"), ("telegram_outbox", "outbox messages"),
                   ("telegram_dead_letters", "dead letters"), ("telegram_chats", "chats"))


def open_store(url: str) -> Optional[Engine]:
    """An engine on the store, or None for a SQLite file never made (it holds nothing)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return None
    return make_engine(url)


def chat_ids(conversation_ids: Iterable[str]) -> list[str]:
    """Telegram chat ids of those conversations that are Telegram chats."""
    return sorted({cid[len(TELEGRAM_PREFIX):] for cid in conversation_ids
                   if cid.startswith(TELEGRAM_PREFIX) and len(cid) > len(TELEGRAM_PREFIX)})


def records(store: Optional[Engine],
            conversation_ids: Iterable[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per Telegram conversation: its rows in each table `erase` empties, by label."""
    chats = chat_ids(conversation_ids)
    found: dict[str, dict[str, list[dict[str, Any]]]] = {
        f"{TELEGRAM_PREFIX}{chat}": {label: [] for _, label in TELEGRAM_TABLES} for chat in chats}
    if store is None or not chats:
        return found
    present = set(inspect(store).get_table_names())
    with store.connect() as connection:
        for name, label in TELEGRAM_TABLES:
            if name not in present:
                continue
            table = Table(name, MetaData(), autoload_with=connection)
            for row in connection.execute(select(table).where(table.c.chat_id.in_(chats))
                                          .order_by(*table.primary_key.columns)):
                found[f"{TELEGRAM_PREFIX}{row.chat_id}"][label].append(dict(row._mapping))
    return found


def erase(store: Optional[Engine], conversation_ids: Iterable[str]) -> dict[str, int]:
    """Delete the chats' updates, outbox, dead letters and leases; counts per table."""
    chats = chat_ids(conversation_ids)
    counts = {label: 0 for _, label in TELEGRAM_TABLES}
    if store is None or not chats:
        return counts
    present = set(inspect(store).get_table_names())
    with store.begin() as connection:
        for name, label in TELEGRAM_TABLES:
            if name in present:
                table = Table(name, MetaData(), autoload_with=connection)
                counts[label] = connection.execute(
                    delete(table).where(table.c.chat_id.in_(chats))).rowcount
    return counts
