"""The analysts' dashboard on the real hub: numbers, drill-downs, transcripts, who may look."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from bot.database import make_engine
from bot.handoff.tables import console_audit
from bot.hub import keys
from bot.insight.tables import create_insight_tables
from tests.bot.insight.known_exchanges import HOSTILE, RAW_EMAIL, add_known_exchanges

WEEK = "/console/dashboard?since=2026-11-01&until=2026-11-07"  # a bare until: that day too


@pytest.fixture
async def logged(hub):
    """The hub's database holding the known week of exchanges."""
    engine = make_engine(hub.server.app[keys.SETTINGS].hub_db_url)
    create_insight_tables(engine)
    add_known_exchanges(engine)
    engine.dispose()
    return hub


def _links(page: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="([^"]+)"', page)]


def _tile(page: str, name: str) -> tuple[str, str]:
    """(link, value) of the first KPI tile called `name`."""
    found = re.search(r'<a class="tile" href="([^"]+)">\s*<span class="name">'
                      + re.escape(name) + r'</span>\s*<span class="value">([^<]*)</span>', page)
    assert found, f"no tile {name}"
    return html.unescape(found.group(1)), found.group(2)


def _conversations(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/console/insight/conversations/[^"]+">([^<]+)'
                      r'</a></th>', page)


async def test_an_analyst_sees_the_weeks_kpis(logged, console):
    ana = await console("ana", role="analyst")
    answer = await ana.client.get(WEEK)
    assert answer.status == 200
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    page = await answer.text()
    assert _tile(page, "Conversations")[1] == "8"
    assert _tile(page, "Customer messages")[1] == "14"
    assert _tile(page, "Containment")[1] == "75.0%"
    assert _tile(page, "Escalation")[1] == "12.5%"
    assert _tile(page, "Abandonment")[1] == "12.5%"
    assert _tile(page, "Average CSAT")[1] == "3.83"
    assert _tile(page, "Fallback rate")[1] == "21.4%"
    assert _tile(page, "Handoff wait")[1] == "1 min 45 s"
    assert _tile(page, "Service recovery")[1] == "33.3%"
    assert _tile(page, "Sentiment change")[1] == "+0.34"
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td><a href="[^"]+" title="[^"]*">'
                      r'(\d+)</a>', page)
    assert rows == [("webchat", "4"), ("telegram", "3"), ("unknown", "1")]
    assert page.count("<svg") == 6
    assert 'aria-current="page">Dashboard</a>' in page


async def test_the_voice_of_the_customer_is_grouped_with_their_words(logged, console):
    ana = await console("ana", role="analyst")
    page = await (await ana.client.get(WEEK)).text()
    voice = page[page.index("<h2>Voice of the customer</h2>"):]
    rows = re.findall(r"<tr><td>(\w+)</td><td>([^<]*)</td><td>(\w+)</td>\s*<td><a href=\"([^\"]+)\">"
                      r"(\d+)</a></td>", voice)
    assert [(kind, html.unescape(product), theme, count) for kind, product, theme, _, count
            in rows] == [("praise", HOSTILE, "quality", "1"),
                         ("praise", "Toaster", "quality", "1"),
                         ("suggestion", "Kettle", "size", "1")]
    assert "<q>you should sell this in a bigger size</q>" in voice
    assert HOSTILE not in page  # escaped, never markup
    kettle = html.unescape(rows[2][3])
    listed = _conversations(await (await ana.client.get(kettle)).text())
    assert listed == ["tg-6"]


async def test_an_admin_may_look_too(logged, console):
    boss = await console("boss", role="admin")
    assert (await boss.client.get(WEEK)).status == 200


async def test_agents_get_403_everywhere_and_strangers_sign_in_first(logged, console,
                                                                    aiohttp_client):
    sam = await console("sam")
    for path in (WEEK, "/console/insight/conversations?outcome=escalated",
                 "/console/insight/conversations/wc-1"):
        assert (await sam.client.get(path)).status == 403, path
    queue = await (await sam.client.get("/console")).text()
    assert "/console/dashboard" not in queue
    stranger = await (await aiohttp_client(logged.server)).get(WEEK, allow_redirects=False)
    assert stranger.status == 303 and stranger.headers["Location"].startswith("/login")


async def test_each_number_opens_the_conversations_behind_it(logged, console):
    ana = await console("ana", role="analyst")
    page = await (await ana.client.get(WEEK)).text()
    expected = {"Escalation": ["tg-5"], "Abandonment": ["tg-6"],
                "Service recovery": ["wc-2"], "Fallback rate": ["tg-6", "tg-5"],
                "Conversations": ["x-9", "wc-7", "tg-6", "tg-5", "tg-4", "wc-3", "wc-2",
                                  "wc-1"]}
    for name, conversations in expected.items():
        link, _ = _tile(page, name)
        assert link.startswith("/console/insight/conversations?")
        listed = await (await ana.client.get(link)).text()
        assert _conversations(listed) == conversations, name
    telegram_escalated = [link for link in _links(page)
                          if "channel=telegram" in link and "outcome=escalated" in link]
    listed = await (await ana.client.get(telegram_escalated[0])).text()
    assert _conversations(listed) == ["tg-5"]
    # A point of the volume chart: the day's conversations.
    day = next(link for link in _links(page) if "since=2026-11-03&until=2026-11-03" in link)
    assert _conversations(await (await ana.client.get(day)).text()) == ["tg-4", "wc-3"]
    # A chart's bar: complaints about kettles that were damaged.
    kettles = [link for link in _links(page) if "product=Kettle" in link and "complaint=yes" in link]
    listed = await (await ana.client.get(kettles[0])).text()
    assert _conversations(listed) == ["wc-3", "wc-2"]
    assert "2 conversations" in listed


async def test_the_transcript_is_redacted_and_its_reading_audited(logged, console):
    ana = await console("ana", role="analyst")
    listed = await (await ana.client.get(
        "/console/insight/conversations?since=2026-11-01&until=2026-11-07&rated=yes")).text()
    link = next(link for link in _links(listed) if link.endswith("/wc-1"))
    answer = await ana.client.get(link)
    assert answer.status == 200
    page = await answer.text()
    assert RAW_EMAIL not in page and "hi, I&#39;m [email]" in page
    assert "where is my order" in page and "action_order_status" in page
    db = logged.server.app[keys.AUDIT].db
    details = await db.run(lambda c: [r.detail for r in c.execute(select(console_audit))])
    assert "insight conversation wc-1" in details
    assert (await ana.client.get("/console/insight/conversations/nope")).status == 404


async def test_a_hostile_label_is_escaped(logged, console):
    ana = await console("ana", role="analyst")
    page = await (await ana.client.get(WEEK)).text()
    assert HOSTILE not in page and "<script>alert" not in page
    assert html.escape(HOSTILE, quote=True).replace("&quot;", "&#34;") in page


@pytest.mark.parametrize("query, message", [
    ("since=yesterday", "cannot read"), ("since=2026-11-08&until=2026-11-01", "empty"),
])
async def test_a_period_that_cannot_be_read_is_400(logged, console, query, message):
    ana = await console("ana", role="analyst")
    answer = await ana.client.get(f"/console/dashboard?{query}")
    assert answer.status == 400
    assert message in await answer.text()


async def test_a_bad_drill_down_is_400(logged, console):
    ana = await console("ana", role="analyst")
    for query in ("outcome=lost", "page=0", "page=x", f"intent={'x' * 200}", f"page={10**30}",
                  f"page={2**53 + 1}"):
        answer = await ana.client.get(f"/console/insight/conversations?{query}")
        assert answer.status == 400, query
