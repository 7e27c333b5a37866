"""Plays the conversation set (tests/conversations/) against the real running stack.

One `ConversationStack` (`rapport run` with the session's cached model, and a fake Telegram
Bot API) serves a whole run. `play` runs one conversation over one channel in a fresh
conversation, checks each turn's `expect` and the `final` keys against what the customer got
back, Rasa's tracker, the hub's handoffs and the CRM's cases, and returns a `Result`: passed,
or the first failing check (turn, key, expected, actual, the bot's replies).

What the format's words mean here (tests/conversations/README.md has the full list):
- asks_for: the form's requested slot, else the pending yes/no question, else "rating" when the
  bot's last message asked for one, else "nothing";
- handoff: the `handoff_id` slot, or a handoff row of the conversation that a person will pick
  up (waiting, assigned, or a callback when nobody is online);
- the case of a conversation: every `case_id` the tracker set, and the cases its handoffs name.
After each conversation the CRM rows it created are deleted, so every conversation meets the
same seeded CRM (no "previous complaints" piling up across the run).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from bot.crm.models import CaseRow, InteractionRow, OfferRow, VerificationAttemptRow
from bot.database import make_engine, naive_utcnow
from bot.handoff.priority import band
from bot.handoff.states import CALLBACK, OPEN_STATES
from bot.handoff.tables import handoffs
from tests.channels.telegram.conftest import SECRET as TELEGRAM_SECRET
from tests.channels.telegram.fake_bot_api import TOKEN as TELEGRAM_TOKEN
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.support.conversation_channels import (
    Answer, ChannelConversation, open_rest, open_telegram, open_webchat,
)
from tests.support.conversation_files import (
    PRIORITIES, SEVERITIES, Conversation, Turn,
)
from tests.support.stack import Stack, http, rasa_api_headers, stack_env

# The set plays many customers from one machine, faster than people type: each conversation
# is its own client already (REST sender, web chat address, Telegram user); only the
# per-conversation burst is raised, so a long conversation played at machine speed is not a flood.
RUNNER_SETTINGS = {"RAPPORT_FLOOD_BURST": "60", "RAPPORT_TRUSTED_PROXIES": "127.0.0.1"}
SLOT_OF = {"order_number": "order_number", "order_contact": "contact",
           "issue_type": "issue", "complaint_description": "description"}
QUESTION_OF = {"remedy_offer": "remedy_answer", "human_offer": "person_offer",
               "complaint_offer": "complaint_offer", "resolution_check": "resolution_check"}
RATING_PROMPTS = {"utter_ask_rating", "utter_rating_invalid"}
HANDED_OVER = (*OPEN_STATES, CALLBACK)
PERSON = re.compile(r"\b(person|colleague|human|someone from our|team member)\b", re.I)
STOP = re.compile(r"\b(stop|cancel|start over)\b", re.I)
ISSUE_CATEGORIES = {"late_delivery": {"late_delivery"}, "damaged": {"damaged"},
                    "wrong_item": {"wrong_item"}, "missing_item": {"missing_item"},
                    "defective": {"poor_quality", "defective"}}
NAMED_ISSUES = set().union(*ISSUE_CATEGORIES.values())


def runner_env(model: Path, db_dir: Path, fake: FakeBotApi) -> dict[str, str]:
    """The stack's environment: its own databases, the cached model, Telegram on the fake."""
    return stack_env(model, db_dir, RAPPORT_TELEGRAM_TOKEN=TELEGRAM_TOKEN,
                     RAPPORT_TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
                     RAPPORT_TELEGRAM_API_URL=fake.base_url, **RUNNER_SETTINGS)


