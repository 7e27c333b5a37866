"""Rasa events the way the broker publishes them, for the exchange log's tests.

Made with Rasa's own event classes (`.as_dict()`, plus `sender_id` as the tracker store adds
it before publishing), in the order Rasa logs them: an action's `action` event first, then
the events it returned.
"""

from __future__ import annotations

import secrets
from typing import Any, Optional

from rasa.shared.core.events import (
    ActionExecuted, BotUttered, ConversationPaused, ConversationResumed, Event, Restarted,
    SessionStarted, SlotSet, UserUttered,
)

T0 = 1_790_000_000.0  # a fixed Unix time, so keys and latencies are the same every run
EMAIL = "ada.lovelace@example.com"
PHONE = "+44 7700 900123"


def said(text: str, intent: str, confidence: float, at: float, *,
         sentiment: Optional[float] = None, entities: Optional[list[dict[str, Any]]] = None,
         channel: str = "telegram", metadata: Optional[dict[str, Any]] = None) -> UserUttered:
    """A customer's message as Rasa logs it after NLU (our pipeline adds `sentiment`)."""
    parse_data: dict[str, Any] = {
        "text": text, "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "message_id": secrets.token_hex(16), "metadata": metadata or {},
    }
    if sentiment is not None:
        parse_data["sentiment"] = {"compound": sentiment,
                                   "label": "negative" if sentiment < 0 else "positive"}
    return UserUttered(text, intent=parse_data["intent"], parse_data=parse_data,
                       input_channel=channel, message_id=parse_data["message_id"],
                       metadata=metadata or {}, timestamp=at)


def uttered(text: str, response: Optional[str], at: float, **data: Any) -> BotUttered:
    metadata = {"utter_action": response} if response else {}
    return BotUttered(text, data=data or None, metadata=metadata, timestamp=at)


def ran(action: str, at: float) -> ActionExecuted:
    return ActionExecuted(action, policy="RulePolicy", confidence=1.0, timestamp=at)


def order_then_handoff(t0: float = T0) -> list[Event]:
    """A customer asks about an order (giving an e-mail and phone number), is not understood
    once, asks for a person, talks with an agent, is handed back and rates the chat 5."""
    return [
        ran("action_session_start", t0), SessionStarted(timestamp=t0 + 0.001),
        ran("action_listen", t0 + 0.002),
        said(f"Hi, where is my order? Mail me at {EMAIL} or ring {PHONE}", "where_is_my_order",
             0.93, t0 + 1, sentiment=-0.4,
             entities=[{"entity": "email", "value": EMAIL, "start": 30, "end": 54,
                        "extractor": "RegexEntityExtractor"}],
             metadata={"telegram_update_id": 1001, "locale": "en-GB"}),
        ran("action_order_status", t0 + 1.4),
        SlotSet("customer_id", "C-000000000001", timestamp=t0 + 1.41),
        uttered("Your order is on its way and arrives on Friday.", "utter_order_status",
                t0 + 1.5),
        ran("action_listen", t0 + 1.6),
        said("asdf qwerty", "nlu_fallback", 0.21, t0 + 10, sentiment=0.0),
        ran("action_default_fallback", t0 + 10.3),
        uttered("Sorry, I didn't get that. Could you say it another way?", "utter_default",
                t0 + 10.35),
        ran("action_listen", t0 + 10.4),
        said("I want to talk to a person", "request_human", 0.97, t0 + 20, sentiment=-0.6),
        ran("action_handoff", t0 + 20.5),
        SlotSet("pending_question", None, timestamp=t0 + 20.51),
        uttered("I'm connecting you with a colleague now.", "utter_handoff_started", t0 + 20.6),
        SlotSet("handoff_id", "H-0001", timestamp=t0 + 20.61),
        ConversationPaused(timestamp=t0 + 20.62),
        BotUttered(f"Hi, I'm Sam. I can see the order; I'll call {PHONE} if needed.",
                   metadata={"agent": "Sam"}, timestamp=t0 + 60),
        said("Thanks Sam", "thank", 0.9, t0 + 70, sentiment=0.4),
        ConversationResumed(timestamp=t0 + 90), ran("action_listen", t0 + 90.001),
        said("EXTERNAL_handoff_resolved", "EXTERNAL_handoff_resolved", 1.0, t0 + 90.1,
             channel="rest"),
        ran("action_handoff_resolved", t0 + 90.5),
        uttered("You're back with Ollie now.", "utter_handoff_back", t0 + 90.6),
        uttered("How would you rate this conversation?", "utter_ask_rating", t0 + 90.7,
                buttons=[{"title": "5", "payload": "/rate"}]),
        SlotSet("handoff_id", None, timestamp=t0 + 90.71),
        ran("action_listen", t0 + 90.8),
        said("5", "rate", 0.99, t0 + 100, sentiment=0.5),
        SlotSet("rating", "5", timestamp=t0 + 100.2),
        ran("utter_thanks_rating", t0 + 100.3),
        uttered("Thank you!", "utter_thanks_rating", t0 + 100.35),
        ran("action_listen", t0 + 100.4),
    ]


def gives_up_waiting(t0: float = T0) -> list[Event]:
    """A customer asks for a person and restarts before anyone comes."""
    return [
        said("I need a human now", "request_human", 0.95, t0, sentiment=-0.7, channel="rest"),
        ran("action_handoff", t0 + 0.4),
        uttered("I'm connecting you with a colleague now.", "utter_handoff_started", t0 + 0.5),
        SlotSet("handoff_id", "H-0002", timestamp=t0 + 0.51),
        ConversationPaused(timestamp=t0 + 0.52),
        said("/restart", "restart", 1.0, t0 + 300, channel="rest"),
        Restarted(timestamp=t0 + 300.1),
    ]


def published(sender_id: str, events: list[Event]) -> list[dict[str, Any]]:
    """What the tracker store hands the broker: each event's dict with the sender id."""
    return [{"sender_id": sender_id, **event.as_dict()} for event in events]
