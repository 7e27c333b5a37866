"""Low NLU confidence: ask to rephrase; the second time in a row, offer a person."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.tracker_events import user_intents
from bot.conversation.fallback import fallback_response


class ActionHandleFallback(Action):
    def name(self) -> Text:
        return "action_handle_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        response = fallback_response(user_intents(tracker))
        dispatcher.utter_message(response=response)
        offered = response == "utter_fallback_offer_human"
        return [SlotSet("pending_question", "human_offer" if offered else None)]