class ConversationStack:
    """The running stack, the fake Bot API and the two databases the checks read."""

    def __init__(self, model: Path, db_dir: Path) -> None:
        self.fake = FakeBotApi()
        self.db_dir = db_dir
        self.model = model
        self.stack: Optional[Stack] = None
        self._crm: Optional[Engine] = None
        self._hub: Optional[Engine] = None

    def __enter__(self) -> "ConversationStack":
        self.fake.start()
        try:
            env = runner_env(self.model, self.db_dir, self.fake)
            self.stack = Stack(env, log_path=self.db_dir / "rapport-run.log")
            self.stack.start()
        except BaseException:
            self.fake.stop()
            raise
        self._crm = make_engine(env["RAPPORT_CRM_URL"])
        self._hub = make_engine(env["RAPPORT_HUB_DB_URL"])
        return self

    def __exit__(self, *exc_info: object) -> None:
        for engine in (self._crm, self._hub):
            if engine is not None:
                engine.dispose()
        if self.stack is not None:
            self.stack.stop()
        self.fake.stop()

    @property
    def crm(self) -> Engine:
        assert self._crm is not None, "the stack is not running"
        return self._crm

    @property
    def hub(self) -> Engine:
        assert self._hub is not None, "the stack is not running"
        return self._hub

    def open(self, conversation: Conversation, channel: str) -> ChannelConversation:
        assert self.stack is not None, "the stack is not running"
        if channel == "rest":
            return open_rest(self.stack, conversation.id)
        if channel == "webchat":
            return open_webchat(self.stack)
        return open_telegram(self.stack, self.fake)

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        assert self.stack is not None, "the stack is not running"
        status, body = http("GET", f"{self.stack.rasa_url}/conversations/{conversation_id}/"
                            "tracker?include_events=ALL", headers=rasa_api_headers())
        if status != 200 or not isinstance(body, dict):
            raise CheckFailed(f"Rasa's API answered {status} for the tracker: {str(body)[:200]}")
        return body

    def handoff_rows(self, conversation_id: str) -> list[dict[str, Any]]:
        with self.hub.connect() as connection:
            return [dict(row) for row in connection.execute(
                select(handoffs).where(handoffs.c.conversation_id == conversation_id)
            ).mappings()]

    def cases(self, case_ids: set[str]) -> list[dict[str, Any]]:
        if not case_ids:
            return []
        table = CaseRow.__table__
        with self.crm.connect() as connection:
            return [dict(row) for row in connection.execute(
                select(table).where(table.c.id.in_(sorted(case_ids)))).mappings()]

    def forget_crm_rows_since(self, start: datetime) -> None:
        """Delete what a conversation added to the CRM, so the next meets the seeded CRM."""
        cases, offers = CaseRow.__table__, OfferRow.__table__
        with self.crm.begin() as connection:
            new_cases = select(cases.c.id).where(cases.c.created_at >= start)
            connection.execute(delete(offers).where(offers.c.case_id.in_(new_cases)))
            connection.execute(delete(cases).where(cases.c.created_at >= start))
            connection.execute(delete(InteractionRow.__table__).where(
                InteractionRow.__table__.c.at >= start))
            connection.execute(delete(VerificationAttemptRow.__table__).where(
                VerificationAttemptRow.__table__.c.at >= start))


class CheckFailed(AssertionError):
    """One check did not hold; the message says which, and what the bot said."""


@dataclass(frozen=True)
class Result:
    id: str
    channel: str
    author: str
    kinds: tuple[str, ...]
    passed: bool
    message: str = ""


@dataclass
class State:
    """What the bot knows about the conversation after a turn."""

    tracker: dict[str, Any]
    turn_events: list[dict[str, Any]]
    handoffs: list[dict[str, Any]]
    cases: list[dict[str, Any]]

    @property
    def slots(self) -> dict[str, Any]:
        return self.tracker.get("slots") or {}

    def asks_for(self) -> str:
        loop = (self.tracker.get("active_loop") or {}).get("name")
        requested = self.slots.get("requested_slot")
        if loop and requested:
            return SLOT_OF.get(requested, requested)
        pending = self.slots.get("pending_question")
        if pending:
            return QUESTION_OF.get(pending, pending)
        said = [e for e in self.tracker.get("events", []) if e.get("event") in ("bot", "user")]
        if said and said[-1]["event"] == "bot" and \
                (said[-1].get("metadata") or {}).get("utter_action") in RATING_PROMPTS:
            return "rating"
        return "nothing"

    def handed_over(self) -> bool:
        return bool(self.slots.get("handoff_id")) or any(
            row["state"] in HANDED_OVER for row in self.handoffs)

    def language(self) -> Optional[str]:
        for name in ("language", "conversation_language"):
            if self.slots.get(name):
                return str(self.slots[name])
        for row in self.handoffs:
            recorded = row.get("language") or _packet(row).get("language")
            if recorded:
                return str(recorded)
        return None

    def responses(self) -> list[str]:
        return [(e.get("metadata") or {}).get("utter_action") or "" for e in self.turn_events
                if e.get("event") == "bot"]

    def actions(self) -> list[str]:
        return [e.get("name") or "" for e in self.turn_events if e.get("event") == "action"]


