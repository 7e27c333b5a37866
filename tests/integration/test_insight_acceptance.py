"""Issue 8 acceptance on the real stack (`rapport run`, the session's model, SQLite).

A scripted set of conversations (five over REST, one over web chat): order status with
verification, a complaint whose remedy is accepted and rated 4, one whose remedy is declined
(handed to a person), praise and a suggestion, misunderstood messages, and a web chat handoff
where an agent replies from the console and the customer rates 5, giving a phone and a card
number on the way. Once the hub's consumer has read every event Rasa published, the
dashboard's numbers (the metrics functions, and the page an analyst sees) are exactly what
the script did, the misunderstood messages are in the NLU inbox, and no e-mail, phone or card
number typed is in the exchange log's tables or in anything an analyst can open.
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator, Optional

import pytest
import yaml
from sqlalchemy import MetaData, Table, create_engine, inspect, select

from bot.database import naive_utcnow
from bot.insight.metrics import Insight, insight
from bot.insight.nlu_inbox import NluInbox
from bot.insight.period import Period
from bot.insight.tables import turns
from tests.support import PROJECT
from tests.support.insight_stack import ConsoleClient, add_account, wait_for_exchange_log
from tests.support.stack import (
    Stack, http, rasa_api_headers, rest_conversation, stack_env, texts,
)

pytestmark = pytest.mark.integration

AGENT, ANALYST = "sam", "ana"
EMAIL = "ada@example.com"
PHONE = "+44 7700 900123"
CARD = "4111 1111 1111 1111"  # passes the Luhn check
# Every way the personal data could show up again: as typed, and without separators.
FORBIDDEN = (EMAIL, PHONE, "447700900123", "7700 900123", "7700900123", CARD,
             "4111111111111111", "4111-1111-1111-1111")
PII_MESSAGE = f"you can reach me on {PHONE}, I paid with card {CARD}"
# keyboard mashes: no known word, letters like no language (pseudo-English words such as
# "blarg fnord" are read as the nearest intent; see bot/nlu/letter_trigrams.py)
MISUNDERSTOOD = ("qwpoe rtzu", "sdfsdf ewrwer", "fdsa fdsa lkjlkj")
WAIT_S = 60.0


@dataclass(frozen=True)
class Expected:
    """What one scripted conversation did, as the dashboard should count it."""

    messages: int
    outcome: str
    csat: Optional[int] = None
    complaint: bool = False
    recovered: bool = False
    fallbacks: int = 0
    channel: str = "rest"


@dataclass
class Played:
    """The conversations as played: their ids and what each did."""

    started: datetime  # naive UTC, before the first message
    expected: dict[str, Expected]


# -- the stack -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    return {AGENT: secrets.token_urlsafe(18), ANALYST: secrets.token_urlsafe(18)}


@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory,
          passwords: dict[str, str]) -> Iterator[Stack]:
    db_dir = tmp_path_factory.mktemp("insight-acceptance")
    env = stack_env(trained_model, db_dir)
    add_account(env, AGENT, "agent", passwords[AGENT])
    add_account(env, ANALYST, "analyst", passwords[ANALYST])
    with Stack(env, log_path=db_dir / "rapport-run.log") as stack:
        yield stack


@pytest.fixture(scope="module")
def analyst(stack: Stack, passwords: dict[str, str], played: Played) -> Iterator[ConsoleClient]:
    client = ConsoleClient(stack.hub_url)
    client.sign_in(ANALYST, passwords[ANALYST], landing="/console/dashboard")
    yield client
    client.close()


def tracker(stack: Stack, conversation_id: str) -> dict:
    status, body = http("GET", f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
                        headers=rasa_api_headers())
    assert status == 200, body
    return body


# -- web chat, over its HTTP API -------------------------------------------------------------

class WebChatCustomer:
    """A customer in the web chat widget, as the widget talks to the Rasa server."""

    def __init__(self, stack: Stack) -> None:
        self.url = f"{stack.rasa_url}/webhooks/webchat"
        self.origin = {"Origin": stack.hub_url}  # the demo page's origin is allowed
        status, body = http("POST", f"{self.url}/session", headers=self.origin)
        assert status == 201, body
        self.token = body["token"]
        self.sender_id = "wc-" + hashlib.sha256(self.token.encode()).hexdigest()[:24]
        self.seen = 0

    @property
    def _auth(self) -> dict[str, str]:
        return {**self.origin, "Authorization": f"Bearer {self.token}"}

    def say(self, message: str) -> list[str]:
        """The bot's answers to `message` (none while a person has the conversation)."""
        status, body = http("POST", f"{self.url}/message", {"message": message},
                            headers=self._auth)
        assert status == 200, body
        return self._bot_texts(body["messages"])

    def wait_for(self, words: str, timeout: float = WAIT_S) -> list[str]:
        """Long-poll the history until a message with `words` arrives (an agent's, a bot's)."""
        deadline = time.monotonic() + timeout
        arrived: list[str] = []
        while time.monotonic() < deadline:
            status, body = http("GET", f"{self.url}/history?after={self.seen}&wait=5",
                                headers=self._auth)
            assert status == 200, body
            for message in body["messages"]:
                self.seen = max(self.seen, message["id"])
                arrived.append(message.get("text") or "")
            if any(words in said for said in arrived):
                return arrived
        raise AssertionError(f"no message with {words!r} within {timeout} s: {arrived}")

    def _bot_texts(self, messages: list[dict]) -> list[str]:
        for message in messages:
            self.seen = max(self.seen, message["id"])
        return [m.get("text") or "" for m in messages if m["role"] == "bot"]


