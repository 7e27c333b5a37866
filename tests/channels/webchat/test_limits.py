"""Web chat resource limits (issue 10, finding 9): new sessions per client address, messages
per conversation, open long polls per session, and stale sessions purged with their
messages. The real channel in a real Sanic app, with the scripted agent."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from bot.database import naive_utcnow
from channels.rate_limit import FLOOD_REPLY
from channels.webchat.channel import TOO_MANY_SESSIONS, TOO_MANY_WAITS
from channels.webchat.store import WebChatStore
from channels.webchat.tables import sessions

HANG_GUARD_S = 30  # only turns a hang into a failure


async def test_new_sessions_are_limited_per_client_address(channel_server):
    server = await channel_server(RAPPORT_WEBCHAT_SESSIONS_PER_HOUR="3",
                                  RAPPORT_TRUSTED_PROXIES="127.0.0.1")
    behind = {"X-Forwarded-For": "203.0.113.7"}
    statuses = [(await server.request("POST", "/session", headers=behind))[0] for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    status, body, headers = await server.request("POST", "/session", headers=behind)
    assert (status, body) == (429, {"error": TOO_MANY_SESSIONS})
    assert int(headers["Retry-After"]) >= 1
    # another customer behind the same proxy is a different address
    other = {"X-Forwarded-For": "198.51.100.9"}
    assert (await server.request("POST", "/session", headers=other))[0] == 201


async def test_messages_name_the_sessions_creator_not_the_session(channel_server):
    """Verification failures count per client (issue 10, finding 2): every session one
    address opens carries the same creator, a keyed hash of that address, to the actions."""
    server = await channel_server(RAPPORT_TRUSTED_PROXIES="127.0.0.1")
    guesser, customer = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.9"}
    for headers in (guesser, guesser, customer):
        status, body, _ = await server.request("POST", "/session", headers=headers)
        assert status == 201
        assert (await server.say(body["token"], "hello"))[0] == 200
    clients = [message.metadata["rapport_client"] for message in server.agent.received]
    senders = [message.sender_id for message in server.agent.received]
    assert len(set(senders)) == 3  # three conversations...
    assert clients[0] == clients[1] != clients[2]  # ...from two clients
    assert all(len(client) == 32 and "203.0.113.7" not in client for client in clients)


async def test_a_forged_forwarded_for_does_not_escape_the_limit(channel_server):
    """Without a trusted proxy the socket address counts, whatever the header claims."""
    server = await channel_server(RAPPORT_WEBCHAT_SESSIONS_PER_HOUR="2")
    statuses = [(await server.request("POST", "/session",
                                      headers={"X-Forwarded-For": f"192.0.2.{n}"}))[0]
                for n in range(4)]
    assert statuses == [201, 201, 429, 429]


async def test_a_flooding_conversation_gets_a_429(channel_server):
    server = await channel_server(RAPPORT_FLOOD_BURST="2", RAPPORT_FLOOD_PER_MINUTE="1")
    token, calm = await server.new_token(), await server.new_token()
    answers = [await server.say(token, f"hello {n}") for n in range(4)]
    assert [status for status, _ in answers] == [200, 200, 429, 429]
    assert answers[2][1] == {"error": FLOOD_REPLY}
    assert len(server.agent.received) == 2
    assert (await server.say(calm, "hi"))[0] == 200
    status, body, _ = await server.request("GET", "/history", token=token)
    assert [m["text"] for m in body["messages"]] == [
        "hello 0", "echo: hello 0", "hello 1", "echo: hello 1"]  # the refused are not stored


async def test_concurrent_long_polls_per_session_are_bounded(channel_server):
    server = await channel_server(RAPPORT_WEBCHAT_POLLS_PER_SESSION="1")
    token = await server.new_token()
    first = asyncio.create_task(server.request("GET", "/history?wait=20", token=token))
    while not server.channel._polls:  # the first long poll is waiting
        await asyncio.sleep(0.05)
    status, body, headers = await server.request("GET", "/history?wait=20", token=token)
    assert (status, body) == (429, {"error": TOO_MANY_WAITS})
    assert headers["Retry-After"]
    # a plain (non-waiting) read is still answered, and another session may wait
    assert (await server.request("GET", "/history", token=token))[0] == 200
    assert (await server.say(token, "hi"))[0] == 200  # wakes the first poll
    status, body, _ = await asyncio.wait_for(first, HANG_GUARD_S)
    assert status == 200 and body["messages"]
    assert server.channel._polls == {}
    again = asyncio.create_task(server.request("GET", "/history?after=2&wait=20", token=token))
    while not server.channel._polls:
        await asyncio.sleep(0.05)
    await server.channel.store.append(server.agent.received[0].sender_id, "agent", [{"text": "x"}])
    server.channel.watcher.notify(server.agent.received[0].sender_id)
    assert (await asyncio.wait_for(again, HANG_GUARD_S))[0] == 200


async def _age(store: WebChatStore, sender_id: str, days: int) -> None:
    def work() -> None:
        with store.engine.begin() as connection:
            connection.execute(update(sessions).where(sessions.c.sender_id == sender_id)
                               .values(last_seen_at=naive_utcnow() - timedelta(days=days)))
    await store.call(work)


async def test_stale_sessions_are_purged_with_their_messages(store):
    old, fresh = await store.create_session(), await store.create_session()
    for session in (old, fresh):
        await store.append(session.sender_id, "customer", [{"text": "hello"}])
        await store.append(session.sender_id, "bot", [{"text": "hi"}, {"text": "how can I help?"}])
    await _age(store, old.sender_id, 31)

    assert await store.purge_stale(30) == (1, 3)
    assert await store.session_for_token(old.token) is None
    assert await store.history(old.sender_id) == []
    assert not await store.has_session(old.sender_id)
    assert [m.seq for m in await store.history(fresh.sender_id)] == [1, 2, 3]
    assert await store.purge_stale(30) == (0, 0)


async def test_the_channel_purges_stale_sessions_when_it_starts(channel_server, tmp_path):
    store = WebChatStore.from_url(f"sqlite:///{tmp_path / 'hub.db'}")
    old = await store.create_session()
    await store.append(old.sender_id, "customer", [{"text": "hello"}])
    await _age(store, old.sender_id, 8)
    server = await channel_server(store=store, RAPPORT_WEBCHAT_RETENTION_DAYS="7")
    while await store.has_session(old.sender_id):  # the purger runs at start
        await asyncio.sleep(0.05)
    assert await store.history(old.sender_id) == []
    status, _, _ = await server.request("GET", "/history", token=old.token)
    assert status == 401


async def test_a_huge_body_is_refused_before_it_is_read(channel_server):
    """Sanic reads a non-streamed body whole before any route runs (100 MB by default): the
    channel caps every request to Rasa's server, so 10 MB announced gets 413 at once."""
    server = await channel_server()
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for path in ("/webhooks/webchat/session", "/webhooks/webchat/message"):
            writer.write(f"POST {path} HTTP/1.1\r\nHost: localhost\r\n"
                         "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
                         .encode())
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(4096), HANG_GUARD_S)
            assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:200])
            assert b'{"error":"the request is too large' in answer
            writer.close()
            reader, writer = await asyncio.open_connection(host, int(port))
    finally:
        writer.close()
