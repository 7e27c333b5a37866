"""Building rasa-sdk trackers inline for action tests."""

from __future__ import annotations

from typing import Any, Optional

import yaml
from rasa_sdk import Tracker

from tests.support import PROJECT
DOMAIN: dict = yaml.safe_load((PROJECT / "domain.yml").read_text())


def user_event(text: str, intent: str, entities: Optional[list] = None, channel: str = "rest",
               sentiment: float = 0.0, metadata: Optional[dict] = None) -> dict:
    return {
        "event": "user", "text": text, "input_channel": channel, "metadata": metadata or {},
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.95},
                       "entities": entities or [],
                       "sentiment": {"compound": sentiment, "label": "neutral"}},
    }


def make_tracker(*, text: str = "", intent: str = "greet", entities: Optional[list] = None,
                 slots: Optional[dict] = None, history: Optional[list] = None,
                 channel: str = "rest", sender: str = "test-user", trailing_slots: Optional[dict] = None,
                 active_loop: Optional[str] = None, sentiment: float = 0.0,
                 metadata: Optional[dict] = None) -> Tracker:
    """A tracker whose latest message is `text`; `trailing_slots` are SlotSets after it."""
    latest = user_event(text, intent, entities, channel, sentiment, metadata)
    events = [*(history or []), latest]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (trailing_slots or {}).items()]
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots.update({"customer_verified": False, "verification_locked": False})
    all_slots.update(slots or {})
    all_slots.update(trailing_slots or {})
    return Tracker(
        sender_id=sender, slots=all_slots, latest_message=latest["parse_data"], events=events,
        paused=False, followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def responses(dispatcher: Any) -> list[str]:
    return [message.get("response") for message in dispatcher.messages]


def slot_events(events: list) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}