class OnlineAgent:
    """An agent whose console queue is open (its event stream is the presence heartbeat)."""

    def __init__(self, stack: Stack, password: str) -> None:
        self.console = ConsoleClient(stack.hub_url)
        self.console.sign_in(AGENT, password)
        self._stream = self.console.http.get(f"{stack.hub_url}/api/console/queue/stream",
                                             stream=True, timeout=60)
        assert self._stream.status_code == 200
        self._opened = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self._opened.wait(30), "the queue stream sent nothing"

    def _read(self) -> None:
        try:
            for line in self._stream.iter_lines():
                if line.startswith(b"event: queue"):
                    self._opened.set()  # the hub marked the agent online before sending it
        except Exception:  # noqa: BLE001 (the stream is closed when the test is done with it)
            return

    def waiting(self, channel: str) -> str:
        """The id of the one handoff waiting from `channel`."""
        queue = self.console.get("/api/console/queue").json()
        found = [row["id"] for row in queue["waiting"] if row["channel"] == channel]
        assert len(found) == 1, queue
        return found[0]

    def close(self) -> None:
        self._stream.close()
        self.console.close()
        self._reader.join(10)


# -- the script ------------------------------------------------------------------------------

def response_patterns(name: str) -> list[re.Pattern]:
    """Each wording of the domain's response `name`, its slots matching anything."""
    domain = yaml.safe_load((PROJECT / "domain.yml").read_text(encoding="utf-8"))
    return [re.compile(re.sub(r"\\\{\w+\\\}", ".*?", re.escape(variant["text"].strip())), re.S)
            for variant in domain["responses"][name]]


def answered(replies: list[str], expected: str) -> bool:
    """`expected` is a response name (utter_…) the bot gave, or words in its answer."""
    if expected.startswith("utter_"):
        patterns = response_patterns(expected)
        return any(p.fullmatch(reply.strip()) for p in patterns for reply in replies)
    return expected in " ".join(replies)


def play_rest(stack: Stack, sender: str, steps: list[tuple[str, str]]) -> int:
    """Say each message; each answer must be as expected. How many messages were said."""
    for message, expected in steps:
        replies = texts(stack.say(sender, message))
        assert answered(replies, expected), (sender, message, expected, replies)
    return len(steps)


