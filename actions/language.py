"""A message in another language: say in that language that Ollie works in English, offer a
colleague, and record the language on the conversation."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.conversation.other_language import colleague_buttons, other_language_reply
from bot.nlu.language import LanguageGuess


class ActionOtherLanguage(Action):
    """The customer's "yes" (/affirm) with `pending_question: human_offer` hands over."""

    def name(self) -> Text:
        return "action_other_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        code = LanguageGuess.from_parse_data(tracker.latest_message).code
        accept, decline = colleague_buttons(code)
        dispatcher.utter_message(text=other_language_reply(code), buttons=[
            {"title": accept, "payload": "/affirm"},
            {"title": decline, "payload": "/deny"},
        ])
        return [SlotSet("language", code), SlotSet("pending_question", "human_offer")]
