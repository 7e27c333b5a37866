"""CSAT: a 1–5 rating stored on the case it is about."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.identity import channel_of
from bot.crm.interface import CrmError
from bot.conversation.feedback import parse_rating

logger = logging.getLogger(__name__)


class ActionStoreCsat(Action):
    def name(self) -> Text:
        return "action_store_csat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        entity = next(tracker.get_latest_entity_values("rating"), None)
        rating = parse_rating(tracker.latest_message.get("text"), entity)
        if rating is None:
            dispatcher.utter_message(response="utter_rating_invalid")
            return [SlotSet("rating", None)]
        case_id = tracker.get_slot("case_id")
        customer_id = tracker.get_slot("customer_id")
        try:
            crm = services.crm()
            if case_id:
                await crm.update_case(case_id, csat=rating)
            if customer_id:
                await crm.add_interaction(customer_id, channel_of(tracker), "csat",
                                          f"Rated the conversation {rating}/5")
        except CrmError as error:
            # The rating is still in the conversation (slot and log); don't fail the customer.
            logger.warning("could not store CSAT for %s: %s", tracker.sender_id, error)
        dispatcher.utter_message(response="utter_rating_thanks")
        return [SlotSet("rating", str(rating))]
