"""WebChatSender, the hub's way to a web chat (or REST) customer, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.channel_registry import ChannelRegistry, DeliveryFailed
from bot.settings import Settings
from channels.webchat.plugin import PLUGIN
from channels.webchat.sender import WebChatSender
from channels.webchat.store import WebChatStore
from channels.webchat.tables import messages


async def test_agent_messages_reach_a_web_chat_session(store: WebChatStore) -> None:
    session = await store.create_session()
    await store.append(session.sender_id, "customer", [{"text": "I want a person"}])
    sender = WebChatSender(store)
    await sender.send(session.sender_id, [
        {"text": "Hi, I'm Sam. I'm looking at your order now.", "agent": "Sam"},
        {"text": "Here it is:", "agent": "Sam", "image": "https://cdn.example/o.png"},
        {"text": "Anything else?", "agent": "Sam", "buttons": [
            {"title": "No, thanks", "payload": "/deny"}]},
    ])
    history = [m.to_json() for m in await store.history(session.sender_id, after=1)]
    assert [(m["id"], m["role"], m["agent"]) for m in history] == [
        (2, "agent", "Sam"), (3, "agent", "Sam"), (4, "agent", "Sam")]
    assert history[1]["image"] == "https://cdn.example/o.png"
    assert history[2]["buttons"] == [{"title": "No, thanks", "payload": "/deny"}]
    await sender.close()  # does not close a store it was given
    assert len(await store.history(session.sender_id)) == 4


async def test_messages_without_an_agent_are_the_bots_relayed_by_the_hub(
        store: WebChatStore) -> None:
    """After a hand-back the hub delivers the bot's messages (from trigger_intent) too."""
    await WebChatSender(store).send("rest-customer-7", [
        {"text": "Sam has to go now.", "agent": "Sam"},
        {"text": "How would you rate this conversation?", "buttons": [
            {"title": "5", "payload": '/rate{"rating": "5"}'}]},
        {"text": "A colleague without a name", "agent": ""},
    ])
    shown = [(m.role, m.agent_name, m.payload["text"])
             for m in await store.history("rest-customer-7")]
    assert shown == [("agent", "Sam", "Sam has to go now."),
                     ("bot", None, "How would you rate this conversation?"),
                     ("agent", None, "A colleague without a name")]


async def test_rest_conversations_are_queued(store: WebChatStore) -> None:
    sender = WebChatSender(store)
    await sender.send("shop-app:42", [{"text": "Hello from Sam", "agent": "Sam"}])
    assert [m.payload["text"] for m in await store.history("shop-app:42")] == ["Hello from Sam"]


@pytest.mark.parametrize("recipient, message, reason", [
    ("wc-000000000000000000000000", {"text": "hi"}, "no web chat session"),
    ("bad id with spaces", {"text": "hi"}, "not a conversation id"),
    ("", {"text": "hi"}, "not a conversation id"),
    ("shop-app:1", {"text": ""}, "must have text"),
    ("shop-app:1", {"custom_field": 1}, "must have text"),
    ("shop-app:1", {"text": "x" * 30_000}, "at most"),
])
async def test_undeliverable_messages_are_refused(store: WebChatStore, recipient: str,
                                                  message: dict, reason: str) -> None:
    await store.ensure_tables()
    with pytest.raises(DeliveryFailed, match=reason):
        await WebChatSender(store).send(recipient, [message])
    with store.engine.connect() as connection:
        assert connection.execute(select(messages)).all() == []


async def test_a_store_that_is_down_is_a_delivery_failure(tmp_path: Path) -> None:
    sender = WebChatSender(WebChatStore.from_url(
        "postgresql+psycopg2://postgres@127.0.0.1:1/nothing_here"), owns_store=True)
    with pytest.raises(DeliveryFailed, match="unavailable"):
        await sender.send("shop-app:1", [{"text": "hello"}])
    await sender.close()


async def test_from_settings_uses_the_hub_database(tmp_path: Path) -> None:
    settings = Settings.from_env({"RAPPORT_HOME": str(tmp_path),
                                  "RAPPORT_HUB_DB_URL": f"sqlite:///{tmp_path / 'hub.db'}"})
    for channel in ("webchat", "rest"):
        sender = ChannelRegistry([PLUGIN]).sender_for(channel, settings)
        assert isinstance(sender, WebChatSender)
        await sender.send("shop-app:9", [{"text": f"via {channel}", "agent": "Sam"}])
        await sender.close()
    store = WebChatStore.from_url(settings.hub_db_url)
    try:
        assert [m.payload["text"] for m in await store.history("shop-app:9")] == [
            "via webchat", "via rest"]
        with store.engine.connect() as connection:
            tables = connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
        assert {"webchat_sessions", "webchat_messages"} <= set(tables)
    finally:
        await store.close()
