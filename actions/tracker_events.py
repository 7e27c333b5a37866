"""The one place actions read what NLU made of the customer's messages: intent, entities, mood.

Rasa keeps that in each `user` event's `parse_data`, and `tracker.latest_message` is the latest
`parse_data` itself; actions read both through here, so they agree on missing or odd values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

from rasa_sdk import Tracker

from bot.conversation.identity import find_contact, find_order_number
from bot.conversation.reading import read_message
from bot.crm.validation import MAX_REQUEST_KEY_CHARS

Event = Dict[str, Any]


@dataclass(frozen=True)
class Understood:
    """What NLU said about one message; empty values when it said nothing."""

    intent: Optional[str] = None
    confidence: Optional[float] = None
    entities: tuple[Dict[str, Any], ...] = ()
    sentiment: Optional[float] = None  # VADER compound, -1..1


def _number(value: Any) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def understood_from(parse_data: Optional[Dict[str, Any]]) -> Understood:
    """Read a `parse_data` dict (or `tracker.latest_message`), tolerating missing parts."""
    parse_data = parse_data if isinstance(parse_data, dict) else {}
    intent = parse_data.get("intent")
    intent = intent if isinstance(intent, dict) else {}
    sentiment = parse_data.get("sentiment")
    sentiment = sentiment if isinstance(sentiment, dict) else {}
    return Understood(
        intent=intent.get("name") or None,
        confidence=_number(intent.get("confidence")),
        entities=tuple(e for e in parse_data.get("entities") or [] if isinstance(e, dict)),
        sentiment=_number(sentiment.get("compound")),
    )


def understood(event: Event) -> Understood:
    """What NLU said about a `user` event."""
    return understood_from(event.get("parse_data"))


def latest(tracker: Tracker) -> Understood:
    """What NLU said about the customer's latest message."""
    return understood_from(tracker.latest_message)


def user_events(tracker: Tracker) -> List[Event]:
    """The customer's messages in the tracker, oldest first."""
    return [event for event in tracker.events if event.get("event") == "user"]


def latest_message_id(tracker: Tracker) -> Optional[str]:
    """The id the channel gave the customer's latest message, None if it gave none.

    Rasa copies `UserMessage.message_id` into the latest message's `parse_data` (so into
    `tracker.latest_message`) and onto the `user` event; a triggered (EXTERNAL_) intent has none.
    """
    message_id = (tracker.latest_message or {}).get("message_id")
    if not message_id:
        users = user_events(tracker)
        message_id = users[-1].get("message_id") if users else None
    return str(message_id) if message_id else None




def request_key(tracker: Tracker, purpose: Optional[str] = None) -> Optional[str]:
    """The CRM idempotency key of what this turn does: "<sender>:<message id>[:<purpose>]".

    The same customer message, however often its turn runs (a crash, then the channel
    delivering it again with the same id), gives the same key, so the CRM opens its case once.
    `purpose` tells apart the different cases one turn may open (a complaint, a callback).
    None when the message has no id. A key the CRM could not take as given (over 200
    characters, unprintable ones) is replaced by its SHA-256, which is just as stable.
    """
    message_id = latest_message_id(tracker)
    if message_id is None:
        return None
    key = f"{tracker.sender_id}:{message_id}" + (f":{purpose}" if purpose else "")
    if len(key) > MAX_REQUEST_KEY_CHARS or not key.isprintable() or key != key.strip():
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def user_intents(tracker: Tracker) -> List[str]:
    """The intent of each of the customer's messages, oldest first ("" where there is none)."""
    return [understood(event).intent or "" for event in user_events(tracker)]


def asked_in_a_row(tracker: Tracker, asks: Iterable[str]) -> int:
    """How often the bot asked one of the `asks` responses since the last form ended
    or last asked something else.

    So a form's question can change (an example, a way out) when the customer's answers keep
    not fitting (a wrong e-mail three times is three asks), instead of the same words again.
    """
    asks = set(asks)
    count = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        said = (event.get("metadata") or {}).get("utter_action") if kind == "bot" else None
        if said in asks:
            count += 1
        elif said and said.startswith("utter_ask_"):
            break  # another question: this one was answered
        elif kind == "active_loop" and not event.get("name"):
            break  # a form ended: what came before was another task
    return count


STICKY_MESSAGES = 30


@dataclass(frozen=True)
class StickySignals:
    """What any of the customer's recent messages said: it counts whatever path followed."""

    public_threat: bool = False
    strong_anger: bool = False
    hazard: Optional[str] = None


def sticky_signals(tracker: Tracker) -> StickySignals:
    """A threat, strong anger or a hazard in any of the last `STICKY_MESSAGES` messages."""
    readings = [read_message(str(e.get("text") or ""))
                for e in user_events(tracker)[-STICKY_MESSAGES:]]
    return StickySignals(
        public_threat=any(r.public_threat for r in readings),
        strong_anger=any(r.strong_anger for r in readings),
        hazard=next((r.hazard for r in readings if r.hazard), None),
    )


def entity_names(tracker: Tracker) -> frozenset[str]:
    """The entities in the customer's latest message, with the ids the forms read from text."""
    text = str((tracker.latest_message or {}).get("text") or "")
    names = {str(e.get("entity")) for e in latest(tracker).entities}
    if find_order_number(text):
        names.add("order_number")
    if find_contact(text):
        names.add("email")
    return frozenset(names)


def previous_bot_turn(tracker: Tracker) -> List[Event]:
    """The bot's messages between the customer's previous message and the latest one."""
    said: List[Event] = []
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                break
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            said.append(event)
    return list(reversed(said))
