"""WebChatStore on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.database import naive_utcnow
from channels.leases import new_owner
from channels.webchat.store import (
    DuplicateMessage, TurnLease, TurnState, WebChatStore, clean_payload,
)
from channels.webchat.tables import sessions
from tests.channels.lease_owners import dead_owner


async def test_schema_is_created_idempotently(store_url: str) -> None:
    first, second = WebChatStore.from_url(store_url), WebChatStore.from_url(store_url)
    try:
        await first.ensure_tables()
        await second.ensure_tables()  # tables exist already: nothing to do, no error
        await first.ensure_tables()
        assert await second.history("anyone") == []
    finally:
        await first.close()
        await second.close()


async def test_a_session_keeps_only_the_hash_of_its_token(store: WebChatStore) -> None:
    session = await store.create_session()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", session.token)
    digest = hashlib.sha256(session.token.encode()).hexdigest()
    assert session.sender_id == "wc-" + digest[:24]
    with store.engine.connect() as connection:
        rows = connection.execute(select(sessions)).all()
    assert len(rows) == 1 and rows[0].token_hash == digest
    assert session.token not in repr(rows)
    found = await store.session_for_token(session.token)
    assert found is not None and found.sender_id == session.sender_id and found.token is None
    other = session.token[:-1] + ("B" if session.token.endswith("A") else "A")
    assert await store.session_for_token(other) is None


async def test_a_session_remembers_who_opened_it(store: WebChatStore) -> None:
    session = await store.create_session("c0ffee")
    assert session.creator == "c0ffee"
    found = await store.session_for_token(session.token)
    assert found is not None and found.creator == "c0ffee"


async def test_a_sessions_table_made_before_creators_gains_the_column(store_url: str) -> None:
    """A hub database from before sessions had a creator: the store adds the column, and the
    sessions already there keep working (with no creator)."""
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert

    old = MetaData()
    Table("webchat_sessions", old, Column("id", Integer, primary_key=True),
          Column("token_hash", String(64), nullable=False, unique=True),
          Column("sender_id", String(64), nullable=False, unique=True),
          Column("created_at", DateTime, nullable=False),
          Column("last_seen_at", DateTime, nullable=False))
    engine = create_engine(store_url)
    old.create_all(engine)
    token = secrets.token_urlsafe(16)
    with engine.begin() as connection:
        connection.execute(insert(old.tables["webchat_sessions"]).values(
            token_hash=hashlib.sha256(token.encode()).hexdigest(), sender_id="wc-old",
            created_at=naive_utcnow(), last_seen_at=naive_utcnow()))
    engine.dispose()
    store = WebChatStore.from_url(store_url)
    try:
        found = await store.session_for_token(token)
        assert found is not None and (found.sender_id, found.creator) == ("wc-old", None)
        assert (await store.create_session("beef")).creator == "beef"
    finally:
        await store.close()


async def test_tokens_are_unique(store: WebChatStore) -> None:
    made = [await store.create_session() for _ in range(20)]
    assert len({s.token for s in made}) == len({s.sender_id for s in made}) == 20


async def test_an_idle_session_expires_and_use_refreshes_it(store_url: str) -> None:
    store = WebChatStore.from_url(store_url)
    try:
        session = await store.create_session()
        with store.engine.begin() as connection:
            connection.execute(update(sessions).values(
                last_seen_at=naive_utcnow() - timedelta(days=29)))
        assert await store.session_for_token(session.token) is not None  # and seen now
        with store.engine.connect() as connection:
            seen = connection.execute(select(sessions.c.last_seen_at)).scalar_one()
        assert naive_utcnow() - seen < timedelta(minutes=1)
        with store.engine.begin() as connection:
            connection.execute(update(sessions).values(
                last_seen_at=naive_utcnow() - timedelta(days=31)))
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
        await rasa.ensure_tables()
        await hub.ensure_tables()
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


# -- turn leases: a customer message's turn is answered, or owned by a runner ------------

async def test_an_answer_clears_the_turn_in_the_same_write(store: WebChatStore) -> None:
    live = new_owner()
    customer = (await store.append("wc-t", "customer", [{"text": "hi"}], client_id="k1",
                                   turn=TurnLease(live, time.time() + 60)))[0]
    other = new_owner()  # another runner of this process
    assert await store.claim_turn("wc-t", customer.seq, other, 60) is TurnState.BUSY
    await store.append("wc-t", "bot", [{"text": "hello!"}], answering=customer.seq)
    assert await store.claim_turn("wc-t", customer.seq, other, 60) is TurnState.ANSWERED
    # A turn with no reply at all is answered too.
    quiet = (await store.append("wc-t", "customer", [{"text": "ok"}],
                                turn=TurnLease(live, time.time() + 60)))[0]
    await store.append("wc-t", "bot", [], answering=quiet.seq)
    assert await store.claim_turn("wc-t", quiet.seq, other, 60) is TurnState.ANSWERED


async def test_one_of_many_claims_on_a_dead_runners_turn_wins(store_url: str) -> None:
    stores = [WebChatStore.from_url(store_url) for _ in range(6)]
    try:
        customer = (await stores[0].append("wc-d", "customer", [{"text": "hi"}],
                                           turn=TurnLease(dead_owner(), time.time() + 60)))[0]
        claims = await asyncio.gather(*(
            store.claim_turn("wc-d", customer.seq, new_owner(), 60) for store in stores))
        assert sorted(state.value for state in claims) == ["busy"] * 5 + ["claimed"]
    finally:
        for store in stores:
            await store.close()


async def test_messages_from_before_turn_leases_count_as_answered(store_url: str) -> None:
    """A hub database whose messages table predates turn leases gains the columns, and its
    messages are never run again."""
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, create_engine

    old = MetaData()
    table = Table("webchat_messages", old, Column("id", Integer, primary_key=True),
                  Column("conversation_id", String(128), nullable=False),
                  Column("seq", Integer, nullable=False), Column("role", String(16)),
                  Column("payload", Text, nullable=False), Column("agent_name", String(80)),
                  Column("client_id", String(64)), Column("created_at", DateTime))
    engine = create_engine(store_url)
    old.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert().values(
            conversation_id="wc-o", seq=1, role="customer", payload='{"text": "hi"}',
            client_id="k", created_at=naive_utcnow()))
    engine.dispose()
    store = WebChatStore.from_url(store_url)
    try:
        await store.ensure_tables()
        assert await store.claim_turn("wc-o", 1, new_owner(), 60) is TurnState.ANSWERED
        with pytest.raises(DuplicateMessage):
            await store.append("wc-o", "customer", [{"text": "hi"}], client_id="k")
    finally:
        await store.close()
