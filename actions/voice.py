"""Praise and suggestions: thank the customer and record what they said."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.identity import channel_of
from bot.conversation.voice import read_feedback
from bot.crm.interface import CrmError

logger = logging.getLogger(__name__)


class ActionRecordFeedback(Action):
    """The exchange log keeps the words; a verified customer's CRM timeline gets a line."""

    def name(self) -> Text:
        return "action_record_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        product = next(tracker.get_latest_entity_values("product"), None) \
            or tracker.get_slot("product")
        feedback = read_feedback(intent, tracker.latest_message.get("text") or "", product)
        if feedback is None:  # run by a story after another intent: just thank them
            dispatcher.utter_message(response="utter_thanks_praise")
            return []
        customer_id = tracker.get_slot("customer_id")
        if customer_id and tracker.get_slot("customer_verified"):
            try:
                await services.crm().add_interaction(customer_id, channel_of(tracker),
                                                     feedback.kind, feedback.summary())
            except CrmError as error:  # the log still has it; never fail the customer
                logger.warning("could not record feedback for %s: %s",
                               tracker.sender_id, type(error).__name__)
        response = "utter_thanks_praise" if feedback.kind == "praise" \
            else "utter_thanks_suggestion"
        if feedback.product:
            dispatcher.utter_message(response=response + "_product", product=feedback.product)
        else:
            dispatcher.utter_message(response=response)
        return []
