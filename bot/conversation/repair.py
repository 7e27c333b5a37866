"""Repair: what the bot does when a customer's message leaves the script.

Rasa's rules and forms follow the flows as they were built; customers answer a different
question, give two details at once, decline in their own words, add detail after an offer,
report a hazard, or write in another language. `next_repair` reads one message in the
context of the bot's own last question and names the action that answers it, or None when
the ordinary rules, forms and TED should decide. It is pure (a `TurnView` in, an action
name out), so every case is tested without Rasa; `bot/dialogue/repair_policy.py` is the thin
Rasa policy that asks it after each customer message.

The cases follow the canon of conversational repair (interruption and return, correction,
cancellation, clarification, chitchat, completion, "cannot handle", human handoff):
- a hazard (sparks, smoke, a burn, a cut) comes first, whatever else is going on;
- a message in another language is answered in that language, with a colleague offered;
- inside a form, "stop"/"start over" ends the task and questions about the process are
  answered before the form asks again (everything else is the form's to validate);
- outside a form, the pending yes/no question decides what the customer's own words mean
  (a decline, a yes, extra detail after an offer, a rating), and a message carrying an
  order number or an e-mail address starts the form that can use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from bot.conversation.other_language import answer_to_colleague_offer
from bot.conversation.reading import Reading, read_message

ENGLISH = "en"
# Intents Rasa or the channels send themselves, and button payloads: never re-read.
SYSTEM_INTENTS = frozenset({"restart", "session_start", "back", "EXTERNAL_handoff_resolved",
                            "EXTERNAL_handoff_callback"})
# Intents whose own rules already answer an identity-bearing message the right way.
OWN_RULE_INTENTS = frozenset({"request_human", "faq", "threaten_public", "stop"})
COMPLAINT_INTENTS = frozenset({"complain", "insult"})
# Intents that say nothing about a complaint: a message with them is not part of the story.
DIGRESSION_INTENTS = frozenset({"faq", "request_human", "stop", "greet", "goodbye", "thank",
                                "bot_challenge", "out_of_scope", "affirm", "deny", "praise",
                                "suggest", "rate"})
# Intents NLU gives a problem report it did not recognise as one.
# Intents whose own rules answer them inside a form (a digression, or a switch of task).
RULED_INTENTS = frozenset({"greet", "goodbye", "thank", "bot_challenge", "out_of_scope", "faq",
                           "threaten_public", "insult", "rate", "request_human", "stop",
                           "praise", "suggest", "complain", "ask_order_status"})
# Intents that say something else even with closing words ("bye" has its own rule).
NOT_CLOSING = frozenset({"greet", "goodbye", "faq", "request_human", "threaten_public",
                         "complain", "ask_order_status"})
# The intents whose rules start a form: inside that same (rejected) form they have no answer.
STARTS_FORM = {"complain": "complaint_form", "ask_order_status": "verify_form"}
MISREAD_INTENTS = frozenset({"nlu_fallback", "praise", "out_of_scope", "inform", "suggest"})
# An order that has not come (yet): a status question first, whatever the intent.
LATE = re.compile(r"\b(?:late|delayed|overdue|supposed to (?:be here|arrive|come)|"
                  r"(?:not|never|hasn'?t|has not|didn'?t|still not) (?:here|arrived|come|came|"
                  r"turned up|shown up)|still waiting|where(?:'s| is)|when will)\b", re.IGNORECASE)
# Something is wrong, in no particular category: the complaint form asks which.
PROBLEM = re.compile(r"\b(?:(?:isn'?t|not|aint|ain'?t) (?:quite )?right|something'?s? (?:is )?wrong|"
                     r"(?:a |an )?(?:problem|issue) with (?:it|my|the)|not happy with)\b",
                     re.IGNORECASE)
# Asking for a person in words NLU may not read as request_human ("ok yes get me a person",
# "i'd rather talk to someone from your team").
PERSON_WANTED = re.compile(
    r"\b(?:get|give|put|pass|transfer|connect|speak|talk|chat|rather (?:talk|speak))"
    r"\b[^.!?\n]{0,25}\b(?:person|human|colleague|agent|someone|somebody|team member|manager|"
    r"real person|actual person)\b", re.IGNORECASE)
# "what?", "say that again": the bot's last turn, once more.
REPEAT = re.compile(
    r"^\W*(?:(?:sorry|pardon|what|wha+t*|huh|come again|say (?:that|it) again|"
    r"(?:can you |could you )?repeat(?: that| it)?|what did you (?:say|ask)|"
    r"i didn'?t (?:get|catch) (?:that|it))\W*){1,3}(?:please\W*)?$", re.IGNORECASE)
ORDER_ENTITIES = frozenset({"order_number", "email"})
PROCESS_RESPONSES = {
    "why_contact": "utter_process_why_contact",
    "what_needed": "utter_process_what_needed",
    "what_next": "utter_process_what_next",
    "order_number_help": "utter_process_order_number_help",
}
# What the customer's message means for each pending question, when it is not a plain
# affirm or deny: (on yes, on no).
ANSWERS = {
    "human_offer": ("action_handoff", "action_handoff_declined"),
    "complaint_offer": ("complaint_form", "action_decline_complaint"),
    "resolution_check": ("action_confirm_resolution", "action_confirm_resolution"),
    "remedy_offer": ("action_accept_remedy", "action_decline_remedy"),
}
MIN_DETAIL_WORDS = 3
MAX_REQUEST_WORDS = 25
# A second need read from the words (bot/conversation/reading.py), and the FAQ that answers it.
NEED_ANSWERS = {"returns": "utter_faq/returns", "delivery_times": "utter_faq/delivery_times",
                "refund_timing": "utter_faq/refund_timing"}
# How the bot names a kept question: "I'll come back to your question about {label}".
NEED_LABELS = {
    "utter_faq/returns": "returns", "utter_faq/delivery_times": "delivery times",
    "utter_faq/delivery_costs": "delivery costs", "utter_faq/refund_timing": "refunds",
    "utter_faq/payment_methods": "paying (cards, PayPal, Klarna and more)",
    "utter_faq/warranty": "the warranty", "utter_faq/opening_hours": "our opening hours",
    "utter_faq/contact": "how to reach us", "utter_faq/account": "your account and address",
    "utter_faq/privacy": "your data", "utter_faq/order_changes": "changing an order",
    "utter_faq/couriers": "which courier delivers",
}


@dataclass(frozen=True)
class TurnView:
    """The customer's latest message and the bot's state around it."""

    text: str
    intent: str
    entities: frozenset[str]
    reading: Reading
    active_loop: Optional[str] = None
    pending_question: Optional[str] = None
    asked_rating: bool = False
    safety_handled: bool = False
    language: str = ENGLISH
    language_confidence: float = 0.0
    conversation_language: str = ENGLISH  # the language slot: set once another was seen
    handed_over: bool = False  # a handoff is already open
    faq_answer: Optional[str] = None  # the FAQ response NLU picked, when the intent is faq
    offered_remedy: Optional[str] = None  # the remedy on the table (or just accepted)
    issue_words: tuple[str, ...] = ()  # the issue_type entities' text ("late", "cracked")

    @property
    def is_payload(self) -> bool:
        return self.text.startswith("/")

    @property
    def other_language(self) -> bool:
        # The detector (bot/nlu/language.py) already leans to English unless it is sure.
        return self.language != ENGLISH


def next_repair(view: TurnView) -> Optional[str]:
    """The action that answers this message in context, or None to let the rules decide."""
    if view.intent in SYSTEM_INTENTS or view.is_payload:
        return None
    reading = view.reading
    if reading.hazard and not view.safety_handled:
        return "action_safety_first"
    if view.pending_question == "human_offer" and view.conversation_language != ENGLISH:
        answer = answer_to_colleague_offer(view.text)
        if answer is not None:
            return "action_handoff" if answer else "action_handoff_declined"
    if view.other_language:
        return "action_other_language"
    if reading.public_threat and not view.handed_over and view.intent != "threaten_public":
        return "action_public_escalation"
    if REPEAT.match(view.text):
        return "action_repeat_last"
    if view.active_loop:
        return _inside_form(view)
    return _outside_form(view)


def _inside_form(view: TurnView) -> Optional[str]:
    reading = view.reading
    if reading.start_over or (reading.stop and view.intent != "stop"):
        return "action_stop_task"  # intent stop has its own rules (stop the form)
    if _asks_for_person(view):
        return "action_handoff_from_task"
    if reading.process_question and not view.entities & ORDER_ENTITIES:
        return PROCESS_RESPONSES[reading.process_question]
    return None


def after_rejection(view: TurnView) -> Optional[str]:
    """The form could not use the message and no rule answers it: say what is needed.

    Nothing else would answer (Rasa's core fallback would drop the message), so the
    question again, with an example and a way out.
    """
    starts_this_form = STARTS_FORM.get(view.intent) == view.active_loop
    if view.intent in RULED_INTENTS and not starts_this_form:
        return None
    return "action_explain_question"


def _outside_form(view: TurnView) -> Optional[str]:
    reading = view.reading
    if view.pending_question:
        answer = _answer_to(view)
        if answer:
            return answer
    if view.asked_rating and reading.rating is not None:
        return "action_store_csat"
    if _asks_for_person(view) and view.intent != "request_human":
        return "action_handoff"  # "can someone just call me?": a person, with the time noted
    if reading.start_over:
        return "action_stop_task"
    if reading.closing and view.intent not in NOT_CLOSING and not view.asked_rating:
        return "action_close_conversation"  # "perfect, no more questions": a rating first
    if view.intent == "faq" and view.faq_answer and _has_first_need(view):
        # Two needs: the order (or the problem) first; the question is kept for afterwards.
        return "action_note_second_need"
    if view.intent in OWN_RULE_INTENTS:
        return None
    if reading.other_needs and _has_first_need(view) and view.intent in (
            "ask_order_status", "complain", "provide_order_number", "nlu_fallback", "inform"):
        return "action_note_second_need"
    if view.entities & ORDER_ENTITIES:
        return "complaint_form" if _is_complaint(view) else "verify_form"
    if PROBLEM.search(view.text) and view.intent not in ("complain", "ask_order_status"):
        return "complaint_form"  # "it's just not right": a problem, the form asks what kind
    if "issue_type" in view.entities and view.intent in MISREAD_INTENTS:
        # "my espresso machine leaks": a problem NLU did not read as one.
        return "complaint_form"
    if reading.process_question == "order_number_help":
        return PROCESS_RESPONSES["order_number_help"]
    if reading.callback_time:
        return "action_note_callback_time"  # "friday between 2 and 4": noted for the call
    if view.intent == "nlu_fallback":
        known = [NEED_ANSWERS[need] for need in reading.other_needs if need in NEED_ANSWERS]
        if len(known) == 1:
            return known[0]  # not understood as a whole, but plainly about returns or refunds
    if reading.closing and view.asked_rating and view.intent != "goodbye":
        return "utter_goodbye"
    return None


def _asks_for_person(view: TurnView) -> bool:
    """A short, direct request for a person or a call, with no order details to use first.

    With an order number or e-mail in it, the details are taken first (the callback time is
    kept); in a long story, "no way to speak to a human" is about someone else.
    """
    if view.entities & ORDER_ENTITIES or len(view.text.split()) > MAX_REQUEST_WORDS:
        return False
    return bool(PERSON_WANTED.search(view.text)) or view.reading.wants_remedy == "callback"


def _is_complaint(view: TurnView) -> bool:
    return is_complaint(view.intent, view.entities, view.reading, view.text, view.issue_words)


def is_complaint(intent: str, entities: frozenset[str], reading: Reading, text: str = "",
                 issue_words: tuple[str, ...] = ()) -> bool:
    """Is the first need of this message a problem to sort out (not just an order to find)?

    An order that is only late is looked up first: the status says how late it is and offers
    a complaint, so a customer who only wants to know when it comes is not handed a case.
    """
    if reading.strong_anger or reading.public_threat:
        return True
    if "order_number" in entities and LATE.search(text) and all(
            LATE.search(word) for word in issue_words):
        return False
    return intent in COMPLAINT_INTENTS or "issue_type" in entities


def _has_first_need(view: TurnView) -> bool:
    """Does the message also carry an order to look up or a problem to sort out?"""
    return bool(view.entities & ORDER_ENTITIES) or "issue_type" in view.entities or \
        view.intent in ("ask_order_status", "complain")


def first_form(intent: str, entities: frozenset[str], text: str,
               issue_words: tuple[str, ...] = ()) -> str:
    """The form that serves the first need of a message with two."""
    return "complaint_form" if is_complaint(intent, entities, read_message(text), text,
                                            issue_words) else "verify_form"


def second_need(parse_data: dict, reading: Reading) -> Optional[str]:
    """The FAQ response that answers the second need of a message, if it has one."""
    intent = (parse_data.get("intent") or {}).get("name") if isinstance(
        parse_data.get("intent"), dict) else None
    if intent == "faq":
        selector = parse_data.get("response_selector") or {}
        response = ((selector.get("faq") or {}).get("response") or {}) if isinstance(
            selector, dict) else {}
        if response.get("utter_action"):
            return str(response["utter_action"])
    for need in reading.other_needs:
        if need in NEED_ANSWERS:
            return NEED_ANSWERS[need]
    return None


def _answer_to(view: TurnView) -> Optional[str]:
    """The pending yes/no question, answered in the customer's own words."""
    pending, reading = view.pending_question, view.reading
    if pending not in ANSWERS:
        return None
    on_yes, on_no = ANSWERS[pending]
    if view.intent in ("request_human",) and pending != "human_offer":
        return None
    wanted = reading.wants_remedy
    if pending in ("remedy_offer", "resolution_check") and wanted and view.offered_remedy:
        if wanted != view.offered_remedy:
            return "action_counter_offer"  # "a replacement instead": another remedy
        if pending == "remedy_offer":
            return on_yes  # "refund pls" to a refund offer; "no money back, just a new one"
    says_no = view.intent == "deny" or reading.declines
    says_yes = view.intent == "affirm" or (reading.affirms and not reading.declines)
    if pending == "resolution_check" and (view.intent == "thank" or reading.closing):
        says_yes = not says_no
    if says_no and not says_yes:
        return on_no
    if says_yes and not says_no:
        return on_yes
    if pending == "remedy_offer" and _adds_detail(view):
        return "action_add_complaint_detail"
    return None


def _adds_detail(view: TurnView) -> bool:
    """A message after an offer that tells more about the problem (not a yes or a no)."""
    words = view.text.split()
    if len(words) < MIN_DETAIL_WORDS:
        return False
    about_the_order = view.intent == "faq" and LATE.search(view.text)  # "so when will it come??"
    return view.intent in ("complain", "inform", "nlu_fallback", "insult") or \
        "issue_type" in view.entities or bool(about_the_order)
