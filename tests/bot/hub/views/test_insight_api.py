"""The analyst API over the exchange log, on the real hub app with real sign-ins."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from urllib.parse import quote, urlencode

import pytest

from bot.database import make_engine
from bot.hub import keys
from bot.insight.tables import create_insight_tables
from tests.bot.insight.exchange_rows import add_conversation
from tests.bot.insight.known_exchanges import RAW_EMAIL

LIST = "/api/insight/conversations"


@pytest.fixture
async def exchange_log(hub, hub_settings):
    """Two conversations in the hub's exchange log (turns as the consumer writes them)."""
    engine = make_engine(hub_settings.hub_db_url)
    try:
        create_insight_tables(engine)
        add_conversation(engine, "tg-7", datetime(2026, 11, 2, 9, 0), channel="telegram",
                         outcome="contained", last_sentiment=0.5, turns_said=[
                             {"role": "customer", "text": "where is my order, I'm [email]",
                              "intent": "order_status"},
                             {"role": "bot", "text": "It ships today.", "action": "utter_x",
                              "latency_ms": 420}])
        add_conversation(engine, "webchat-8", datetime(2026, 11, 3, 9, 0), channel="webchat",
                         outcome="escalated", handoff_id="H-8", last_sentiment=-0.6,
                         turns_said=[{"role": "customer", "text": "the Trail Boots split",
                                      "intent": "complain", "entities": [
                                          {"entity": "product", "value": "Trail Boots"}]}])
    finally:
        engine.dispose()


async def test_signed_out_is_401_for_both_views(hub, exchange_log):
    for path in (LIST, f"{LIST}/tg-7"):
        answer = await hub.get(path)
        assert answer.status == 401, path
        assert (await answer.json()) == {"error": "sign in first"}


async def test_an_agent_is_refused(hub, console, exchange_log):
    sam = await console("sam", role="agent")
    for path in (LIST, f"{LIST}/tg-7", f"{LIST}?format=csv"):
        answer = await sam.client.get(path)
        assert answer.status == 403, path
        assert "analyst or admin" in (await answer.json())["error"]


@pytest.mark.parametrize("role", ["analyst", "admin"])
async def test_analysts_and_admins_list_and_filter(hub, console, exchange_log, role):
    ana = await console("ana", role=role)
    everything = await ana.client.get(LIST)
    assert everything.status == 200
    assert everything.headers["Cache-Control"] == "no-store"
    body = await everything.json()
    assert body["total"] == 2
    assert [c["conversation_id"] for c in body["conversations"]] == ["webchat-8", "tg-7"]
    for query, expected in (("channel=telegram", ["tg-7"]), ("sentiment=negative", ["webchat-8"]),
                            ("handoff=yes", ["webchat-8"]), ("handoff=no", ["tg-7"]),
                            ("intent=order_status", ["tg-7"]), ("outcome=escalated", ["webchat-8"]),
                            ("product=trail%20boots", ["webchat-8"]),
                            ("since=2026-11-03", ["webchat-8"]), ("until=2026-11-02", ["tg-7"])):
        page = await (await ana.client.get(f"{LIST}?{query}")).json()
        assert [c["conversation_id"] for c in page["conversations"]] == expected, query


async def test_csv_is_a_download(hub, console, exchange_log):
    ana = await console("ana", role="analyst")
    answer = await ana.client.get(f"{LIST}?format=csv&handoff=yes")
    assert answer.status == 200
    assert answer.content_type == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="conversations.csv"'
    rows = list(csv.DictReader(io.StringIO(await answer.text())))
    assert [(r["conversation_id"], r["outcome"], r["handoff"]) for r in rows] == [
        ("webchat-8", "escalated", "yes")]


