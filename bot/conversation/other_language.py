"""What Ollie says to a customer who writes in another language: in their language first.

Ollie works in English only, so the honest answer is to say so in the customer's own
language, offer a colleague, and repeat it in English (the guess may be wrong, and a
colleague reading the transcript should see what was said).
"""

from __future__ import annotations

from bot.nlu.language import LANGUAGE_NAMES

__all__ = ["ENGLISH_REPLY", "LANGUAGE_NAMES", "answer_to_colleague_offer", "colleague_buttons",
           "other_language_reply"]

ENGLISH_REPLY = "I'm sorry, I can only help in English for now. Shall I bring in a colleague?"

_REPLIES: dict[str, str] = {
    "fr": "Je suis désolé, pour l'instant je ne peux vous aider qu'en anglais. "
          "Voulez-vous que je fasse appel à un collègue ?",
    "de": "Es tut mir leid, ich kann Ihnen im Moment nur auf Englisch helfen. "
          "Soll ich eine Kollegin oder einen Kollegen dazuholen?",
    "es": "Lo siento, por ahora solo puedo ayudarle en inglés. "
          "¿Quiere que le pase con un compañero?",
    "it": "Mi dispiace, per ora posso aiutarla solo in inglese. "
          "Vuole che chiami un collega?",
    "nl": "Het spijt me, ik kan u voorlopig alleen in het Engels helpen. "
          "Zal ik er een collega bij halen?",
    "pt": "Lamento, por enquanto só posso ajudar em inglês. "
          "Quer que chame um colega?",
}

# Button titles: (accept the colleague, decline).
_BUTTONS: dict[str, tuple[str, str]] = {
    "en": ("Yes, a colleague", "No, thanks"),
    "fr": ("Oui, un collègue", "Non, merci"),
    "de": ("Ja, bitte verbinden", "Nein, danke"),
    "es": ("Sí, un compañero", "No, gracias"),
    "it": ("Sì, un collega", "No, grazie"),
    "nl": ("Ja, een collega", "Nee, bedankt"),
    "pt": ("Sim, um colega", "Não, obrigado"),
}


def other_language_reply(code: str) -> str:
    """The reply in the customer's language, then in English; English alone if unknown."""
    reply = _REPLIES.get(code)
    return f"{reply}\n\n{ENGLISH_REPLY}" if reply else ENGLISH_REPLY


def colleague_buttons(code: str) -> tuple[str, str]:
    """Titles for "yes, a colleague" and "no" in the customer's language (English if unknown)."""
    return _BUTTONS.get(code, _BUTTONS["en"])


# The customer's typed answer to the offer, in any of the languages (a button sends
# /affirm or /deny instead). A colleague named is a yes; "ok" alone is not ("ok, dann auf
# Englisch" carries on in English).
_YES = frozenset("""
    yes yeah yep please oui volontiers d'accord ja jawohl gerne gern sí si claro vale sim
    certo certamente graag colleague person human agent collègue conseiller humain kollege
    kollegin kollegen mitarbeiter mitarbeiterin mensch compañero compañera persona collega
    operatore colega pessoa medewerker
""".split())
_NO = frozenset("no nope non nein nee não nao niet kein keine keinen nicht pas".split())


def answer_to_colleague_offer(text: str) -> bool | None:
    """True for yes, False for no, None when the message says neither (or both)."""
    words = {word.strip(".,!?;:¡¿\"'()") for word in (text or "").lower().replace("’", "'").split()}
    yes, no = bool(words & _YES), bool(words & _NO)
    return None if yes == no else yes
