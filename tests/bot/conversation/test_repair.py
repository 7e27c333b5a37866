"""Repair decisions: one message, read in the context of the bot's last question."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.conversation.reading import read_message
from bot.conversation.repair import TurnView, after_rejection, next_repair


def view(text: str, intent: str = "nlu_fallback", entities: tuple[str, ...] = (),
         **state: Any) -> TurnView:
    return TurnView(text=text, intent=intent, entities=frozenset(entities),
                    reading=read_message(text), **state)


def test_a_hazard_comes_first_even_inside_a_form() -> None:
    message = view("the kettle sparked and there was smoke everywhere", "complain",
                   active_loop="complaint_form")
    assert next_repair(message) == "action_safety_first"


def test_a_hazard_is_handled_once() -> None:
    message = view("it was smoking again", "complain", safety_handled=True)
    assert next_repair(message) != "action_safety_first"


def test_another_language_is_answered_in_it() -> None:
    french = view("Bonjour, ma commande n'est pas arrivée", language="fr",
                  language_confidence=0.99)
    english = replace(french, language="en")
    assert next_repair(french) == "action_other_language"
    assert next_repair(english) is None


@pytest.mark.parametrize("text", ["stop", "forget it, never mind", "can we start over"])
def test_stop_or_start_over_inside_a_form_ends_the_task(text: str) -> None:
    assert next_repair(view(text, "deny", active_loop="verify_form")) == "action_stop_task"


def test_a_question_about_the_process_is_answered_inside_a_form() -> None:
    message = view("why do you need my email??", "faq", active_loop="verify_form")
    assert next_repair(message) == "utter_process_why_contact"


def test_inside_a_form_anything_else_is_the_forms_to_validate() -> None:
    assert next_repair(view("RP-100001", "provide_order_number", ("order_number",),
                            active_loop="verify_form")) is None


@pytest.mark.parametrize("text, intent, expected", [
    ("no, that's not acceptable", "nlu_fallback", "action_decline_remedy"),
    ("ok go on then", "nlu_fallback", "action_accept_remedy"),
    ("the handle came off as well and the glass is shattered", "complain",
     "action_add_complaint_detail"),
])
def test_answers_to_a_remedy_offer_in_the_customers_own_words(text: str, intent: str,
                                                               expected: str) -> None:
    assert next_repair(view(text, intent, pending_question="remedy_offer")) == expected


@pytest.mark.parametrize("pending, text, expected", [
    ("remedy_offer", "instead I want a refund", "action_counter_offer"),
    ("remedy_offer", "a voucher is fine", "action_accept_remedy"),
    ("resolution_check", "actually can i get a replacement instead?", "action_counter_offer"),
])
def test_another_remedy_asked_for_is_a_counter_offer(pending: str, text: str,
                                                     expected: str) -> None:
    message = view(text, "complain", pending_question=pending, offered_remedy="voucher")
    assert next_repair(message) == expected


@pytest.mark.parametrize("text, entities, issue_words, expected", [
    ("this is so annoying, RP-100002 was supposed to be here days ago", ("order_number",),
     (), "verify_form"),
    ("RP-100003 arrived late and the lid is cracked", ("order_number", "issue_type"),
     ("late", "cracked"), "complaint_form"),
])
def test_an_order_that_is_only_late_is_looked_up_first(text: str, entities: tuple[str, ...],
                                                       issue_words: tuple[str, ...],
                                                       expected: str) -> None:
    message = replace(view(text, "complain", entities), issue_words=issue_words)
    assert next_repair(message) == expected


def test_a_person_asked_for_at_a_remedy_offer_is_left_to_the_handoff_rules() -> None:
    message = view("can I talk to a person", "request_human", pending_question="remedy_offer")
    assert next_repair(message) is None


@pytest.mark.parametrize("pending, text, expected", [
    ("human_offer", "yeah go ahead", "action_handoff"),
    ("human_offer", "nah I'm good", "action_handoff_declined"),
    ("complaint_offer", "yes please do", "complaint_form"),
    ("resolution_check", "perfect thanks", "action_confirm_resolution"),
])
def test_other_pending_questions(pending: str, text: str, expected: str) -> None:
    assert next_repair(view(text, "nlu_fallback", pending_question=pending)) == expected


def test_a_rating_in_words_at_the_rating_question_is_stored() -> None:
    assert next_repair(view("four", "nlu_fallback", asked_rating=True)) == "action_store_csat"
    assert next_repair(view("four", "nlu_fallback")) != "action_store_csat"


@pytest.mark.parametrize("text, intent, entities, expected", [
    ("RP-100001 ada@example.com where is it", "nlu_fallback", ("order_number", "email"),
     "verify_form"),
    ("my email is ada@example.com, what are my orders?", "nlu_fallback", ("email",),
     "verify_form"),
    ("the vase in RP-100003 arrived smashed", "nlu_fallback", ("order_number", "issue_type"),
     "complaint_form"),
    ("RP-100002 STILL NOT HERE, I AM FURIOUS", "ask_order_status", ("order_number",),
     "complaint_form"),
])
def test_order_details_out_of_the_blue_start_the_form_that_uses_them(
        text: str, intent: str, entities: tuple[str, ...], expected: str) -> None:
    assert next_repair(view(text, intent, entities)) == expected


def test_identity_details_with_a_request_for_a_person_stay_with_the_handoff_rules() -> None:
    assert next_repair(view("RP-100001, get me a person", "request_human",
                            ("order_number",))) is None


def test_closing_asks_for_a_rating_then_says_goodbye() -> None:
    assert next_repair(view("nope thats it thx", "nlu_fallback")) == \
        "action_close_conversation"
    assert next_repair(view("nope thats it thx", "nlu_fallback", asked_rating=True)) == \
        "utter_goodbye"


@pytest.mark.parametrize("text, intent", [
    ("/affirm", "affirm"), ("hello", "greet"), ("where is my order", "ask_order_status"),
])
def test_ordinary_messages_are_left_to_the_rules(text: str, intent: str) -> None:
    assert next_repair(view(text, intent)) is None


@pytest.mark.parametrize("text, expected", [
    ("its just not right", "complaint_form"),
    ("theres a problem with my order", "complaint_form"),
    ("is that right?", None),
])
def test_something_wrong_in_no_category_starts_the_complaint(text: str, expected) -> None:
    assert next_repair(view(text, "deny")) == expected


@pytest.mark.parametrize("intent, expected", [
    ("deny", "action_explain_question"), ("inform", "action_explain_question"),
    ("nlu_fallback", "action_explain_question"), ("faq", None), ("request_human", None),
    ("stop", None), ("bot_challenge", None),
])
def test_a_rejected_form_explains_unless_a_rule_answers(intent: str, expected) -> None:
    assert after_rejection(view("its a big brown box", intent,
                                active_loop="verify_form")) == expected


def test_a_message_not_understood_but_plainly_about_refunds_gets_that_answer() -> None:
    assert next_repair(view("and how long till i get the money back", "nlu_fallback")) == \
        "utter_faq/refund_timing"
