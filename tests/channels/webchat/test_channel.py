"""The web chat channel in a real Sanic app wired as Rasa wires it, with a scripted agent."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import timedelta
from pathlib import Path

import pytest
from rasa.shared.core.events import BotUttered, UserUttered
from sqlalchemy import select, update

from bot.database import naive_utcnow
from channels.webchat import channel as webchat_channel
from channels.webchat.channel import HistoryWatcher, WebChatOutput
from channels.webchat.sender import WebChatSender
from channels.webchat.store import TurnLease, WebChatStore
from channels.webchat.tables import messages, sessions

from channels.leases import new_owner
from tests.channels.lease_owners import dead_owner

from .conftest import SHOP

LONG_POLL_S = 20  # the longest wait a long poll may ask for


@pytest.fixture
def no_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiting requests re-read the history only when woken (or when their wait ends)."""
    monkeypatch.setattr(webchat_channel, "RECHECK_S", 10 * LONG_POLL_S)


async def until_waiting(watcher: HistoryWatcher, conversation_id: str) -> None:
    """Until a long poll waits on `conversation_id` (so a write now must wake it)."""
    deadline = time.monotonic() + 10
    while conversation_id not in watcher._waiters:
        assert time.monotonic() < deadline, "the long poll never started waiting"
        await asyncio.sleep(0.01)


async def test_a_session_gives_a_token_and_a_derived_sender(channel_server) -> None:
    server = await channel_server()
    status, body, headers = await server.request("POST", "/session")
    assert status == 201 and set(body) == {"token"}
    assert headers["Access-Control-Allow-Origin"] == SHOP and headers["Cache-Control"] == "no-store"
    status, replies = await server.say(body["token"], "hello")
    assert status == 200
    (received,) = server.agent.received
    digest = hashlib.sha256(body["token"].encode()).hexdigest()
    assert received.sender_id == "wc-" + digest[:24] and body["token"] not in received.sender_id
    assert received.input_channel == "webchat" and received.text == "hello"
    assert [(m["id"], m["role"], m["text"]) for m in replies["messages"]] == [
        (1, "customer", "hello"), (2, "bot", "echo: hello")]


async def test_health(channel_server) -> None:
    server = await channel_server()
    assert (await server.request("GET", "/"))[:2] == (200, {"status": "ok"})


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Basic abc", "Bearer short", "Bearer " + "x" * 43,
    "Bearer " + "é" * 43, "Bearer a b c d e f g h i j k l m n o p q r s t u v",
])
async def test_a_bad_or_missing_token_is_401(channel_server, authorization) -> None:
    server = await channel_server()
    headers = {"Authorization": authorization} if authorization is not None else {}
    for method, path, body in (("POST", "/message", {"message": "hi"}),
                               ("GET", "/history?after=0", None)):
        status, answer, sent = await server.request(method, path, json=body, headers=headers)
        assert status == 401 and "error" in answer, (authorization, answer)
        assert sent["WWW-Authenticate"] == "Bearer"
        assert sent["Access-Control-Allow-Origin"] == SHOP  # the widget can read why
    assert server.agent.received == []


async def test_an_idle_session_is_401(channel_server, tmp_path: Path) -> None:
    server = await channel_server()
    token = await server.new_token()
    store: WebChatStore = server.channel.store
    with store.engine.begin() as connection:
        connection.execute(update(sessions).values(
            last_seen_at=naive_utcnow() - timedelta(days=40)))
    status, body = await server.say(token, "hello")
    assert status == 401 and "expired" in body["error"]