@pytest.fixture(scope="module")
def played(stack: Stack, passwords: dict[str, str]) -> Played:
    started = naive_utcnow()
    expected: dict[str, Expected] = {}

    said = play_rest(stack, "order", [
        ("where is my order?", "order number"), ("RP-100001", "e-mail"),
        (EMAIL, "DPD")])
    expected[rest_conversation("order")] = Expected(said, "contained")

    said = play_rest(stack, "accepted", [
        ("my saucepans from RP-100003 arrived damaged, the lid is bent", "e-mail"),
        (EMAIL, "replacement straight away"), ("yes please", "replacement is on its way"),
        ("yes, thanks", "How would you rate"), ("4", "Thank you for the feedback")])
    expected[rest_conversation("accepted")] = Expected(said, "contained", csat=4,
                                                       complaint=True, recovered=True)

    said = play_rest(stack, "voice", [
        (MISUNDERSTOOD[0], "utter_fallback_rephrase"),
        ("the toaster is really lovely", "utter_thanks_praise_product"),
        ("you should sell the mugs in dark green", "utter_thanks_suggestion_product")])
    expected[rest_conversation("voice")] = Expected(said, "contained", fallbacks=1)

    said = play_rest(stack, "lost", [(MISUNDERSTOOD[1], "utter_fallback_rephrase"),
                                     (MISUNDERSTOOD[2], "utter_fallback_offer_human")])
    expected[rest_conversation("lost")] = Expected(said, "contained", fallbacks=2)

    agent = OnlineAgent(stack, passwords[AGENT])
    try:
        said = play_rest(stack, "declined", [
            ("you sent the wrong item in order RP-100003, I got a toaster instead", "e-mail"),
            (EMAIL, "replacement straight away"),
            ("no, that doesn't help", "utter_handoff_started")])  # an agent is online: queued
        expected[rest_conversation("declined")] = Expected(said, "escalated", complaint=True)

        customer = WebChatCustomer(stack)
        told = customer.say("I want to talk to a real person please")
        assert answered(told, "utter_handoff_started"), told
        handoff_id = agent.waiting("webchat")
        agent.console.post(f"/console/handoffs/{handoff_id}/claim")
        agent.console.post(f"/console/handoffs/{handoff_id}/reply",
                           text="Hi, I'm Sam from customer care. How can I help?")
        customer.wait_for("I'm Sam from customer care")
        assert customer.say(PII_MESSAGE) == []  # the person has it: the bot stays silent
        agent.console.post(f"/console/handoffs/{handoff_id}/resolve",
                           note="Noted the customer's contact details for the courier.")
        customer.wait_for("How would you rate")
        assert any("Thank you for the feedback" in said for said in customer.say("5"))
        expected[customer.sender_id] = Expected(3, "escalated", csat=5, channel="webchat")
    finally:
        agent.close()

    # What the model made of the messages: exactly the misunderstood ones are nlu_fallback.
    fallbacks = {conversation: [e["text"] for e in tracker(stack, conversation)["events"]
                                if e["event"] == "user"
                                and e["parse_data"]["intent"]["name"] == "nlu_fallback"]
                 for conversation in expected}
    assert sorted(t for found in fallbacks.values() for t in found) == sorted(MISUNDERSTOOD)
    # The personal data really reached Rasa: the scans below could find it.
    typed = [e.get("text") for e in tracker(stack, customer.sender_id)["events"]]
    assert PII_MESSAGE in typed
    wait_for_exchange_log(stack)
    return Played(started, expected)


# -- what the numbers must be ----------------------------------------------------------------

def percent(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f}%"


def expected_tiles(expected: list[Expected]) -> dict[str, tuple[str, str]]:
    """The dashboard's tiles (value, detail) for these conversations, from the script."""
    count = len(expected)
    messages = sum(e.messages for e in expected)
    contained = sum(e.outcome == "contained" for e in expected)
    escalated = sum(e.outcome == "escalated" for e in expected)
    ratings = [e.csat for e in expected if e.csat is not None]
    fallbacks = sum(e.fallbacks for e in expected)
    complaints = sum(e.complaint for e in expected)
    recovered = sum(e.recovered for e in expected)
    return {
        "Conversations": (str(count), "started in the period"),
        "Customer messages": (str(messages), "sent by customers"),
        "Containment": (percent(contained, count), f"{contained} resolved without a person"),
        "Escalation": (percent(escalated, count), f"{escalated} handed to a person"),
        "Abandonment": ("0.0%", "0 left unfinished"),
        "Average CSAT": (f"{sum(ratings) / len(ratings):.2f}", f"from {len(ratings)} ratings (1–5)"),
        "Fallback rate": (percent(fallbacks, messages), f"{fallbacks} messages not understood"),
        "Service recovery": (percent(recovered, complaints),
                             f"{recovered} of {complaints} complaints: remedy accepted, CSAT 4–5"),
    }


