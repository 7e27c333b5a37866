"""RepairPolicy inside Rasa: predictions, priorities and recorded slots on real trackers."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActionExecutionRejected, ActiveLoop, BotUttered, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue.repair_policy import PRIORITY, RepairPolicy
from tests.conftest import PROJECT


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(PROJECT / "domain.yml")


@pytest.fixture
def policy(tmp_path) -> RepairPolicy:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    return RepairPolicy.create(RepairPolicy.get_default_config(), storage,
                               Resource("repair"), context)


def said(text: str, intent: str = "nlu_fallback", entities: Optional[list] = None,
         **parse: Any) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9}, entities or [],
                       {"text": text, "intent": {"name": intent, "confidence": 0.9},
                        "entities": entities or [], **parse})


def tracker(domain: Domain, *events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("customer", [ActionExecuted(ACTION_LISTEN_NAME),
                                                         *events], domain.slots)


def predicted(policy: RepairPolicy, domain: Domain, conversation: DialogueStateTracker):
    prediction = policy.predict_action_probabilities(conversation, domain)
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    name = domain.action_names_or_texts[best] if prediction.max_confidence > 0 else None
    return name, prediction


def test_nothing_to_repair_abstains(policy, domain):
    name, prediction = predicted(policy, domain, tracker(domain, said("hello", "greet")))
    assert name is None and prediction.max_confidence == 0


def test_a_hazard_outranks_the_rules_and_inside_a_form_outranks_the_form(policy, domain):
    outside = tracker(domain, said("the kettle sparked and there was smoke", "complain"))
    name, prediction = predicted(policy, domain, outside)
    assert name == "action_safety_first" and prediction.policy_priority == PRIORITY
    assert not prediction.is_no_user_prediction
    inside = tracker(domain, ActionExecuted("verify_form"), ActiveLoop("verify_form"),
                     SlotSet("requested_slot", "order_number"), ActionExecuted(ACTION_LISTEN_NAME),
                     said("it is smoking and the plug melted", "inform"))
    name, prediction = predicted(policy, domain, inside)
    # Only a "no user" prediction can outrank RulePolicy's form happy path.
    assert name == "action_safety_first" and prediction.is_no_user_prediction


def test_a_callback_time_is_recorded_whoever_wins(policy, domain):
    name, prediction = predicted(policy, domain, tracker(
        domain, said("can you ring me tomorrow morning please", "request_human")))
    assert name is None  # asking for a person has its own rule
    assert SlotSet("callback_time", "tomorrow morning") in prediction.events


def test_only_directly_after_a_customer_message(policy, domain):
    conversation = tracker(domain, said("the kettle sparked", "complain"),
                           ActionExecuted("utter_greet"))
    name, _ = predicted(policy, domain, conversation)
    assert name is None


def test_after_its_own_answer_the_bot_listens(policy, domain):
    conversation = tracker(domain, said("nope thats it thx"),
                           ActionExecuted("action_close_conversation"))
    assert predicted(policy, domain, conversation)[0] == ACTION_LISTEN_NAME


def test_after_a_hazard_the_complaint_form_collects_the_order(policy, domain):
    conversation = tracker(domain, said("the kettle sparked", "complain"),
                           ActionExecuted("action_safety_first"),
                           SlotSet("safety_hazard", "electrical"))
    assert predicted(policy, domain, conversation)[0] == "complaint_form"


def test_a_rejected_form_gets_its_question_again(policy, domain):
    conversation = tracker(domain, ActionExecuted("verify_form"), ActiveLoop("verify_form"),
                           SlotSet("requested_slot", "order_number"),
                           ActionExecuted(ACTION_LISTEN_NAME),
                           said("its a big brown box", "inform"),
                           ActionExecutionRejected("verify_form"))
    name, prediction = predicted(policy, domain, conversation)
    assert name == "action_explain_question" and not prediction.is_no_user_prediction
    resumed = tracker(domain, *conversation.events, ActionExecuted("action_explain_question"))
    assert predicted(policy, domain, resumed)[0] == "verify_form"


def test_a_rating_in_words_counts_when_the_bot_asked_for_one(policy, domain):
    asked = BotUttered("How would you rate this conversation?",
                       metadata={"utter_action": "utter_ask_rating"})
    rated = tracker(domain, said("thx", "thank"), asked, ActionExecuted(ACTION_LISTEN_NAME),
                    said("four", "inform"))
    assert predicted(policy, domain, rated)[0] == "action_store_csat"
    unasked = tracker(domain, said("four", "inform"))
    assert predicted(policy, domain, unasked)[0] != "action_store_csat"


def test_another_language_from_the_nlu_component(policy, domain):
    french = said("Bonjour, ma commande n'est pas arrivée",
                  language={"code": "fr", "confidence": 0.99})
    assert predicted(policy, domain, tracker(domain, french))[0] == "action_other_language"
