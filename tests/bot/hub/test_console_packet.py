"""The packet on the conversation page: the customer's language and callback time stand out."""

from __future__ import annotations

from tests.bot.hub.conftest import waiting_handoff

SUMMARY = ["Handed over because: customer writes in French; accepted a colleague."]


async def page(agent, handoff) -> str:
    answer = await agent.client.get(f"/console/handoffs/{handoff.id}")
    assert answer.status == 200
    return await answer.text()


async def test_the_language_and_callback_time_are_shown_to_the_agent(hub, console, desk):
    handoff = await waiting_handoff(desk, "wc-fr", packet={
        "summary": SUMMARY, "verified": False, "sentiment": {"scores": [], "trend": "unknown"},
        "language": {"code": "fr", "name": "French"},
        "callback_time": "demain <b>matin</b>",
    })
    html = await page(await console("sam"), handoff)
    assert '<ul class="flags">' in html
    assert "<strong>Language:</strong> French (fr)" in html
    assert "<strong>Callback wanted:</strong> “demain &lt;b&gt;matin&lt;/b&gt;”" in html
    assert SUMMARY[0] in html


async def test_a_packet_without_them_shows_no_flags(hub, console, desk):
    old = await waiting_handoff(desk, "wc-old")  # a packet from before these fields existed
    sam = await console("sam")
    assert 'class="flags"' not in await page(sam, old)
    english = await waiting_handoff(desk, "wc-en", packet={
        "summary": ["Handed over because: asked."], "verified": False,
        "language": None, "callback_time": None})
    html = await page(sam, english)
    assert 'class="flags"' not in html and "Language:" not in html


async def test_only_a_callback_time_is_shown_alone(hub, console, desk):
    handoff = await waiting_handoff(desk, "wc-cb", packet={
        "summary": ["Handed over because: asked."], "verified": False,
        "callback_time": "after 5pm"})
    html = await page(await console("sam"), handoff)
    assert "<strong>Callback wanted:</strong> “after 5pm”" in html
    assert "Language:" not in html