def read_insight(stack: Stack, played: Played) -> Insight:
    period = Period(played.started - timedelta(minutes=1), naive_utcnow() + timedelta(minutes=1))
    engine = create_engine(stack.env["RAPPORT_HUB_DB_URL"], future=True)
    try:
        with engine.connect() as connection:
            return insight(connection, period)
    finally:
        engine.dispose()


def test_the_metrics_are_exactly_what_happened(stack: Stack, played: Played):
    data = read_insight(stack, played)
    expected = list(played.expected.values())
    total = data.kpis.total
    ratings = [e.csat for e in expected if e.csat is not None]
    assert (total.conversations, total.customer_messages) == (6, 19)
    assert total.conversations == len(expected)
    assert total.customer_messages == sum(e.messages for e in expected)
    assert (total.contained, total.escalated, total.abandoned) == (
        sum(e.outcome == "contained" for e in expected),
        sum(e.outcome == "escalated" for e in expected), 0)
    assert (total.csat_total, total.csat_responses) == (sum(ratings), len(ratings))
    assert total.csat_average == pytest.approx(4.5)
    assert total.fallbacks == sum(e.fallbacks for e in expected) == len(MISUNDERSTOOD)
    assert total.fallback_rate == pytest.approx(3 / 19)
    assert (total.complaints, total.recovered) == (2, 1)
    assert total.service_recovery_rate == pytest.approx(0.5)
    assert total.handoffs_claimed == 1  # the web chat handoff; the declined one still waits
    by_channel = {k.channel: (k.conversations, k.customer_messages, k.escalated, k.csat_responses)
                  for k in data.kpis.by_channel}
    assert by_channel == {"rest": (5, 16, 1, 1), "webchat": (1, 3, 1, 1)}
    assert sorted((t.kind, t.product, t.count) for t in data.themes) == [
        ("praise", "toaster", 1), ("suggest", "mugs", 1)]
    assert sum(c.count for c in data.categories) == 2
    assert sum(v.conversations for v in data.volume) == 6
    intents = {count.label: count.count for count in data.intents}
    assert intents["nlu_fallback"] == 3  # the most frequent (the top ten only are kept)


TILE = re.compile(r'<span class="name">([^<]+)</span>\s*<span class="value">([^<]*)</span>\s*'
                  r'<span class="detail">([^<]*)</span>')


def test_the_dashboard_shows_the_same_numbers(analyst: ConsoleClient, played: Played):
    page = analyst.get("/console/dashboard").text
    all_channels = page[page.index("<h2>All channels</h2>"):page.index("</section>",
                                                                      page.index("All channels"))]
    shown = {html.unescape(name): (html.unescape(value), html.unescape(detail))
             for name, value, detail in TILE.findall(all_channels)}
    for name, value in expected_tiles(list(played.expected.values())).items():
        assert shown[name] == value, (name, shown[name], value)
    assert shown["Conversations"][0] == "6" and shown["Average CSAT"][0] == "4.50"
    assert shown["Service recovery"][0] == "50.0%" and shown["Fallback rate"][0] == "15.8%"
    assert shown["Handoff wait"][1].endswith("1 claimed")
    text = html.unescape(page)
    assert "praise · toaster: 1" in text and "suggest · mugs: 1" in text


