"""Realistic Rasa traffic for `benchmarks/insight.py`: conversations as the broker publishes them.

Each conversation is a run of Rasa events (`user`, `action`, `bot`, `slot`, `session_started`,
`pause`, `resume`, `restart`) in the shape `Event.as_dict()` gives, plus `sender_id` as the
tracker store adds it, encoded as JSON text (what the SQL broker's `events.data` holds).
The mix: order status (some with an e-mail to redact), FAQs, complaints about a product
(case id, remedy accepted or declined), misunderstood messages (`nlu_fallback`) that end
in a handoff to an agent (handed back, or abandoned by a restart), praise and suggestions
about a product, small talk; CSAT ratings; sentiment on every customer message; three
channels. Start times spread evenly over the period, so the volume is flat over 90 days.
Deterministic for a seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

CHANNELS = ("webchat", "telegram", "rest")
CHANNEL_WEIGHTS = (45, 35, 20)
PRODUCTS = ("Kettle", "Toaster", "Blender", "Coffee machine", "Air fryer", "Microwave",
            "Vacuum cleaner", "Iron", "Fridge", "Dishwasher")
ISSUES = ("damaged", "late", "missing", "wrong item", "faulty")
FAQS = ("faq/returns", "faq/delivery_times", "faq/delivery_costs", "faq/opening_hours",
        "faq/payment_methods", "faq/warranty", "faq/refund_timing", "faq/order_changes",
        "faq/account", "faq/contact", "faq/privacy")
AGENTS = ("Sam", "Priya", "Jonas", "Aoife")
SCENARIOS = ("order_status", "faq", "complaint", "handoff", "voice", "small_talk")
SCENARIO_WEIGHTS = (30, 25, 15, 12, 10, 8)
CHUNK = 50  # conversations whose events are interleaved by time before they are sent


@dataclass(frozen=True)
class HandoffMade:
    """A handoff of the traffic, for the hub's `handoffs` table (wait-time KPI)."""

    handoff_id: str
    conversation_id: str
    channel: str
    created_at: datetime
    assigned_at: Optional[datetime]
    state: str


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None)


@dataclass
class _Conversation:
    """Builds one conversation's events, keeping its own clock."""

    sender: str
    channel: str
    at: float
    rng: random.Random
    events: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0

    def _add(self, event: dict[str, Any], step: float = 0.01) -> None:
        self.at += step
        self.events.append({"sender_id": self.sender, "timestamp": round(self.at, 6), **event})

    def pause(self, low: float, high: float) -> None:
        self.at += self.rng.uniform(low, high)

    def session(self) -> None:
        self._add({"event": "action", "name": "action_session_start", "policy": None,
                   "confidence": 1.0})
        self._add({"event": "session_started"})
        self.listen()

    def listen(self) -> None:
        self._add({"event": "action", "name": "action_listen", "policy": "RulePolicy",
                   "confidence": 1.0})

    def says(self, text: str, intent: str, confidence: float, sentiment: float,
             entities: tuple[tuple[str, str], ...] = ()) -> None:
        """A customer message after NLU, then the wait for the bot (0.2-1.5 s)."""
        message_id = f"{self.rng.getrandbits(64):016x}"
        found = [{"entity": name, "value": value, "start": max(0, text.find(value)),
                  "end": max(0, text.find(value)) + len(value), "extractor": "DIETClassifier"}
                 for name, value in entities]
        metadata = {"locale": "en-GB"} if self.rng.random() < 0.3 else {}
        parse = {"text": text, "intent": {"name": intent, "confidence": confidence},
                 "entities": found, "message_id": message_id, "metadata": metadata,
                 "intent_ranking": [{"name": intent, "confidence": confidence}],
                 "sentiment": {"compound": sentiment,
                               "label": "positive" if sentiment >= 0.05 else
                               "negative" if sentiment <= -0.05 else "neutral"}}
        self._add({"event": "user", "text": text, "parse_data": parse,
                   "input_channel": self.channel, "message_id": message_id,
                   "metadata": metadata}, step=self.rng.uniform(3, 45))
        self.turns += 1
        self.at += self.rng.uniform(0.2, 1.5)

    def runs(self, action: str) -> None:
        self._add({"event": "action", "name": action, "policy": "TEDPolicy",
                   "confidence": round(self.rng.uniform(0.7, 1.0), 3)})

    def answers(self, text: str, response: Optional[str]) -> None:
        self._add({"event": "bot", "text": text, "data": {},
                   "metadata": {"utter_action": response} if response else {}})
        self.turns += 1

    def agent(self, name: str, text: str) -> None:
        self._add({"event": "bot", "text": text, "data": {}, "metadata": {"agent": name}})
        self.turns += 1

    def slot(self, name: str, value: Any) -> None:
        self._add({"event": "slot", "name": name, "value": value})

    def reply(self, action: str, text: str, response: Optional[str]) -> None:
        """The bot's answer: its action, the message, then listening again."""
        self.runs(action)
        self.answers(text, response)
        self.listen()