def _packet(row: dict[str, Any]) -> dict[str, Any]:
    try:
        packet = json.loads(row.get("packet") or "{}")
    except ValueError:
        return {}
    return packet if isinstance(packet, dict) else {}


def case_ids(tracker: dict[str, Any], handoff_rows: list[dict[str, Any]]) -> set[str]:
    """The CRM cases of a conversation: each `case_id` it set, and its handoffs' cases."""
    found = {str(e["value"]) for e in tracker.get("events", [])
             if e.get("event") == "slot" and e.get("name") == "case_id" and e.get("value")}
    return found | {row["case_id"] for row in handoff_rows if row.get("case_id")}


def play(stack: ConversationStack, conversation: Conversation, channel: str) -> Result:
    """Play `conversation` over `channel` in a fresh conversation; passed or the first failure."""
    start = naive_utcnow()
    try:
        talk = stack.open(conversation, channel)
        _play_turns(stack, conversation, talk)
    except CheckFailed as failure:
        return Result(conversation.id, channel, conversation.author, conversation.kinds, False,
                      str(failure))
    finally:
        stack.forget_crm_rows_since(start)
    return Result(conversation.id, channel, conversation.author, conversation.kinds, True)


def _play_turns(stack: ConversationStack, conversation: Conversation,
                talk: ChannelConversation) -> None:
    seen = len(stack.tracker(talk.conversation_id).get("events", []))
    questions: list[tuple[str, bool]] = []  # per turn: the last question asked, a way out?
    state: Optional[State] = None
    for number, turn in enumerate(conversation.turns, start=1):
        answer = talk.say(turn.say)
        tracker = stack.tracker(talk.conversation_id)
        events = tracker.get("events", [])
        rows = stack.handoff_rows(talk.conversation_id)
        state = State(tracker, events[seen:], rows, stack.cases(case_ids(tracker, rows)))
        seen = len(events)
        where = Where(number, turn, answer)
        _check_always(where, state, questions)
        _check_expect(where, state)
    assert state is not None
    _check_final(conversation.final, state, len(conversation.turns))


@dataclass(frozen=True)
class Where:
    """A turn, for failure messages."""

    number: int
    turn: Turn
    answer: Answer

    def fail(self, key: str, expected: Any, actual: Any) -> CheckFailed:
        said = " | ".join(reply.shown() for reply in self.answer.replies) or "(no reply)"
        return CheckFailed(f"turn {self.number} ({_short(self.turn.say)!r}): {key}: expected "
                           f"{expected!r}, got {actual!r}; bot: {_short(said, 400)}")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _check_always(where: Where, state: State, questions: list[tuple[str, bool]]) -> None:
    expected_status = where.turn.expect.get("http_status")
    status = where.answer.status
    if expected_status is not None:
        if status != expected_status:
            raise where.fail("http_status", expected_status, f"{status} {where.answer.error}")
        return
    if status >= 400:
        raise where.fail("no HTTP error", 200, f"{status} {where.answer.error}")
    if not where.answer.replies:
        raise where.fail("at least one reply", ">= 1 reply", 0)
    asked = [e for e in state.turn_events if e.get("event") == "bot" and "?" in (e.get("text") or "")]
    way_out = any(PERSON.search(r.shown()) or STOP.search(r.shown())
                  for r in where.answer.replies) or state.slots.get("pending_question") == \
        "human_offer"
    if not asked:
        questions.append(("", way_out))
        return
    last = asked[-1]
    key = (last.get("metadata") or {}).get("utter_action") or " ".join(last["text"].split())
    questions.append((key, way_out))
    recent = questions[-3:]
    if len(recent) == 3 and all(k == key for k, _ in recent) and not way_out:
        raise where.fail("a way out by the third time the same question is asked",
                         "a person or stop offered", f"{key!r} asked 3 turns in a row")


