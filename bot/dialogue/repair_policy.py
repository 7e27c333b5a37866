"""`RepairPolicy`: the Rasa policy that asks `bot.conversation.repair` after each message.

It learns nothing (the decisions are written, tested rules over the message and the state),
predicts only directly after a customer message, and abstains otherwise, so forms, rules and
TED keep every turn it has no answer for. Its predictions carry the highest priority; inside a
form they are marked as "no user" predictions, the only kind that outranks the form's own
happy path, so "stop", a hazard or another language is answered before the form asks again.

It also records what a message says for the rest of the conversation, whichever policy wins:
a callback time the customer named, as the `callback_time` slot.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversation.identity import find_contact, find_order_number
from bot.conversation.reading import read_message
from bot.conversation.repair import (
    ENGLISH, NEED_ANSWERS, PROCESS_RESPONSES, TurnView, after_rejection, first_form,
    next_repair,
)

RATING_PROMPTS = frozenset({"utter_ask_rating", "utter_rating_invalid"})
# Actions that end the bot's turn when no form is active (a form asks its own next question).
LISTEN_AFTER = frozenset({
    "action_stop_task", "action_add_complaint_detail", "action_close_conversation",
    "action_other_language", "action_store_csat", "action_decline_remedy",
    "action_accept_remedy", "action_confirm_resolution", "action_handoff",
    "action_handoff_declined", "action_decline_complaint", "utter_goodbye",
    "action_handoff_from_task", "action_public_escalation", "action_repeat_last",
    "action_return_to_need", "action_counter_offer", "action_note_callback_time",
    *PROCESS_RESPONSES.values(), *NEED_ANSWERS.values(),
})
# Repair actions that lead into a form (None: the form depends on the message).
FORM_AFTER = {"action_safety_first": "complaint_form", "action_public_escalation": "complaint_form",
              "action_note_second_need": None}
# Answers to a digression inside a form, after which the form asks its question again.
RESUME_FORM_AFTER = frozenset({"action_handle_fallback", "action_explain_question"})
# Actions after which the first of two needs has been served.
FIRST_NEED_SERVED = frozenset({"action_check_order_status", "action_accept_remedy",
                               "action_decline_remedy", "action_decline_complaint",
                               "action_handoff"})
PRIORITY = 7  # above RulePolicy (6): a repair answers before a rule or a form's happy path


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class RepairPolicy(Policy):
    """Reads the latest message in context; see bot/conversation/repair.py."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": PRIORITY}

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, featurizer: Any = None) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain,
              **kwargs: Any) -> Resource:
        # Nothing to learn; persist an empty resource so loading finds one.
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "repair_policy.txt").write_text("rules in bot/conversation/repair.py\n")
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        message = tracker.latest_message
        if tracker.latest_action_name in FIRST_NEED_SERVED and tracker.get_slot("later_need") \
                and not tracker.active_loop_name \
                and "action_return_to_need" in domain.action_names_or_texts:
            # Two needs in one message: the first is served, now the one kept for later.
            probabilities[domain.index_for_action("action_return_to_need")] = 1.0
            return self._prediction(probabilities)
        form = self._form_after_repair(tracker)
        if form and form in domain.action_names_or_texts:
            probabilities[domain.index_for_action(form)] = 1.0
            return self._prediction(probabilities)
        if tracker.active_loop_name and tracker.latest_action_name in RESUME_FORM_AFTER \
                and tracker.active_loop_name in domain.action_names_or_texts:
            # Not understood inside a form: after "could you rephrase", the question again.
            probabilities[domain.index_for_action(tracker.active_loop_name)] = 1.0
            return self._prediction(probabilities)
        if tracker.latest_action_name in LISTEN_AFTER and not tracker.active_loop_name \
                and ACTION_LISTEN_NAME in domain.action_names_or_texts:
            # A repair's answer is the bot's whole turn: wait for the customer.
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(probabilities)
        if tracker.latest_action_name != ACTION_LISTEN_NAME or not isinstance(
                message, UserUttered) or not message.text:
            return self._prediction(probabilities)
        view = turn_view(tracker, message)
        events = []
        if view.reading.callback_time and any(s.name == "callback_time" for s in domain.slots):
            events.append(SlotSet("callback_time", view.reading.callback_time))
        action = next_repair(view)
        if action is None and tracker.active_loop_name and tracker.is_active_loop_rejected:
            action = after_rejection(view)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(probabilities, events=events)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, events=events,
                                is_no_user_prediction=bool(tracker.active_loop_name)
                                and not tracker.is_active_loop_rejected,
                                diagnostic_data={"repair": action})


    @staticmethod
    def _form_after_repair(tracker: DialogueStateTracker) -> Optional[str]:
        """The form a repair action leads into: the complaint after a hazard or a threat
        (so the case is recorded for the colleague), the first need's after two at once."""
        latest = tracker.latest_action_name
        if tracker.active_loop_name or tracker.is_paused() or latest not in FORM_AFTER:
            return None
        message = tracker.latest_message
        if latest == "action_note_second_need" and isinstance(message, UserUttered):
            view = turn_view(tracker, message)
            return first_form(view.intent, view.entities, view.text, view.issue_words)
        return None if tracker.get_slot("case_id") else FORM_AFTER[latest]


def turn_view(tracker: DialogueStateTracker, message: UserUttered) -> TurnView:
    """What `next_repair` needs from Rasa's tracker."""
    parse = message.parse_data or {}
    language = parse.get("language") if isinstance(parse.get("language"), dict) else {}
    text = message.text or ""
    entities = {str(e.get("entity")) for e in message.entities or []}
    # What the forms will read out of the text, whatever the entity extractors saw.
    if find_order_number(text):
        entities.add("order_number")
    if find_contact(text):
        entities.add("email")
    return TurnView(
        text=text,
        intent=(message.intent or {}).get("name") or "",
        entities=frozenset(entities),
        reading=read_message(message.text or ""),
        active_loop=tracker.active_loop_name,
        pending_question=tracker.get_slot("pending_question"),
        asked_rating=_asked_rating(tracker),
        safety_handled=bool(tracker.get_slot("safety_hazard")),
        language=str(language.get("code") or ENGLISH),
        language_confidence=float(language.get("confidence") or 0.0),
        conversation_language=str(tracker.get_slot("language") or ENGLISH),
        handed_over=bool(tracker.get_slot("handoff_id")),
        faq_answer=_faq_answer(parse),
        offered_remedy=tracker.get_slot("offered_remedy"),
        issue_words=tuple(str(e.get("value")) for e in message.entities or []
                          if e.get("entity") == "issue_type"),
    )


def _faq_answer(parse: Dict[Text, Any]) -> Optional[str]:
    """The FAQ response the ResponseSelector picked for this message, if any."""
    selector = parse.get("response_selector")
    faq = selector.get("faq") if isinstance(selector, dict) else None
    response = faq.get("response") if isinstance(faq, dict) else None
    name = response.get("utter_action") if isinstance(response, dict) else None
    return str(name) if name else None


def _asked_rating(tracker: DialogueStateTracker, within: int = 2) -> bool:
    """Did the bot ask for a rating in its last `within` turns, with no rating given yet?

    Two turns, so "thx" in between ("you're welcome") does not lose the question.
    """
    if tracker.get_slot("rating"):
        return False
    users = 0
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            users += 1
            if users > within:
                return False
        elif isinstance(event, BotUttered) and users >= 1:
            if (event.metadata or {}).get("utter_action") in RATING_PROMPTS:
                return True
    return False