class Traffic:
    """`turns` customer, bot and agent turns of traffic between `start` and `end`."""

    def __init__(self, turns: int, start: datetime, end: datetime, seed: int = 7) -> None:
        self.target = turns
        self.start = start.replace(tzinfo=timezone.utc).timestamp()
        self.span = end.replace(tzinfo=timezone.utc).timestamp() - self.start - 3600
        self.rng = random.Random(seed)
        self.turns = self.events = self.conversations = 0
        self.handoffs: list[HandoffMade] = []

    def batches(self, size: int = 500) -> Iterator[list[tuple[str, str]]]:
        """(sender id, event JSON) pairs in time order, `size` at a time."""
        pending: list[tuple[str, str]] = []
        while self.turns < self.target:
            chunk: list[dict[str, Any]] = []
            for _ in range(CHUNK):
                if self.turns >= self.target:
                    break
                chunk.extend(self._conversation().events)
            chunk.sort(key=lambda event: event["timestamp"])  # stable: each one's order kept
            for event in chunk:
                pending.append((event["sender_id"], json.dumps(event)))
                if len(pending) == size:
                    yield pending
                    pending = []
        if pending:
            yield pending

    def _conversation(self) -> _Conversation:
        rng = self.rng
        self.conversations += 1
        at = self.start + self.span * self.turns / self.target + rng.uniform(0, 600)
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        prefix = {"webchat": "wc", "telegram": "tg", "rest": "api"}[channel]
        talk = _Conversation(f"{prefix}-{self.conversations:08d}", channel, at, rng)
        talk.session()
        scenario = rng.choices(SCENARIOS, SCENARIO_WEIGHTS)[0]
        getattr(self, f"_{scenario}")(talk)
        self.turns += talk.turns
        self.events += len(talk.events)
        return talk

    # -- scenarios ---------------------------------------------------------------------

    def _greet(self, talk: _Conversation) -> None:
        if self.rng.random() < 0.6:
            talk.says(self.rng.choice(("hi", "hello there", "hey", "good morning")), "greet",
                      0.98, 0.2)
            talk.reply("utter_greet", "Hi, I'm Ollie. How can I help?", "utter_greet")

    def _rating(self, talk: _Conversation, chance: float, mood: float) -> None:
        if self.rng.random() >= chance:
            return
        talk.reply("utter_ask_rating", "How would you rate this conversation, from 1 to 5?",
                   "utter_ask_rating")
        low, high = (3, 5) if mood >= 0 else (1, 4)
        rating = self.rng.randint(low, high)
        talk.says(str(rating), "rate", 0.99, 0.1 * (rating - 3))
        talk.runs("action_store_csat")
        talk.slot("rating", rating)
        talk.answers("Thank you for the rating!", "utter_thank_rating")
        talk.listen()

    def _order_status(self, talk: _Conversation) -> None:
        rng = self.rng
        self._greet(talk)
        order = f"{rng.randint(100000, 999999)}"
        text = f"where is my order {order}?"
        if rng.random() < 0.05:
            text += f" my email is jo.{rng.randint(1, 99999)}@example.com"
        talk.says(text, "ask_order_status", round(rng.uniform(0.8, 0.99), 3), -0.1,
                  (("order_number", order),))
        talk.runs("action_check_order_status")
        talk.slot("customer_id", f"C-{rng.randint(1, 50000):09d}")
        status = rng.choice(("shipped", "preparing", "delivered", "late"))
        talk.answers(f"Your order {order} is {status}.", f"utter_order_status_{status}")
        talk.listen()
        if rng.random() < 0.7:
            talk.says("thanks!", "thank", 0.97, 0.5)
            talk.reply("utter_you_are_welcome", "You're welcome!", "utter_you_are_welcome")
        self._rating(talk, 0.35, 0.5)

    def _faq(self, talk: _Conversation) -> None:
        rng = self.rng
        self._greet(talk)
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.12:
                talk.says("hmm the thing with the stuff", "nlu_fallback", 0.31, 0.0)
                talk.reply("action_default_fallback", "Sorry, I didn't get that.",
                           "utter_default")
            faq = rng.choice(FAQS)
            talk.says(f"question about {faq.split('/')[1].replace('_', ' ')}", faq,
                      round(rng.uniform(0.6, 0.99), 3), round(rng.uniform(-0.2, 0.3), 2))
            talk.reply(f"utter_{faq}", "Here is what you need to know…", f"utter_{faq}")
        self._rating(talk, 0.2, 0.2)

    def _complaint(self, talk: _Conversation) -> None:
        rng = self.rng
        product, issue = rng.choice(PRODUCTS), rng.choice(ISSUES)
        talk.says(f"my {product.lower()} arrived {issue}, not happy", "complain",
                  round(rng.uniform(0.75, 0.99), 3), round(rng.uniform(-0.9, -0.3), 2),
                  (("product", product), ("issue_type", issue)))
        talk.runs("action_submit_complaint")
        talk.slot("customer_id", f"C-{rng.randint(1, 50000):09d}")
        talk.slot("case_id", f"CASE-{talk.sender}")
        talk.answers(f"I'm so sorry about your {product.lower()}.", "utter_apology_sincere")
        talk.answers("I can refund it for you. Shall I?", "utter_offer_refund")
        talk.listen()
        accepted = rng.random() < 0.65
        if accepted:
            talk.says("yes please", "affirm", 0.98, 0.3)
            talk.reply("action_accept_remedy", "Done: your refund is on its way.",
                       "utter_remedy_confirmed_refund")
        else:
            talk.says("no, that's not enough", "deny", 0.95, -0.5)
            talk.reply("action_decline_remedy", "Understood.", "utter_remedy_declined")
        self._rating(talk, 0.6, 1 if accepted else -1)

    def _handoff(self, talk: _Conversation) -> None:
        rng = self.rng
        for _ in range(rng.randint(1, 2)):
            talk.says(rng.choice(("asdf", "the blue one not the other", "??")), "nlu_fallback",
                      round(rng.uniform(0.1, 0.4), 3), round(rng.uniform(-0.4, 0.0), 2))
            talk.reply("action_default_fallback", "Sorry, I didn't get that.", "utter_default")
        talk.says("I want to talk to a person", "request_human", 0.97, -0.5)
        talk.runs("action_handoff")
        talk.answers("I'm connecting you with a colleague now.", "utter_handoff_started")
        handoff_id = f"H-{talk.sender}"
        talk.slot("handoff_id", handoff_id)
        talk._add({"event": "pause"})
        created = _utc(talk.at)
        answered = rng.random() < 0.85
        assigned = None
        if answered:
            talk.pause(20, 900)
            assigned = _utc(talk.at)
            talk.agent(rng.choice(AGENTS), "Hi, I'm here to help. What happened?")
            talk.says("my parcel never came", "inform", 0.8, -0.3)
            talk.pause(30, 300)
            talk.agent(rng.choice(AGENTS), "I've sorted it out for you.")
        if answered and rng.random() < 0.85:
            talk.slot("handoff_id", None)
            talk._add({"event": "resume"})
            talk.reply("action_handoff_resolved", "You're back with Ollie now.",
                       "utter_handoff_back")
            self._rating(talk, 0.7, 0.5)
            state = "resolved"
        else:
            talk.pause(60, 600)
            talk._add({"event": "restart"})  # the customer gave up while it was open
            state = "abandoned"
        self.handoffs.append(HandoffMade(handoff_id, talk.sender, talk.channel, created,
                                         assigned, state))

    def _voice(self, talk: _Conversation) -> None:
        rng = self.rng
        product = rng.choice(PRODUCTS)
        if rng.random() < 0.55:
            talk.says(f"I love my new {product.lower()}", "praise", 0.96,
                      round(rng.uniform(0.4, 0.95), 2), (("product", product),))
        else:
            talk.says(f"you should sell the {product.lower()} in more colours", "suggest", 0.9,
                      round(rng.uniform(0.0, 0.4), 2), (("product", product),))
        talk.reply("action_record_feedback", "Thank you, I've passed that on.",
                   "utter_thank_feedback")
        self._rating(talk, 0.3, 0.8)

    def _small_talk(self, talk: _Conversation) -> None:
        rng = self.rng
        self._greet(talk)
        for intent, text, response in rng.sample((
                ("bot_challenge", "are you a bot?", "utter_iamabot"),
                ("out_of_scope", "what's the weather like", "utter_out_of_scope"),
                ("goodbye", "bye", "utter_goodbye")), rng.randint(1, 3)):
            talk.says(text, intent, round(rng.uniform(0.7, 0.99), 3), 0.0)
            talk.reply(response, "…", response)