@pytest.mark.parametrize("query, message", [
    ("sentiment=angry", "sentiment must be one of negative, neutral, positive"),
    ("handoff=maybe", "handoff must be yes or no"),
    ("since=last-week", "since must be a date"),
    ("limit=-5", "limit must be between 1 and 1000"),
    (f"offset={10**30}", "offset must be between 0 and 9007199254740992"),
    ("colour=red", "unknown parameter 'colour'"),
])
async def test_bad_parameters_are_400_with_the_reason(hub, console, exchange_log, query, message):
    ana = await console("ana", role="analyst")
    answer = await ana.client.get(f"{LIST}?{query}")
    assert answer.status == 400
    assert (await answer.json())["error"].startswith(message)


async def test_one_conversation_is_its_whole_redacted_transcript(hub, console, exchange_log):
    ana = await console("ana", role="analyst")
    answer = await ana.client.get(f"{LIST}/tg-7")
    assert answer.status == 200
    body = await answer.json()
    assert (body["conversation_id"], body["channel"], body["outcome"]) == (
        "tg-7", "telegram", "contained")
    assert [(t["role"], t["text"]) for t in body["turns"]] == [
        ("customer", "where is my order, I'm [email]"), ("bot", "It ships today.")]
    assert body["turns"][1]["latency_ms"] == 420
    missing = await ana.client.get(f"{LIST}/tg-nope")
    assert missing.status == 404


async def test_exports_and_reads_go_on_the_audit_log(hub, console, exchange_log):
    ana = await console("ana", role="analyst")
    await ana.client.get(f"{LIST}?format=csv&channel=webchat")
    await ana.client.get(f"{LIST}/tg-7")
    await ana.client.get(f"{LIST}?sentiment=angry")  # refused: not an export
    entries = await hub.server.app[keys.AUDIT].entries(10)
    assert [(e.agent_name, e.action) for e in entries] == [("ana", "viewed"),
                                                          ("ana", "exported")]
    assert entries[0].detail == "insight conversation tg-7"
    assert entries[1].detail == "insight conversations (csv, 1 rows) channel=webchat"


async def test_a_hub_whose_log_is_empty_answers_an_empty_list(hub, console):
    ana = await console("ana", role="analyst")
    body = await (await ana.client.get(LIST)).json()
    assert (body["total"], body["conversations"]) == (0, [])


async def test_a_transcript_is_redacted_again_on_the_way_out(hub, console, hub_settings):
    """A row written before a redaction rule existed (or by another writer) is redacted on read."""
    engine = make_engine(hub_settings.hub_db_url)
    try:
        create_insight_tables(engine)
        add_conversation(engine, "rest:shop/ann", datetime(2026, 11, 4, 9, 0), channel="rest",
                         turns_said=[{"role": "customer", "text": f"mail me at {RAW_EMAIL}"}])
    finally:
        engine.dispose()
    ana = await console("ana", role="analyst")
    for path in (f"{LIST}/rest:shop/ann", f"{LIST}/{quote('rest:shop/ann', safe='')}"):
        answer = await ana.client.get(path)
        assert answer.status == 200, path
        body = await answer.json()
        assert body["conversation_id"] == "rest:shop/ann"
        assert [t["text"] for t in body["turns"]] == ["mail me at [email]"]
        assert RAW_EMAIL not in await answer.text()


async def test_the_api_and_the_dashboard_read_a_period_the_same_way(hub, console, exchange_log):
    ana = await console("ana", role="analyst")
    for since, until in (("2026-11-02", "2026-11-02"), ("2026-11-01", "2026-11-03"),
                         ("2026-11-02T10:00:00", "2026-11-03T10:00:00"),
                         ("2026-11-01", "2026-11-02T09:00:00")):
        period = urlencode({"since": since, "until": until})
        api = await (await ana.client.get(f"{LIST}?{period}")).json()
        page = await (await ana.client.get(f"/console/insight/conversations?{period}")).text()
        listed = re.findall(r'<th scope="row"><a href="/console/insight/conversations/[^"]+">'
                            r'([^<]+)</a></th>', page)
        assert [c["conversation_id"] for c in api["conversations"]] == listed, period
    assert listed == []  # until a time: exclusive
