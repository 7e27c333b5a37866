"""Live updates: the queue and a conversation stream as things happen; the event feed's upkeep."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.hub import keys
from bot.hub.views import console_api
from tests.bot.hub.conftest import events_table, publish, waiting_handoff


async def next_event(response, name: str, timeout: float = 10.0) -> dict:
    """The data of the next server-sent event called `name`."""
    deadline = time.monotonic() + timeout
    event = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {name!r} event within {timeout} s")
        raw = await asyncio.wait_for(response.content.readline(), remaining)
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == name:
            return json.loads(line[6:])


async def eventually(check, timeout: float = 10.0) -> None:
    """Until `await check()` is true (the feed works in the background)."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        await asyncio.sleep(0.05)


def user(text: str, compound: float = 0.0, at: float = None) -> dict:
    return {"event": "user", "text": text, "timestamp": at or time.time(),
            "input_channel": "webchat",
            "parse_data": {"intent": {"name": "inform", "confidence": 0.8},
                           "sentiment": {"compound": compound}}}


async def test_a_new_handoff_appears_in_the_queue_live(hub, console, desk, monkeypatch):
    # No periodic refresh during the test: only the live update can bring the new handoff.
    monkeypatch.setattr(console_api, "TICK_SECONDS", 3600.0)
    sam = await console("sam")
    stream = await sam.client.get("/api/console/queue/stream")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    first = await next_event(stream, "queue")
    assert first["waiting"] == 0
    handoff = await waiting_handoff(desk, "wc-live")
    update = await next_event(stream, "queue")
    assert handoff.id in update["html"] and update["waiting"] == 1
    stream.close()


async def test_the_console_stream_is_the_agents_presence(hub, console, desk):
    sam = await console("sam")
    directory = hub.server.app[keys.AGENTS]
    from datetime import timedelta
    assert await directory.online(timedelta(minutes=1)) == []
    stream = await sam.client.get("/api/console/queue/stream")
    await next_event(stream, "queue")
    assert [a.name for a in await directory.online(timedelta(minutes=1))] == ["sam"]
    stream.close()


async def test_customer_messages_reach_the_conversation_and_the_queue_live(hub, console, desk,
                                                                           hub_settings):
    events = events_table(hub_settings.events_db)
    handoff = await waiting_handoff(desk, "wc-live")
    sam = await console("sam")
    queue = await sam.client.get("/api/console/queue/stream")
    await next_event(queue, "queue")
    talk = await sam.client.get(f"/api/console/handoffs/{handoff.id}/stream")
    panel = await next_event(talk, "panel")
    assert panel["state"] == "waiting" and panel["can_act"] is False
    publish(events, "wc-live", user("Is anyone there? <b>hello</b>", -0.4))
    turn = await next_event(talk, "turn")  # turns come only live, from the event feed
    assert "Is anyone there? &lt;b&gt;hello&lt;/b&gt;" in turn["html"]
    assert "turn-customer" in turn["html"] and "negative" in turn["html"]
    row = await next_event(queue, "queue")
    assert "Is anyone there?" in row["html"]
    assert (await desk.store.get(handoff.id)).last_customer_text.startswith("Is anyone there?")
    publish(events, "other-conversation", user("not for this page"))
    publish(events, "wc-live", {"event": "bot", "text": "Hi, Sam here", "timestamp": time.time(),
                                "metadata": {"agent": "sam"}})
    turn = await next_event(talk, "turn")
    assert "Hi, Sam here" in turn["html"] and "turn-agent" in turn["html"]
    talk.close()
    queue.close()


async def test_a_claim_updates_the_panel_and_others_lose_the_conversation(hub, console, desk):
    handoff = await waiting_handoff(desk, "wc-live")
    sam = await console("sam")
    kim = await console("kim")
    sams = await sam.client.get(f"/api/console/handoffs/{handoff.id}/stream")
    kims = await kim.client.get(f"/api/console/handoffs/{handoff.id}/stream")
    await next_event(sams, "panel")
    await next_event(kims, "panel")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    panel = await next_event(sams, "panel")
    assert panel["state"] == "assigned" and panel["can_act"] is True
    assert "Resolve and hand back to the bot" in panel["html"]
    gone = await next_event(kims, "gone")
    assert "no longer in your queue" in gone["message"]
    sams.close()
    kims.close()


async def test_a_page_gets_what_happened_between_loading_and_streaming(hub, console, desk,
                                                                       hub_settings):
    events = events_table(hub_settings.events_db)
    handoff = await waiting_handoff(desk, "wc-gap")
    sam = await console("sam")
    feed = hub.server.app[keys.FEED]
    cursor = feed.cursor
    publish(events, "wc-gap", user("said while the page loaded"))

    async def read_by_the_feed() -> bool:
        return feed.cursor > cursor

    await eventually(read_by_the_feed)
    talk = await sam.client.get(f"/api/console/handoffs/{handoff.id}/stream?after={cursor}")
    turn = await next_event(talk, "turn")
    assert "said while the page loaded" in turn["html"]
    talk.close()


async def test_streams_end_when_the_session_does(hub, console, monkeypatch):
    monkeypatch.setattr(console_api, "TICK_SECONDS", 0.2)
    sam = await console("sam")
    stream = await sam.client.get("/api/console/queue/stream")
    await next_event(stream, "queue")
    await hub.server.app[keys.AGENTS].set_active("sam", False)
    assert (await next_event(stream, "bye"))["reason"] == "signed out"


async def test_a_rating_after_a_handoff_lands_on_it(hub, console, desk, hub_settings):
    events = events_table(hub_settings.events_db)
    handoff = await waiting_handoff(desk, "wc-rate")
    sam = await console("sam")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    await sam.post(f"/console/handoffs/{handoff.id}/resolve", note="done")
    publish(events, "wc-rate", {"event": "slot", "name": "rating", "value": "4",
                                "timestamp": time.time()})

    async def rated() -> bool:
        return (await desk.store.get(handoff.id)).csat == 4

    await eventually(rated)


async def test_a_restart_abandons_the_handoff(hub, desk, hub_settings):
    events = events_table(hub_settings.events_db)
    handoff = await waiting_handoff(desk, "wc-gone")
    publish(events, "wc-gone", {"event": "restart", "timestamp": time.time()})

    async def abandoned() -> bool:
        return (await desk.store.get(handoff.id)).state == "abandoned"

    await eventually(abandoned)
    gone = await desk.store.get(handoff.id)
    assert gone.state == "abandoned" and gone.handback is None


@pytest.mark.parametrize("path", ["/api/console/queue/stream",
                                  "/api/console/handoffs/H-0123456789AB/stream"])
async def test_streams_without_a_session_are_401(hub, path):
    answer = await hub.get(path)
    assert answer.status == 401