async def test_allowed_origin_gets_cors_headers_and_others_are_refused(channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    status, _, headers = await server.request("GET", "/history", token=token)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in headers["Vary"]
    for origin in ("http://evil.example", "http://shop.example.evil.example",
                   "https://shop.example", "http://shop.example:8080", "null"):
        for method, path in (("POST", "/session"), ("POST", "/message"), ("GET", "/history")):
            status, body, headers = await server.request(method, path, token=token,
                                                         origin=origin, json={"message": "x"})
            assert status == 403 and "Access-Control-Allow-Origin" not in headers, origin
    assert server.agent.received == []
    # No Origin (a server, curl): allowed, without CORS headers.
    status, _, headers = await server.request("GET", "/history", token=token, origin=None)
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


async def test_several_origins_can_be_allowed(channel_server) -> None:
    server = await channel_server(RAPPORT_WEBCHAT_ORIGINS="https://a.example, https://b.example/")
    for origin in ("https://a.example", "https://b.example"):
        status, _, headers = await server.request("POST", "/session", origin=origin)
        assert status == 201 and headers["Access-Control-Allow-Origin"] == origin
    assert (await server.request("POST", "/session"))[0] == 403  # SHOP is not listed now


async def test_preflight(channel_server) -> None:
    server = await channel_server()
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    for path in ("/session", "/message", "/history"):
        status, _, headers = await server.request("OPTIONS", path, headers=preflight)
        assert status == 204, path
        assert headers["Access-Control-Allow-Origin"] == SHOP
        assert headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
        assert "POST" in headers["Access-Control-Allow-Methods"]
        assert headers["Access-Control-Max-Age"] == "600"
        assert headers.getall("Access-Control-Allow-Origin") == [SHOP]  # not doubled by sanic-cors
        status, _, headers = await server.request("OPTIONS", path, origin="http://evil.example",
                                                  headers=preflight)
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
    store: WebChatStore = server.channel.store
    await store.ensure_tables()
    with store.engine.connect() as connection:  # a preflight never creates a session
        assert connection.execute(select(sessions)).all() == []


async def test_long_message_is_413_and_empty_is_400(channel_server) -> None:
    server = await channel_server(RAPPORT_MAX_MESSAGE_CHARS="100")
    token = await server.new_token()
    status, body = await server.say(token, "x" * 101)
    assert status == 413 and "too long" in body["error"]
    assert (await server.say(token, "x" * 100))[0] == 200
    for empty in ("", "   ", "\n\t", "\u0000\u0007"):
        status, body = await server.say(token, empty)
        assert status == 400 and "empty" in body["error"], repr(empty)
    status, body, _ = await server.request("POST", "/message", token=token,
                                           data=b'{"message": "' + b"x" * 70_000 + b'"}')
    assert status == 413


@pytest.mark.parametrize("raw, reason", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "not valid UTF-8"),
    (b'["a", "list"]', "JSON object"),
    (b"", "not valid JSON"),
    (b'{"message": 42}', "must be a string"),
    (b'{"message": null}', "must be a string"),
    (b'{"message": "hi", "client_id": "has spaces"}', "client_id"),
    (b'{"message": "hi", "after": -1}', "after"),
    (b'{"message": "hi", "after": "3"}', "after"),
    (b'{"message": "hi", "after": true}', "after"),
])
async def test_malformed_bodies_are_400(channel_server, raw: bytes, reason: str) -> None:
    server = await channel_server()
    token = await server.new_token()
    status, body, _ = await server.request("POST", "/message", token=token, data=raw,
                                           headers={"Content-Type": "application/json"})
    assert status == 400 and reason in body["error"]
    assert server.agent.received == []


