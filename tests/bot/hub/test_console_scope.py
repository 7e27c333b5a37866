"""Issue 10, finding 8: a handoff shows only its own stretch of the conversation, and the
console's actions go on an audit log only admins read."""

from __future__ import annotations

import asyncio
import json
import time

from bot.hub.agent_desk import LEAD_IN
from bot.hub.views import console_api
from tests.bot.hub.conftest import events_table, publish, waiting_handoff


def said(text: str, at: float, kind: str = "user") -> dict:
    event = {"event": kind, "text": text, "timestamp": at}
    if kind == "user":
        event.update(input_channel="webchat",
                     parse_data={"intent": {"name": "inform", "confidence": 0.9}})
    return event


async def events_until(response, name: str, timeout: float = 20.0) -> list[tuple[str, dict]]:
    """Every server-sent event up to and including the first called `name`."""
    seen, event = [], None
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {name!r} event within {timeout} s"
        line = (await asyncio.wait_for(response.content.readline(), remaining)).decode()
        line = line.rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            seen.append((event, json.loads(line[6:])))
            if event == name:
                return seen


async def test_a_callback_shows_only_its_own_window_to_any_agent(hub, console, desk,
                                                                fake_rasa):
    handoff = await waiting_handoff(desk, "wc-window")
    created = handoff.created_at.timestamp()
    await desk.store.callback(handoff.id)  # nobody took it in time
    closed = (await desk.store.get(handoff.id)).closed_at.timestamp()
    fake_rasa.events["wc-window"] = [
        said("my old complaint from last year", created - LEAD_IN.total_seconds() - 60),
        said("where is my parcel RP-100003?", created - 120),
        said("I'd like a person please", created),
        said("Later: my new address is 1 Secret Lane", closed + 3600),
        said("Thanks, noted your address.", closed + 3601, "bot"),
    ]
    kim = await console("kim")  # any agent may open a callback
    page = await (await kim.client.get(f"/console/handoffs/{handoff.id}")).text()
    detail = await (await kim.client.get(f"/api/console/handoffs/{handoff.id}")).json()
    shown = [turn["text"] for turn in detail["transcript"]]
    assert shown == ["where is my parcel RP-100003?", "I'd like a person please"]
    assert "where is my parcel" in page and "I&#39;d like a person please" in page
    for hidden in ("Secret Lane", "noted your address", "old complaint"):
        assert hidden not in page and hidden not in json.dumps(detail)


async def test_after_the_close_the_stream_pushes_nothing_new(hub, console, desk, hub_settings,
                                                             monkeypatch):
    monkeypatch.setattr(console_api, "TICK_SECONDS", 0.5)  # panel checks come sooner
    events = events_table(hub_settings.events_db)
    handoff = await waiting_handoff(desk, "wc-after")
    sam = await console("sam")
    talk = await sam.client.get(f"/api/console/handoffs/{handoff.id}/stream")
    await events_until(talk, "panel")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    publish(events, "wc-after", said("during the handoff", time.time()))
    seen = await events_until(talk, "turn")
    assert "during the handoff" in seen[-1][1]["html"]
    assert (await sam.post(f"/console/handoffs/{handoff.id}/resolve", note="done")).status == 200
    resolved = await desk.store.get(handoff.id)
    # A later stream on the closed handoff, opened before anything new is said.
    later = await sam.client.get(f"/api/console/handoffs/{handoff.id}/stream")
    first = await events_until(later, "panel")
    after = resolved.closed_at.timestamp() + 1
    publish(events, "wc-after", said("said after the close", after))
    publish(events, "wc-after", said("the bot answers later", after + 1, "bot"))
    # The rating changes the handoff (a new panel) after both turns were in the feed.
    publish(events, "wc-after", {"event": "slot", "name": "rating", "value": "5",
                                 "timestamp": after + 2})
    while (rated := await desk.store.get(handoff.id)).csat is None:
        await asyncio.sleep(0.05)
    for stream in (talk, later):
        seen = await events_until(stream, "panel")
        while seen[-1][1]["revision"] != rated.revision:
            seen += await events_until(stream, "panel")
        text = json.dumps(seen)
        assert "said after the close" not in text and "the bot answers later" not in text
        assert not [name for name, _ in seen if name == "turn"]
    assert "during the handoff" not in json.dumps(first)
    talk.close()
    later.close()


async def test_console_actions_go_on_an_audit_log_admins_read(hub, console, desk, sender):
    handoff = await waiting_handoff(desk, "wc-audit")
    sam = await console("sam")
    await console("kim")
    boss = await console("boss", role="admin")
    await sam.client.get(f"/console/handoffs/{handoff.id}")
    await sam.client.get(f"/api/console/handoffs/{handoff.id}")
    assert (await sam.post(f"/console/handoffs/{handoff.id}/claim")).status == 200
    assert (await sam.post(f"/console/handoffs/{handoff.id}/reply",
                           text="a private reply")).status == 200
    assert (await sam.post(f"/console/handoffs/{handoff.id}/transfer", to="kim")).status == 200
    refused = await sam.client.get("/api/console/audit")
    assert refused.status == 403
    log = await (await boss.client.get(f"/api/console/audit?handoff={handoff.id}")).json()
    actions = [(e["agent"], e["action"]) for e in reversed(log["entries"])]
    assert actions == [("sam", "viewed"), ("sam", "exported"), ("sam", "claimed"),
                       ("sam", "replied"), ("sam", "transferred")]
    assert log["entries"][0]["detail"] == "to=kim"
    assert "a private reply" not in json.dumps(log)
    assert all(e["handoff_id"] == handoff.id and e["at"] for e in log["entries"])
    assert (await boss.client.get("/api/console/audit?limit=x")).status == 400
    kept = await (await boss.client.get("/api/console/audit?limit=2")).json()
    assert len(kept["entries"]) == 2


async def test_resolving_from_the_console_is_audited(hub, console, desk):
    handoff = await waiting_handoff(desk, "wc-audit-2")
    sam = await console("sam")
    boss = await console("boss", role="admin")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    assert (await sam.post(f"/console/handoffs/{handoff.id}/resolve",
                           note="refund sent")).status == 200
    log = await (await boss.client.get("/api/console/audit?agent=sam")).json()
    assert [e["action"] for e in log["entries"]] == ["resolved", "claimed"]
