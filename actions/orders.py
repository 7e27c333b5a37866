"""Order status: the verified customer's order, told the way a person would tell it."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.identity import channel_of, unverified_events
from bot.crm.interface import CrmUnavailable, OrderNotFound
from bot.conversation.order_status import describe_order

logger = logging.getLogger(__name__)


class ActionCheckOrderStatus(Action):
    def name(self) -> Text:
        return "action_check_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if not tracker.get_slot("customer_verified"):
            return unverified_events(dispatcher, tracker)
        number = tracker.get_slot("order_number")
        crm = services.crm()
        try:
            order = await crm.get_order(number)
        except OrderNotFound:
            dispatcher.utter_message(response="utter_order_not_on_account")
            return [SlotSet("pending_question", None), SlotSet("order_number", None)]
        except CrmUnavailable:
            logger.warning("CRM unavailable for order status in %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_crm_unavailable")
            return []
        if order.customer_id != tracker.get_slot("customer_id"):
            dispatcher.utter_message(response="utter_order_not_on_account")
            return [SlotSet("pending_question", None), SlotSet("order_number", None)]
        answer = describe_order(order, services.today())
        dispatcher.utter_message(response=answer.response, **answer.values)
        await crm.add_interaction(order.customer_id, channel_of(tracker), "order_status",
                                  f"Asked for the status of {order.number}: {order.status}")
        if answer.is_late or order.status == "lost":
            issue = "missing_item" if order.status == "lost" else "late_delivery"
            return [SlotSet("pending_question", "complaint_offer"), SlotSet("issue_type", issue)]
        # Answered: the next question starts with a fresh order number.
        return [SlotSet("pending_question", None), SlotSet("order_number", None)]


class ActionDeclineComplaint(Action):
    def name(self) -> Text:
        return "action_decline_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(response="utter_complaint_offer_declined")
        return [SlotSet("pending_question", None), SlotSet("issue_type", None),
                SlotSet("order_number", None)]