def _check_expect(where: Where, state: State) -> None:
    expect = where.turn.expect
    shown = " ".join(reply.shown() for reply in where.answer.replies).lower()
    if "replies_any" in expect and not any(f.lower() in shown for f in expect["replies_any"]):
        raise where.fail("replies_any", list(expect["replies_any"]), "none of them")
    if "replies_all" in expect:
        missing = [f for f in expect["replies_all"] if f.lower() not in shown]
        if missing:
            raise where.fail("replies_all", list(expect["replies_all"]), f"missing {missing}")
    if "replies_none" in expect:
        present = [f for f in expect["replies_none"] if f.lower() in shown]
        if present:
            raise where.fail("replies_none", list(expect["replies_none"]), f"present {present}")
    if "asks_for" in expect and state.asks_for() != expect["asks_for"]:
        raise where.fail("asks_for", expect["asks_for"], state.asks_for())
    if "verified" in expect and bool(state.slots.get("customer_verified")) != expect["verified"]:
        raise where.fail("verified", expect["verified"], bool(state.slots.get("customer_verified")))
    if "handoff" in expect and state.handed_over() != expect["handoff"]:
        raise where.fail("handoff", expect["handoff"], state.handed_over())
    if "offers_person" in expect:
        offered = bool(PERSON.search(shown)) or state.slots.get("pending_question") == "human_offer"
        if offered != expect["offers_person"]:
            raise where.fail("offers_person", expect["offers_person"], offered)
    if "language" in expect and state.language() != expect["language"]:
        raise where.fail("language", expect["language"],
                         state.language() or "nothing records the conversation's language")
    _check_internals(where, state)


def _check_internals(where: Where, state: State) -> None:
    """The keys only team-written conversations use: response and action names, slots, loop."""
    expect = where.turn.expect
    for key, ran in (("responses", state.responses()), ("actions", state.actions())):
        missing = [name for name in expect.get(key, ()) if name not in ran]
        if missing:
            raise where.fail(key, list(expect[key]), ran)
    for name, value in (expect.get("slots") or {}).items():
        if state.slots.get(name) != value:
            raise where.fail(f"slots.{name}", value, state.slots.get(name))
    if "active_loop" in expect:
        loop = (state.tracker.get("active_loop") or {}).get("name")
        if loop != expect["active_loop"]:
            raise where.fail("active_loop", expect["active_loop"], loop)


def _check_final(final: dict[str, Any], state: State, turns: int) -> None:
    def fail(key: str, expected: Any, actual: Any) -> CheckFailed:
        return CheckFailed(f"final (after turn {turns}): {key}: expected {expected!r}, got "
                           f"{actual!r}")

    if "verified" in final and bool(state.slots.get("customer_verified")) != final["verified"]:
        raise fail("verified", final["verified"], bool(state.slots.get("customer_verified")))
    if "handoff" in final and state.handed_over() != final["handoff"]:
        raise fail("handoff", final["handoff"], state.handed_over())
    if "handoff_priority" in final:
        handed = [row for row in state.handoffs if row["state"] in HANDED_OVER]
        actual = band(max(row["base_priority"] for row in handed)) if handed else None
        if actual is None or PRIORITIES.index(actual) < PRIORITIES.index(
                final["handoff_priority"]):
            raise fail("handoff_priority (at least)", final["handoff_priority"],
                       actual or "no handoff")
    if "case" in final and bool(state.cases) != final["case"]:
        raise fail("case", final["case"], [case["id"] for case in state.cases])
    if "case_issue" in final:
        wanted = final["case_issue"]
        categories = [case["category"] for case in state.cases]
        fits = [c for c in categories
                if c in ISSUE_CATEGORIES.get(wanted, set())
                or (wanted == "other" and c not in NAMED_ISSUES)]
        if not fits:
            raise fail("case_issue", wanted, categories or "no case")
    if "case_severity_at_least" in final:
        severities = [case["severity"] for case in state.cases if case["severity"] in SEVERITIES]
        worst = max(severities, key=SEVERITIES.index) if severities else None
        if worst is None or SEVERITIES.index(worst) < SEVERITIES.index(
                final["case_severity_at_least"]):
            raise fail("case_severity_at_least", final["case_severity_at_least"],
                       worst or "no case")
    if "csat" in final:
        stored = [case["csat"] for case in state.cases if case["csat"] is not None]
        rating = state.slots.get("rating")
        if final["csat"] not in stored and str(rating) != str(final["csat"]):
            raise fail("csat", final["csat"], {"cases": stored, "rating slot": rating})
    if "callback_time_recorded" in final:
        recorded = bool(state.slots.get("callback_time")) or any(
            _packet(row).get("callback_time") for row in state.handoffs)
        if recorded != final["callback_time_recorded"]:
            raise fail("callback_time_recorded", final["callback_time_recorded"],
                       recorded or "nothing records a callback time")


def play_all(stack: ConversationStack, conversations: list[Conversation],
             channels: Optional[tuple[str, ...]] = None) -> Iterator[Result]:
    """Each conversation over each of its channels (or only those of `channels`), in order."""
    for conversation in conversations:
        for channel in conversation.channels:
            if channels is None or channel in channels:
                yield play(stack, conversation, channel)
