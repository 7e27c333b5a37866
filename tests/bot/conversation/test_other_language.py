"""The other-language reply: the customer's language first, then the same in English."""

from __future__ import annotations

import pytest

from bot.conversation.other_language import (
    ENGLISH_REPLY, LANGUAGE_NAMES, answer_to_colleague_offer, colleague_buttons,
    other_language_reply,
)
from bot.nlu.language import LANGUAGES


@pytest.mark.parametrize("code, english, colleague", [
    ("fr", "anglais", "collègue"),
    ("de", "Englisch", "Kollegin oder einen Kollegen"),
    ("es", "inglés", "compañero"),
    ("it", "inglese", "collega"),
    ("nl", "Engels", "collega"),
    ("pt", "inglês", "colega"),
])
def test_the_reply_names_english_and_a_colleague_in_the_customers_language(
        code, english, colleague):
    reply = other_language_reply(code)
    own, translation = reply.split("\n\n")
    assert english in own and colleague in own and own.endswith("?")
    assert translation == ENGLISH_REPLY


@pytest.mark.parametrize("code", ["en", "xx", "", "FR"])
def test_english_or_an_unknown_code_gets_the_english_reply_alone(code):
    assert other_language_reply(code) == ENGLISH_REPLY
    assert colleague_buttons(code) == ("Yes, a colleague", "No, thanks")


def test_every_detected_language_has_a_name_a_reply_and_buttons():
    assert set(LANGUAGE_NAMES) == set(LANGUAGES)
    for code in LANGUAGES:
        yes, no = colleague_buttons(code)
        assert yes and no and yes != no
        if code != "en":
            assert other_language_reply(code) != ENGLISH_REPLY
    assert (LANGUAGE_NAMES["fr"], LANGUAGE_NAMES["nl"]) == ("French", "Dutch")


@pytest.mark.parametrize("text, answer", [
    ("oui, un collègue s'il vous plaît", True),
    ("sí por favor, con una persona", True),
    ("va bene, passatemi un collega per favore", True),
    ("ja graag een collega", True),
    ("ja graag", True),
    ("Ja, bitte verbinden", True),
    ("yes please", True),
    ("non merci", False),
    ("nein danke, ich versuche es auf Englisch", False),
    ("no, gracias", False),
    ("nee hoor", False),
    ("ok dann auf englisch. my email is ada@example.com", None),
    ("", None),
    ("no, I want a person", None),  # both: unclear, so the bot asks again
])
def test_a_typed_answer_to_the_colleague_offer_in_any_language(text, answer):
    assert answer_to_colleague_offer(text) is answer
