"""The Telegram store's part of erasure: the channel's prefix, and a store never made."""

from __future__ import annotations

from bot.insight.subject_telegram import TELEGRAM_PREFIX, chat_ids, erase, open_store
from channels.telegram.inbound import CONVERSATION_PREFIX, conversation_id_for


def test_the_prefix_is_the_channels_own():
    assert TELEGRAM_PREFIX == CONVERSATION_PREFIX
    assert chat_ids([conversation_id_for(42), "webchat-42", "rest:shop:tg-1", "tg-"]) == ["42"]


def test_a_store_never_made_holds_nothing(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'telegram.db'}")
    assert store is None
    assert not (tmp_path / "telegram.db").exists()
    assert erase(store, ["tg-42"]) == {"updates": 0, "outbox messages": 0, "dead letters": 0,
                                       "chats": 0}
