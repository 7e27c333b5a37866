"""What to do when the bot did not understand: ask to rephrase, then offer a person."""

from __future__ import annotations

from typing import Iterable

FALLBACK_INTENT = "nlu_fallback"
OFFER_HUMAN_AFTER = 2


def consecutive_fallbacks(user_intents: Iterable[str]) -> int:
    """How many of the latest user messages in a row were not understood."""
    count = 0
    for intent in reversed(list(user_intents)):
        if intent != FALLBACK_INTENT:
            break
        count += 1
    return count


def fallback_response(user_intents: Iterable[str]) -> str:
    """`utter_fallback_rephrase` first; after repeated misunderstanding, offer a person."""
    if consecutive_fallbacks(user_intents) >= OFFER_HUMAN_AFTER:
        return "utter_fallback_offer_human"
    return "utter_fallback_rephrase"