async def test_typed_commands_are_words_and_only_offered_buttons_are_commands(
        channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    await server.say(token, "/EXTERNAL_handoff_resolved")
    await server.say(token, '/inform{"order_number": "RP-100001"}')  # typed, nothing offered
    await server.say(token, "/affirm", title="Yes, please")  # no button offered it
    await server.say(token, "\u00a0/ restart")
    await server.say(token, "buttons")
    await server.say(token, "/affirm", title="Yes, please")  # the button just offered
    texts = [m.text for m in server.agent.received]
    assert texts == ["EXTERNAL_handoff_resolved", 'inform{"order_number": "RP-100001"}',
                     "affirm", "restart", "buttons", "/affirm"]
    status, body, _ = await server.request("GET", "/history?after=0", token=token)
    customer = [m for m in body["messages"] if m["role"] == "customer"]
    assert customer[2] == {**customer[2], "text": "affirm"} and "payload" not in customer[2]
    assert customer[-1]["text"] == "Yes, please" and customer[-1]["payload"] == "/affirm"


async def test_buttons_come_back_as_buttons(channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    status, body = await server.say(token, "buttons")
    reply = body["messages"][-1]
    assert reply["role"] == "bot" and reply["text"] == "Is that okay?"
    assert reply["buttons"] == [{"title": "Yes, please", "payload": "/affirm"},
                                {"title": "No", "payload": "/deny"}]


async def test_history_pages(channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    for n in range(5):
        await server.say(token, f"m{n}")
    status, body, headers = await server.request("GET", "/history?after=0", token=token)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert [m["id"] for m in body["messages"]] == list(range(1, 11)) and body["more"] is False
    status, body, _ = await server.request("GET", "/history?after=3&limit=4", token=token)
    assert [m["id"] for m in body["messages"]] == [4, 5, 6, 7] and body["more"] is True
    assert [m["text"] for m in body["messages"]] == ["echo: m1", "m2", "echo: m2", "m3"]
    status, body, _ = await server.request("GET", "/history?after=10", token=token)
    assert body == {"messages": [], "more": False}
    for bad in ("after=-1", "after=abc", "limit=0", "limit=1000", "wait=99", "wait=x"):
        status, body, _ = await server.request("GET", f"/history?{bad}", token=token)
        assert status == 400 and "error" in body, bad


async def test_sessions_do_not_see_each_other(channel_server) -> None:
    server = await channel_server()
    first, second = await server.new_token(), await server.new_token()
    await server.say(first, "mine")
    status, body, _ = await server.request("GET", "/history", token=second)
    assert body["messages"] == []


async def test_agent_messages_from_the_outbox_appear_in_history(channel_server,
                                                               tmp_path: Path) -> None:
    server = await channel_server()
    token = await server.new_token()
    await server.say(token, "I'd like a person")
    sender_id = server.agent.received[0].sender_id
    hub = WebChatSender(WebChatStore.from_url(f"sqlite:///{tmp_path / 'hub.db'}"),
                       owns_store=True)  # the hub: another engine on the same database
    await hub.send(sender_id, [{"text": "Hi, Sam here. Let me look.", "agent": "Sam"}])
    await hub.close()
    status, body, _ = await server.request("GET", "/history?after=2", token=token)
    assert [(m["id"], m["role"], m["agent"], m["text"]) for m in body["messages"]] == [
        (3, "agent", "Sam", "Hi, Sam here. Let me look.")]


async def test_a_long_poll_answers_when_an_agent_writes(channel_server, tmp_path: Path) -> None:
    server = await channel_server()
    token = await server.new_token()
    await server.say(token, "hello")
    sender_id = server.agent.received[0].sender_id
    hub = WebChatSender(WebChatStore.from_url(f"sqlite:///{tmp_path / 'hub.db'}"),
                       owns_store=True)  # the hub: another engine, so only the watcher sees it
    poll = asyncio.create_task(
        server.request("GET", f"/history?after=2&wait={LONG_POLL_S}", token=token))
    await until_waiting(server.channel.watcher, sender_id)

    written = time.monotonic()
    await hub.send(sender_id, [{"text": "Sam here.", "agent": "Sam"}])
    status, body, _ = await poll
    woke = time.monotonic() - written
    await hub.close()
    assert status == 200 and [m["text"] for m in body["messages"]] == ["Sam here."]
    # woken (by the watcher, or at its next re-read), not at the end of its wait
    assert woke < LONG_POLL_S / 2, woke


async def test_a_long_poll_with_nothing_new_answers_empty_after_wait(channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    started = time.monotonic()
    status, body, _ = await server.request("GET", "/history?after=0&wait=1", token=token)
    assert status == 200 and body["messages"] == []
    assert 0.9 < time.monotonic() - started < LONG_POLL_S / 2  # its own wait, not the longest


async def test_a_long_poll_wakes_for_the_customers_own_turn(channel_server, no_recheck) -> None:
    server = await channel_server()
    token = await server.new_token()
    sender_id = (await server.channel.store.session_for_token(token)).sender_id
    poll = asyncio.create_task(
        server.request("GET", f"/history?after=0&wait={LONG_POLL_S}", token=token))
    await until_waiting(server.channel.watcher, sender_id)
    started = time.monotonic()
    await server.say(token, "hi")
    status, body, _ = await poll
    assert body["messages"][0]["text"] == "hi"
    assert time.monotonic() - started < LONG_POLL_S / 2  # woken, not at the end of its wait


async def test_a_retry_with_the_same_client_id_is_not_run_twice(channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    first = await server.say(token, "hello", client_id="c-1", after=0)
    again = await server.say(token, "hello", client_id="c-1", after=0)
    assert first == again and len(server.agent.received) == 1
    assert [m["text"] for m in again[1]["messages"]] == ["hello", "echo: hello"]


# -- a turn left unfinished: the process answering it died (kill -9) ---------------------

async def _left_unfinished(server, token: str, text: str, client_id: str, owner: str) -> str:
    """Store `text` as the widget's message whose turn `owner` started and never finished
    (as a killed process leaves it); its conversation's sender id."""
    sender = "wc-" + hashlib.sha256(token.encode()).hexdigest()[:24]
    await server.channel.store.append(sender, "customer", [{"text": text}], client_id=client_id,
                                      turn=TurnLease(owner, time.time() + 120))
    return sender


async def test_a_retry_runs_a_turn_its_dead_runner_left_unanswered(channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    await _left_unfinished(server, token, "where is my order", "c-2", dead_owner())
    status, body = await server.say(token, "where is my order", client_id="c-2")
    assert status == 200, body
    assert [m["text"] for m in body["messages"]] == ["where is my order",
                                                     "echo: where is my order"]
    assert [m.message_id for m in server.agent.received] == ["webchat-1"]
    again = await server.say(token, "where is my order", client_id="c-2")  # answered now
    assert again == (status, body) and len(server.agent.received) == 1


async def test_a_turn_rasa_finished_before_the_crash_is_read_back_not_run_again(
        channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    sender = await _left_unfinished(server, token, "hello", "c-3", dead_owner())
    # Rasa saved the turn (and its buttons) before the process died; the web chat never
    # stored the replies.
    tracker = await server.agent.tracker_store.get_or_create_tracker(sender)
    tracker.update(UserUttered("hello", message_id="webchat-1"))
    tracker.update(BotUttered("Hi! Pick one:", data={"buttons": [
        {"title": "Orders", "payload": "/order_status"}]}))
    await server.agent.tracker_store.save(tracker)
    status, body = await server.say(token, "hello", client_id="c-3")
    assert status == 200, body
    assert server.agent.received == []  # not run twice: no second user event in Rasa
    assert body["messages"][1]["text"] == "Hi! Pick one:"
    assert body["messages"][1]["buttons"] == [{"title": "Orders", "payload": "/order_status"}]


async def test_a_retry_while_the_turn_is_running_waits_for_its_answer(channel_server) -> None:
    release = asyncio.Event()

    async def slow(message):
        await release.wait()
        return [f"echo: {message.text}"]

    server = await channel_server(reply=slow)
    token = await server.new_token()
    first = asyncio.create_task(server.say(token, "hi", client_id="c-4"))
    deadline = time.monotonic() + 10
    while not server.agent.received:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    retry = asyncio.create_task(server.say(token, "hi", client_id="c-4"))
    await asyncio.sleep(0.5)
    assert not retry.done()  # waiting for the running turn, not running it again
    release.set()
    assert (await first)[1]["messages"] == (await retry)[1]["messages"]
    assert len(server.agent.received) == 1


async def test_a_live_runners_turn_is_not_taken_until_its_lease_ends(channel_server) -> None:
    server = await channel_server(max_wait=0.5)
    token = await server.new_token()
    alive = new_owner()  # this process, another runner: certainly alive
    sender = await _left_unfinished(server, token, "hi", "c-5", alive)
    status, body = await server.say(token, "hi", client_id="c-5")
    assert status == 503 and "still answering" in body["error"]
    assert server.agent.received == []
    with server.channel.store.engine.begin() as db:  # the lease runs out (a hung runner)
        db.execute(update(messages).where(messages.c.conversation_id == sender)
                   .values(turn_lease_until=time.time() - 1))
    status, body = await server.say(token, "hi", client_id="c-5")
    assert status == 200 and [m["text"] for m in body["messages"]] == ["hi", "echo: hi"]


async def test_after_returns_what_arrived_meanwhile(channel_server, tmp_path: Path) -> None:
    server = await channel_server()
    token = await server.new_token()
    await server.say(token, "one")
    hub = WebChatSender(server.channel.store)
    await hub.send(server.agent.received[0].sender_id, [{"text": "agent note", "agent": "Sam"}])
    status, body = await server.say(token, "two", after=2)
    assert [m["text"] for m in body["messages"]] == ["agent note", "two", "echo: two"]


async def test_a_failed_turn_is_503_and_can_be_retried(channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    status, body = await server.say(token, "boom", client_id="c-9")
    assert status == 503 and "try again" in body["error"]
    status, body, _ = await server.request("GET", "/history", token=token)
    assert body["messages"] == []  # the failed message is not left behind
    status, body = await server.say(token, "boom", client_id="c-9")
    assert status == 503 and len(server.agent.received) == 2  # the retry ran again


async def test_a_store_that_is_down_is_503(channel_server) -> None:
    server = await channel_server(store=WebChatStore.from_url(
        "postgresql+psycopg2://postgres@127.0.0.1:1/nothing_here"))
    status, body, headers = await server.request("POST", "/session")
    assert status == 503 and "unavailable" in body["error"]
    assert headers["Access-Control-Allow-Origin"] == SHOP


async def test_the_output_channel_stores_bot_messages(channel_server) -> None:
    """What Rasa uses for messages it sends outside a request (e.g. after a handoff)."""
    server = await channel_server()
    token = await server.new_token()
    await server.say(token, "hello")
    sender_id = server.agent.received[0].sender_id
    output = server.channel.get_output_channel()
    assert isinstance(output, WebChatOutput) and output.name() == "webchat"
    await output.send_response(sender_id, {"text": "Glad we could help. How did we do?",
                                           "buttons": [{"title": "5", "payload": "/rate"}]})
    status, body, _ = await server.request("GET", "/history?after=2", token=token)
    assert [(m["role"], m["text"]) for m in body["messages"]] == [
        ("bot", "Glad we could help. How did we do?")]


@pytest.mark.parametrize("method, path", [
    ("PUT", "/message"), ("DELETE", "/session"), ("GET", "/message"), ("POST", "/history"),
    ("GET", "/nothing"),
])
async def test_other_methods_and_paths_are_not_500(channel_server, method, path) -> None:
    server = await channel_server()
    status, _, _ = await server.request(method, path)
    assert 400 <= status < 500


async def test_the_token_is_never_stored(channel_server) -> None:
    server = await channel_server()
    token = await server.new_token()
    await server.say(token, "hello")
    store: WebChatStore = server.channel.store
    with store.engine.connect() as connection:
        dump = repr(connection.execute(select(sessions)).all()) + repr(
            connection.execute(select(messages)).all())
    assert token not in dump


# -- the watcher behind long polls -----------------------------------------------------------

async def test_the_watcher_wakes_on_writes_from_another_process_and_on_close(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    rasa, hub = WebChatStore.from_url(url), WebChatStore.from_url(url)
    watcher = HistoryWatcher(rasa, interval=0.1)

    async def wakes_for(conversation_id: str) -> None:
        """Write to the conversation until the watcher wakes a waiter on it (the watcher
        starts from the newest row when someone starts waiting: a write just before is old)."""
        waiter = asyncio.create_task(watcher.wait(conversation_id, 60))
        for _ in range(20):
            await hub.append(conversation_id, "agent", [{"text": "not for wc-1"}])
            if (await asyncio.wait({waiter}, timeout=0.5))[0]:
                return
        raise AssertionError(f"the watcher never woke the waiter on {conversation_id}")

    try:
        await rasa.ensure_tables()
        started = time.monotonic()
        await asyncio.wait_for(watcher.wait("wc-1", 0.3), 10)  # nothing happens: it times out
        assert time.monotonic() - started > 0.25

        mine = asyncio.create_task(watcher.wait("wc-1", 60))
        await wakes_for("wc-2")  # the watcher reads every write now...
        await wakes_for("wc-3")  # ...and one round more: a wrongly woken wc-1 would be done
        assert not mine.done()  # another conversation's message does not wake it
        await hub.append("wc-1", "agent", [{"text": "for wc-1"}])
        await asyncio.wait_for(mine, 10)  # its own does, long before its 60 s

        waiting = asyncio.create_task(watcher.wait("wc-1", 60))
        await asyncio.sleep(0)  # it waits now
        await watcher.close()  # shutting down: every waiting request answers at once
        await asyncio.wait_for(waiting, 10)
        assert watcher.closed
    finally:
        await watcher.close()
        await rasa.close()
        await hub.close()
