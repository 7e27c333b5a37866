"""WebChatStore and OutboxSender on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from bot.settings import Settings
from channels.senders import DeliveryFailed, sender_for
from channels.webchat.outbox import (
    DuplicateMessage, OutboxSender, WebChatStore, clean_payload, messages, sessions, utcnow,
)


async def test_schema_is_created_idempotently(store_url: str) -> None:
    first, second = WebChatStore.from_url(store_url), WebChatStore.from_url(store_url)
    try:
        await first.ensure_schema()
        await second.ensure_schema()  # tables exist already: nothing to do, no error
        await first.ensure_schema()
        assert await second.history("anyone") == []
    finally:
        await first.close()
        await second.close()


async def test_a_session_keeps_only_the_hash_of_its_token(store: WebChatStore) -> None:
    session = await store.create_session()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", session.token)
    digest = hashlib.sha256(session.token.encode()).hexdigest()
    assert session.sender_id == "wc-" + digest[:24]
    with store._engine.connect() as connection:
        rows = connection.execute(select(sessions)).all()
    assert len(rows) == 1 and rows[0].token_hash == digest
    assert session.token not in repr(rows)
    found = await store.session_for_token(session.token)
    assert found is not None and found.sender_id == session.sender_id and found.token is None
    other = session.token[:-1] + ("B" if session.token.endswith("A") else "A")
    assert await store.session_for_token(other) is None


async def test_tokens_are_unique(store: WebChatStore) -> None:
    made = [await store.create_session() for _ in range(20)]
    assert len({s.token for s in made}) == len({s.sender_id for s in made}) == 20


async def test_an_idle_session_expires_and_use_refreshes_it(store_url: str) -> None:
    store = WebChatStore.from_url(store_url)
    try:
        session = await store.create_session()
        with store._engine.begin() as connection:
            connection.execute(update(sessions).values(
                last_seen_at=utcnow() - timedelta(days=29)))
        assert await store.session_for_token(session.token) is not None  # and seen now
        with store._engine.connect() as connection:
            seen = connection.execute(select(sessions.c.last_seen_at)).scalar_one()
        assert utcnow() - seen < timedelta(minutes=1)
        with store._engine.begin() as connection:
            connection.execute(update(sessions).values(
                last_seen_at=utcnow() - timedelta(days=31)))
        assert await store.session_for_token(session.token) is None
    finally:
        await store.close()


async def test_messages_are_numbered_per_conversation(store: WebChatStore) -> None:
    await store.append("wc-a", "customer", [{"text": "hi"}])
    await store.append("wc-b", "customer", [{"text": "hello"}])
    replies = await store.append("wc-a", "bot", [{"text": "one"}, {"text": "two"}])
    assert [m.seq for m in replies] == [2, 3]
    history = await store.history("wc-a")
    assert [(m.seq, m.role, m.payload["text"]) for m in history] == [
        (1, "customer", "hi"), (2, "bot", "one"), (3, "bot", "two")]
    assert [m.seq for m in await store.history("wc-b")] == [1]
    assert [m.seq for m in await store.history("wc-a", after=1, limit=1)] == [2]
    assert await store.history("wc-a", after=3) == []
    shown = history[1].to_json()
    assert shown["id"] == 2 and shown["role"] == "bot" and shown["agent"] is None
    assert shown["text"] == "one" and shown["timestamp"].endswith("+00:00")


async def test_unicode_and_hostile_text_round_trip(store: WebChatStore) -> None:
    payload = {"text": "Zoë’s <script>alert(1)</script> '; DROP TABLE webchat_messages; -- 🙂"}
    await store.append("wc-x", "customer", [payload])
    assert (await store.history("wc-x"))[0].payload == payload


async def test_concurrent_writers_get_gap_free_numbers(store_url: str) -> None:
    """Two stores (as the Rasa process and the hub) writing one conversation at once."""
    rasa, hub = WebChatStore.from_url(store_url), WebChatStore.from_url(store_url)
    try:
        await rasa.ensure_schema()
        await hub.ensure_schema()
        writes = [(rasa if i % 2 else hub).append("wc-busy", "bot" if i % 2 else "agent",
                                                 [{"text": f"m{i}"}]) for i in range(30)]
        await asyncio.gather(*writes)
        numbers = [m.seq for m in await rasa.history("wc-busy")]
        assert numbers == list(range(1, 31))
    finally:
        await rasa.close()
        await hub.close()


async def test_a_repeated_client_id_is_refused(store: WebChatStore) -> None:
    await store.append("wc-c", "customer", [{"text": "hi"}], client_id="abc")
    with pytest.raises(DuplicateMessage) as repeated:
        await store.append("wc-c", "customer", [{"text": "hi"}], client_id="abc")
    assert repeated.value.seq == 1
    await store.append("wc-other", "customer", [{"text": "hi"}], client_id="abc")  # own space
    await store.remove("wc-c", 1)
    assert await store.history("wc-c") == []


async def test_changed_since_names_the_conversations(store: WebChatStore) -> None:
    start = await store.last_row_id()
    await store.append("wc-1", "bot", [{"text": "a"}])
    await store.append("wc-2", "agent", [{"text": "b"}])
    cursor, changed = await store.changed_since(start)
    assert changed == {"wc-1", "wc-2"} and cursor == await store.last_row_id()
    assert await store.changed_since(cursor) == (cursor, set())


def test_clean_payload_keeps_only_what_the_widget_shows() -> None:
    assert clean_payload({
        "recipient_id": "wc-1", "text": "Hi", "image": "javascript:alert(1)",
        "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "broken"}, "nonsense"],
        "elements": [1], "custom": {"kind": "card"},
    }) == {"text": "Hi", "buttons": [{"title": "Yes", "payload": "/affirm"}],
           "custom": {"kind": "card"}}
    assert clean_payload({"image": "https://cdn.example/a.png"}) == {
        "image": "https://cdn.example/a.png"}
    assert clean_payload({"text": ""}) == {}


# -- OutboxSender ----------------------------------------------------------------------------

async def test_agent_messages_reach_a_web_chat_session(store: WebChatStore) -> None:
    session = await store.create_session()
    await store.append(session.sender_id, "customer", [{"text": "I want a person"}])
    sender = OutboxSender(store)
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
    await OutboxSender(store).send("rest-customer-7", [
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
    sender = OutboxSender(store)
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
    await store.ensure_schema()
    with pytest.raises(DeliveryFailed, match=reason):
        await OutboxSender(store).send(recipient, [message])
    with store._engine.connect() as connection:
        assert connection.execute(select(messages)).all() == []


async def test_a_store_that_is_down_is_a_delivery_failure(tmp_path: Path) -> None:
    sender = OutboxSender(WebChatStore.from_url(
        "postgresql+psycopg2://postgres@127.0.0.1:1/nothing_here"), owns_store=True)
    with pytest.raises(DeliveryFailed, match="unavailable"):
        await sender.send("shop-app:1", [{"text": "hello"}])
    await sender.close()


async def test_from_settings_uses_the_hub_database(tmp_path: Path) -> None:
    settings = Settings.from_env({"RAPPORT_HOME": str(tmp_path),
                                  "RAPPORT_HUB_DB_URL": f"sqlite:///{tmp_path / 'hub.db'}"})
    for channel in ("webchat", "rest"):
        sender = sender_for(channel, settings)
        assert isinstance(sender, OutboxSender)
        await sender.send("shop-app:9", [{"text": f"via {channel}", "agent": "Sam"}])
        await sender.close()
    store = WebChatStore.from_url(settings.hub_db_url)
    try:
        assert [m.payload["text"] for m in await store.history("shop-app:9")] == [
            "via webchat", "via rest"]
        with store._engine.connect() as connection:
            tables = connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
        assert {"webchat_sessions", "webchat_messages"} <= set(tables)
    finally:
        await store.close()
