"""Handing the conversation to a person, and taking it back afterwards."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

logger = logging.getLogger(__name__)


async def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str,
                   case_id: Optional[str] = None, severity: Optional[str] = None) -> List[EventType]:
    """Tell the customer a person is coming and return the events that hand over.

    Every handoff trigger (asking for a person, a declined remedy, a severe complaint, a
    public threat) goes through here, so they all behave the same.
    """
    logger.info("handoff for %s: %s (case %s, severity %s)", tracker.sender_id, reason,
                case_id, severity)
    dispatcher.utter_message(response="utter_handoff_started")
    return [SlotSet("pending_question", None)]


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = {"request_human": "customer asked for a person",
                  "threaten_public": "public escalation risk",
                  "affirm": "not understood; customer accepted a person"}.get(intent, "handoff")
        return await hand_off(dispatcher, tracker, reason)


class ActionHandoffResolved(Action):
    def name(self) -> Text:
        return "action_handoff_resolved"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(response="utter_ask_rating")
        return []


class ActionHandoffDeclined(Action):
    def name(self) -> Text:
        return "action_handoff_declined"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(response="utter_handoff_declined")
        return [SlotSet("pending_question", None)]
