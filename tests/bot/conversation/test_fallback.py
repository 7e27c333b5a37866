from bot.conversation.fallback import consecutive_fallbacks, fallback_response


def test_first_fallback_asks_to_rephrase_the_second_offers_a_person():
    assert fallback_response(["greet", "nlu_fallback"]) == "utter_fallback_rephrase"
    assert fallback_response(["nlu_fallback", "nlu_fallback"]) == "utter_fallback_offer_human"


def test_an_understood_message_resets_the_count():
    assert consecutive_fallbacks(["nlu_fallback", "greet", "nlu_fallback"]) == 1
    assert consecutive_fallbacks([]) == 0