@pytest.mark.parametrize("tile, count", [
    ("Containment", 4), ("Escalation", 2), ("Average CSAT", 2), ("Fallback rate", 2),
    ("Service recovery", 1), ("Handoff wait", 2),
])
def test_each_number_opens_its_conversations(analyst: ConsoleClient, played: Played,
                                             tile: str, count: int):
    page = analyst.get("/console/dashboard").text
    link = re.search(r'<a class="tile" href="([^"]+)">\s*<span class="name">'
                     + re.escape(tile) + "</span>", page)
    assert link, tile
    listing = analyst.get(html.unescape(link.group(1))).text
    heading = re.search(r"<h1>(\d+) conversations?</h1>", listing)
    assert heading and int(heading.group(1)) == count, (tile, heading and heading.group(0))
    assert len(re.findall(r'<th scope="row"><a href="/console/insight/conversations/', listing)) \
        == count


def test_the_misunderstood_messages_are_in_the_inbox(stack: Stack, analyst: ConsoleClient,
                                                     played: Played):
    import asyncio

    from bot.database import make_engine

    async def pending() -> list[str]:
        inbox = NluInbox(make_engine(stack.env["RAPPORT_HUB_DB_URL"]), 0.6, dispose_engine=True)
        try:
            return [message.text for message in await inbox.pending()]
        finally:
            await inbox.close()

    texts_in_inbox = asyncio.run(pending())
    assert set(MISUNDERSTOOD) <= set(texts_in_inbox), texts_in_inbox
    page = html.unescape(analyst.get("/console/inbox").text)
    for message in MISUNDERSTOOD:
        assert f'<span class="text">{message}</span>' in page


# -- no personal data ------------------------------------------------------------------------

def assert_no_personal_data(where: str, content: str) -> None:
    found = [value for value in FORBIDDEN if value in content]
    assert not found, f"{where} shows {found}"


def test_no_personal_data_in_the_exchange_log_tables(stack: Stack, played: Played):
    engine = create_engine(stack.env["RAPPORT_HUB_DB_URL"], future=True)
    try:
        with engine.connect() as connection:
            tables = [name for name in inspect(connection).get_table_names()
                      if name.startswith("insight_")]
            assert {"insight_conversations", "insight_turns", "insight_set_aside",
                    "insight_positions"} <= set(tables)
            said = connection.execute(select(turns.c.text)).scalars().all()
            for name in tables:
                rows = connection.execute(select(Table(name, MetaData(),
                                                       autoload_with=connection))).all()
                assert rows or name not in ("insight_conversations", "insight_turns"), name
                assert_no_personal_data(name, repr(rows))
    finally:
        engine.dispose()
    # The words are there, redacted: the scan above read real turns.
    assert "you can reach me on [phone], I paid with card [card]" in said
    assert "[email]" in said


def test_no_personal_data_in_any_analyst_view(analyst: ConsoleClient, played: Played):
    seen: dict[str, str] = {}
    dashboard = analyst.get("/console/dashboard").text
    seen["dashboard"] = dashboard
    for link in sorted(set(re.findall(r'href="(/console/insight/conversations\?[^"]+)"',
                                      dashboard))):
        seen[link] = analyst.get(html.unescape(link)).text
    transcripts = sorted({link for page in list(seen.values()) for link in re.findall(
        r'href="(/console/insight/conversations/[^"?]+)"', page)})
    assert len(transcripts) == len(played.expected)  # every conversation, from some number
    for link in transcripts:
        seen[link] = analyst.get(html.unescape(link)).text
    seen["inbox"] = analyst.get("/console/inbox").text
    listing = analyst.get("/api/insight/conversations", limit="1000")
    seen["api list"] = listing.text
    ids = [c["conversation_id"] for c in listing.json()["conversations"]]
    assert sorted(ids) == sorted(played.expected)
    seen["api csv"] = analyst.get("/api/insight/conversations", format="csv").text
    for conversation_id in ids:
        seen[conversation_id] = analyst.get(f"/api/insight/conversations/{conversation_id}").text
    for where, content in seen.items():
        assert_no_personal_data(where, content)
        assert_no_personal_data(where, html.unescape(content))
    # The transcripts show the customers' words, with the personal data replaced.
    webchat = next(cid for cid, e in played.expected.items() if e.channel == "webchat")
    assert "you can reach me on [phone], I paid with card [card]" in seen[webchat]
    order = html.unescape(seen[f"/console/insight/conversations/{rest_conversation('order')}"])
    assert "[email]" in order and "RP-100001" in order
