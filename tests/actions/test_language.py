"""A message in another language: answered in that language, a colleague offered, recorded."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.language import ActionOtherLanguage
from bot.nlu.language import detect_language
from tests.support.trackers import DOMAIN, make_tracker, slot_events


def tracker_in(text: str, language: dict | None):
    tracker = make_tracker(text=text, intent="nlu_fallback")
    if language is not None:
        tracker.latest_message["language"] = language  # as the NLU component adds it
    return tracker


async def run(tracker):
    dispatcher = CollectingDispatcher()
    events = await ActionOtherLanguage().run(dispatcher, tracker, DOMAIN)
    return dispatcher, events


@pytest.mark.parametrize("code, english_word, yes", [
    ("fr", "anglais", "Oui, un collègue"),
    ("de", "Englisch", "Ja, bitte verbinden"),
    ("es", "inglés", "Sí, un compañero"),
    ("it", "inglese", "Sì, un collega"),
    ("nl", "Engels", "Ja, een collega"),
    ("pt", "inglês", "Sim, um colega"),
])
async def test_the_customer_is_answered_in_their_language_and_offered_a_colleague(
        code, english_word, yes):
    dispatcher, events = await run(tracker_in("…", {"code": code, "confidence": 0.97}))
    [message] = dispatcher.messages
    assert english_word in message["text"]
    assert message["text"].endswith(
        "I'm sorry, I can only help in English for now. Shall I bring in a colleague?")
    assert message["buttons"][0] == {"title": yes, "payload": "/affirm"}
    assert message["buttons"][1]["payload"] == "/deny"
    assert message.get("response") is None
    assert slot_events(events) == {"language": code, "pending_question": "human_offer"}


async def test_a_french_message_end_to_end_with_the_detector():
    text = "Bonjour, ma commande n'est toujours pas arrivée, pouvez-vous m'aider ?"
    dispatcher, events = await run(tracker_in(text, detect_language(text).as_dict()))
    assert dispatcher.messages[0]["text"].startswith("Je suis désolé")
    assert dispatcher.messages[0]["buttons"][1] == {"title": "Non, merci", "payload": "/deny"}
    assert slot_events(events)["language"] == "fr"


@pytest.mark.parametrize("language", [None, {}, {"code": "xx"}, "fr", {"code": None}])
async def test_a_missing_or_odd_language_gets_the_english_offer(language):
    dispatcher, events = await run(tracker_in("hmm", language))
    [message] = dispatcher.messages
    assert message["text"] == ("I'm sorry, I can only help in English for now. "
                               "Shall I bring in a colleague?")
    assert [b["title"] for b in message["buttons"]] == ["Yes, a colleague", "No, thanks"]
    assert slot_events(events) == {"language": "en", "pending_question": "human_offer"}
