"""Repair actions: what `RepairPolicy` (bot/dialogue/repair_policy.py) answers with.

Each is thin: the decision to run it is in bot/conversation/repair.py, the reading of the
message in bot/conversation/reading.py.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.complaints import REMEDY_NAMES
from actions.handoff import hand_off, note_on_handoff, public_threat_severity
from actions.tracker_events import asked_in_a_row, previous_bot_turn, user_events
from bot.conversation.reading import read_message
from bot.conversation.repair import NEED_LABELS, second_need
from bot.crm.interface import CrmError

logger = logging.getLogger(__name__)

FORM_SLOTS = ("order_number", "issue_type", "complaint_description")
# Asked this many times in a row without an answer that fits: say what is needed, with an
# example and a way out, instead of the same question again.
ASK_AGAIN_AFTER = 2
ASKS = {
    "order_number": ("utter_ask_order_number", "utter_ask_order_number_again",
                     "utter_email_needs_order_number", "utter_safety_order_please",
                     "utter_ask_order_number_refund"),
    "order_contact": ("utter_ask_order_contact", "utter_ask_order_contact_again"),
}


def _latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def end_task_events(tracker: Tracker) -> List[EventType]:
    """Leave the form (if any) and forget its half-collected details; keep who they are."""
    events: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None),
                               SlotSet("pending_question", None)]
    events += [SlotSet(slot, None) for slot in FORM_SLOTS]
    if not tracker.get_slot("customer_verified"):
        events.append(SlotSet("order_contact", None))
    return events


class ActionStopTask(Action):
    """"stop", "cancel", "forget it", "start over", at any question of any form."""

    def name(self) -> Text:
        return "action_stop_task"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        reading = read_message(_latest_text(tracker))
        dispatcher.utter_message(
            response="utter_start_over" if reading.start_over else "utter_task_stopped")
        return end_task_events(tracker)


async def escalate(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str,
                   severity: Optional[str] = None) -> List[EventType]:
    """A person at once (with priority); RepairPolicy then runs the complaint form, so the
    case is recorded and attached to this handoff (`action_submit_complaint`).

    Used where waiting for the whole form would be wrong: a hazard, a public threat. An
    order-status form in progress gives way to the complaint form.
    """
    handed = await hand_off(dispatcher, tracker, reason, severity=severity)
    if tracker.active_loop.get("name") == "verify_form":
        return handed + [ActiveLoop(None), SlotSet("requested_slot", None)]
    return handed


class ActionSafetyFirst(Action):
    """A hazard: safety advice at once, a priority handoff, then the order for the case."""

    def name(self) -> Text:
        return "action_safety_first"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        hazard = read_message(_latest_text(tracker)).hazard or "hazard"
        dispatcher.utter_message(response="utter_safety_first")
        tracker.slots["safety_hazard"] = hazard
        return [SlotSet("safety_hazard", hazard)] + await escalate(
            dispatcher, tracker, f"safety: {hazard}", severity="critical")


class ActionPublicEscalation(Action):
    """A public or legal threat in words NLU did not read as one: a senior colleague, now."""

    def name(self) -> Text:
        return "action_public_escalation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(response="utter_threat_acknowledged")
        return await escalate(dispatcher, tracker, "public escalation risk",
                              severity=public_threat_severity())


class ActionHandoffFromTask(Action):
    """"get me a person" in the middle of a form: leave the form, hand over."""

    def name(self) -> Text:
        return "action_handoff_from_task"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        events = [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events + await hand_off(dispatcher, tracker, "customer asked for a person")


class ActionNoteCallbackTime(Action):
    """A time for the call, given after the handoff: on the handoff, for the colleague."""

    def name(self) -> Text:
        return "action_note_callback_time"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        reading = read_message(_latest_text(tracker))
        when = reading.callback_time or "the time you gave"
        note = f"callback wanted: {when}" + (f", on {reading.phone}" if reading.phone else "")
        await note_on_handoff(tracker, note)
        dispatcher.utter_message(response="utter_callback_noted", time=when)
        return []


class ActionRepeatLast(Action):
    """"what?", "say that again": the bot's previous turn, once more."""

    def name(self) -> Text:
        return "action_repeat_last"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        said = previous_bot_turn(tracker)
        if not said:
            dispatcher.utter_message(response="utter_default")
            return []
        for event in said:
            data = event.get("data") or {}
            dispatcher.utter_message(text=event.get("text"), buttons=data.get("buttons") or [])
        return []


