"""Issue 10, finding 7: customers see an agent's display name, never their login name."""

from __future__ import annotations

import json

import pytest

from bot.handoff.agents import AgentError
from bot.hub import keys
from tests.bot.hub.conftest import PASSWORD, Console, waiting_handoff

LOGIN = "skowalski.ops"


async def test_a_customer_sees_the_display_name_never_the_login_name(hub, desk, sender,
                                                                      fake_rasa):
    await hub.server.app[keys.AGENTS].add(LOGIN, "agent", PASSWORD, display_name="Sam")
    browser = Console(hub, LOGIN)
    assert await browser.sign_in() == 303
    handoff = await waiting_handoff(desk, "wc-shown", customer_name="Ada")
    assert (await browser.post(f"/console/handoffs/{handoff.id}/claim")).status == 200
    page = await (await hub.get(f"/console/handoffs/{handoff.id}")).text()
    assert LOGIN in page and "customers see Sam" in page  # the console shows both
    assert (await browser.post(f"/console/handoffs/{handoff.id}/reply",
                               text="Hello Ada, how can I help?")).status == 200
    assert (await browser.post(f"/console/handoffs/{handoff.id}/resolve",
                               note="answered")).status == 200

    assert sender.sent[0] == ("wc-shown", [{"text": "Hello Ada, how can I help?",
                                            "agent": "Sam"}])
    recorded = [event for cid, events in fake_rasa.appended if cid == "wc-shown"
                for event in events if event["event"] == "bot"]
    assert [event["metadata"]["agent"] for event in recorded] == ["Sam"]
    customer_side = json.dumps([sender.sent, fake_rasa.appended, fake_rasa.triggered])
    assert LOGIN not in customer_side and LOGIN.lower() not in customer_side.lower()


async def test_without_a_display_name_the_login_name_is_shown(hub, desk, sender):
    await hub.server.app[keys.AGENTS].add("kim", "agent", PASSWORD)
    browser = Console(hub, "kim")
    assert await browser.sign_in() == 303
    handoff = await waiting_handoff(desk, "wc-plain")
    await browser.post(f"/console/handoffs/{handoff.id}/claim")
    await browser.post(f"/console/handoffs/{handoff.id}/reply", text="Hi")
    assert sender.sent == [("wc-plain", [{"text": "Hi", "agent": "kim"}])]


async def test_display_names_are_checked_and_can_change(hub):
    directory = hub.server.app[keys.AGENTS]
    for bad in ("x" * 65, "Sam\x1b[31m", "\u202eSam"):
        with pytest.raises(AgentError):
            await directory.add("lee", "agent", PASSWORD, display_name=bad)
    agent = await directory.add("lee", "agent", PASSWORD, display_name="  Lee   P. ")
    assert (agent.display_name, agent.shown_name) == ("Lee P.", "Lee P.")
    await directory.set_display_name("lee", "Leo")
    assert (await directory.get(agent.id)).shown_name == "Leo"
    await directory.set_display_name("lee", None)
    assert (await directory.get(agent.id)).shown_name == "lee"