class ActionNoteSecondNeed(Action):
    """Two needs in one message: say the second is kept, then serve the first."""

    def name(self) -> Text:
        return "action_note_second_need"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        message = tracker.latest_message or {}
        text = str(message.get("text") or "")
        need = second_need(message, read_message(text))
        events: List[EventType] = []
        if need:
            dispatcher.utter_message(response="utter_second_need_noted",
                                     need=NEED_LABELS.get(need, "your other question"))
            events.append(SlotSet("later_need", need))
        return events  # RepairPolicy runs the form for the first need next


class ActionReturnToNeed(Action):
    """The first need is served: now the question the customer asked alongside it."""

    def name(self) -> Text:
        return "action_return_to_need"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        need = tracker.get_slot("later_need")
        if need:
            dispatcher.utter_message(response="utter_return_to_need")
            dispatcher.utter_message(response=str(need))
        return [SlotSet("later_need", None)]


class ActionAddComplaintDetail(Action):
    """More about the problem after an offer: onto the case, and the offer stands."""

    def name(self) -> Text:
        return "action_add_complaint_detail"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        case_id = tracker.get_slot("case_id")
        detail = _latest_text(tracker).strip()[:2000]
        if case_id:
            try:
                await services.crm().update_case(case_id, add_detail=detail)
            except CrmError as error:
                logger.warning("could not add detail to case %s: %s", case_id, error)
        dispatcher.utter_message(response="utter_detail_added", case_id=case_id or "")
        offered = tracker.get_slot("offered_remedy")
        if offered:
            dispatcher.utter_message(response="utter_offer_still_open",
                                     remedy=REMEDY_NAMES.get(offered, offered))
        return [SlotSet("pending_question", "remedy_offer")]


class ActionExplainQuestion(Action):
    """The form could not use the answer: the form asks again, this time with an example.

    It says nothing itself: RepairPolicy runs the form straight after it (which clears
    Rasa's "rejected" mark), and the form's ask action sees this action just before it and
    asks with the example and the way out (`AskAgainAction`).
    """

    def name(self) -> Text:
        return "action_explain_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        return []


class ActionCloseConversation(Action):
    """"that's all, thanks": a rating question when something was done, else goodbye."""

    def name(self) -> Text:
        return "action_close_conversation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if len(user_events(tracker)) > 1 and not tracker.get_slot("rating"):
            dispatcher.utter_message(response="utter_ask_rating")
        else:
            dispatcher.utter_message(response="utter_goodbye")
        return [SlotSet("pending_question", None)]


class AskAgainAction(Action):
    """A form's question; asked again in a row, it says what is needed and offers a way out."""

    slot: str = ""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        times = asked_in_a_row(tracker, ASKS[self.slot])
        if tracker.latest_action_name == "action_explain_question":
            times = max(times, ASK_AGAIN_AFTER)  # the answer did not fit: say what is needed
        if times < ASK_AGAIN_AFTER and self.slot == "order_number" \
                and tracker.get_slot("safety_hazard"):
            dispatcher.utter_message(response="utter_safety_order_please")
        elif times >= ASK_AGAIN_AFTER:
            dispatcher.utter_message(response=f"utter_ask_{self.slot}_again")
        elif times == 0 and self.slot == "order_number" and read_message(
                _latest_text(tracker)).wants_remedy == "refund":
            dispatcher.utter_message(response="utter_ask_order_number_refund")
        elif self.slot == "order_number" and tracker.get_slot("order_contact") \
                and not tracker.get_slot("customer_verified"):
            dispatcher.utter_message(response="utter_email_needs_order_number")
        else:
            dispatcher.utter_message(response=f"utter_ask_{self.slot}")
        return []


class ActionAskOrderNumber(AskAgainAction):
    slot = "order_number"


class ActionAskOrderContact(AskAgainAction):
    slot = "order_contact"
