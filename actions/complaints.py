"""Complaints: collect, apologise in proportion, offer what the policy allows, record it."""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.handoff import attach_to_open_handoff, hand_off
from actions.identity import (
    VerifiedOrderForm, answers_the_question, channel_of, unverified_events,
)
from actions.tracker_events import (
    STICKY_MESSAGES, asked_in_a_row, latest, request_key, sticky_signals, understood, user_events,
    user_intents,
)
from bot.conversation.identity import find_contact, find_order_number
from bot.conversation.repair import DIGRESSION_INTENTS
from bot.conversation.reading import read_message
from bot.complaints.recovery import (
    ComplaintReport, euros, most_negative, resolve_complaint, settle_remedy,
)
from bot.crm.interface import CrmError, OrderNotFound

logger = logging.getLogger(__name__)

_MIN_DESCRIPTION_WORDS = 3
OTHER_ISSUE = "other"
HAZARD_ISSUE = "poor_quality"
ISSUE_ASKS = ("utter_ask_issue_type", "utter_ask_issue_type_again")
CORRECTION = re.compile(r"\b(?:no|not|actually|wait|sorry|i mean|i meant|rather)\b", re.IGNORECASE)
REMEDY_NAMES = {"refund": "refund", "replacement": "replacement", "voucher": "voucher",
                "callback": "call back from a colleague"}
_AMOUNT = re.compile(r"(\d{1,7}(?:[.,]\d{1,2})?)")


def complaint_messages(tracker: Tracker, limit: int = 12) -> List[Dict[str, Any]]:
    """The customer's messages since the last complaint was recorded (or the start).

    Whatever the customer said before the form began counts (the first message usually says
    what went wrong); a complaint already recorded in this conversation does not.
    """
    users = user_events(tracker)
    start = 0
    for index, event in enumerate(users):
        if _case_recorded_before(tracker, event):
            start = index
    return users[start:][-limit:]


def _case_recorded_before(tracker: Tracker, user_event: Dict[str, Any]) -> bool:
    """Was a case opened (a `case_id` set) just before this customer message?"""
    previous = None
    for event in tracker.events:
        if event is user_event:
            return previous is not None and previous.get("event") == "slot" and \
                previous.get("name") == "case_id" and bool(previous.get("value"))
        if event.get("event") in ("slot", "user"):
            previous = event
    return False


def _amount(events: List[Dict[str, Any]]) -> Optional[float]:
    for event in events:
        for entity in understood(event).entities:
            if entity.get("entity") == "amount":
                match = _AMOUNT.search(str(entity.get("value", "")))
                if match:
                    return float(match.group(1).replace(",", "."))
    return None


def build_report(tracker: Tracker) -> ComplaintReport:
    messages = complaint_messages(tracker)
    intents = user_intents(tracker)
    # Signals are sticky: a threat, anger or a hazard in any turn of the conversation counts.
    everything = user_events(tracker)[-STICKY_MESSAGES:]
    sentiments = [understood(e).sentiment for e in everything]
    signals = sticky_signals(tracker)
    return ComplaintReport(
        conversation_id=tracker.sender_id,
        channel=channel_of(tracker),
        customer_id=tracker.get_slot("customer_id"),
        order_number=tracker.get_slot("order_number"),
        issue_type=tracker.get_slot("issue_type"),
        description=tracker.get_slot("complaint_description") or "",
        texts=tuple(str(e.get("text") or "")[:2000] for e in everything),
        sentiment=most_negative(0.0 if s is None else s for s in sentiments),
        threatened_public="threaten_public" in intents or signals.public_threat,
        insulted="insult" in intents,
        hazard=tracker.get_slot("safety_hazard") or signals.hazard,
        amount_mentioned=_amount(messages),
    )


class ValidateComplaintForm(VerifiedOrderForm):
    def name(self) -> Text:
        return "validate_complaint_form"

    async def extract_complaint_description(self, dispatcher: CollectingDispatcher,
                                            tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        """What the customer already said about the problem is the description: not asked twice."""
        if tracker.get_slot("complaint_description"):
            return {}
        told = told_so_far(tracker)
        if told:
            return {"complaint_description": told}
        return {}

    async def extract_issue_type(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[str, Any]:
        """The customer's own words classify the problem where they can (any message so far)."""
        brand = services.brand()
        current = tracker.get_slot("issue_type")
        if current and brand.is_issue_type(str(current)):
            text = str((tracker.latest_message or {}).get("text") or "")[:2000]
            corrected = brand.issue_type_for(text) if CORRECTION.search(text) else None
            # "no wait, it's damaged not late": the customer's correction replaces it.
            return {"issue_type": corrected} if corrected and corrected != current else {}
        for text in [str(current or "")] + [str(e.get("text") or "")
                                             for e in reversed(complaint_messages(tracker))]:
            key = brand.issue_type_for(text[:2000]) if text and not text.startswith("/") else None
            if key:
                return {"issue_type": key}
        if tracker.get_slot("safety_hazard"):
            return {"issue_type": HAZARD_ISSUE}  # a product that hurts or burns is defective
        if tracker.get_slot("requested_slot") == "issue_type" and answers_the_question(tracker) \
                and asked_in_a_row(tracker, ISSUE_ASKS) >= 1:
            # Asked once with the buttons and the answer fits none: a person decides.
            return {"issue_type": OTHER_ISSUE}
        return {}

    async def validate_issue_type(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        brand = services.brand()
        key = brand.issue_type_for(str(value)) if value else None
        if key is None and asked_in_a_row(tracker, ISSUE_ASKS) >= 1:
            # Asked once with the buttons and still no fit: a person decides what it is.
            return {"issue_type": OTHER_ISSUE}
        if key is None:
            dispatcher.utter_message(response="utter_issue_type_unknown")
        return {"issue_type": key}

    async def validate_complaint_description(self, value: Any, dispatcher: CollectingDispatcher,
                                             tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        text = str(value or "").strip()
        if not text:
            return {"complaint_description": None}
        return {"complaint_description": text[:2000]}


def told_so_far(tracker: Tracker) -> str:
    """The customer's own account of the problem: their messages with some substance in them.

    Order numbers and contact details alone are not an account; button payloads neither.
    """
    parts = []
    for event in complaint_messages(tracker):
        text = str(event.get("text") or "").strip()
        said = understood(event)
        about_problem = any(e.get("entity") == "issue_type" for e in said.entities)
        if not text or text.startswith("/") or (said.intent in DIGRESSION_INTENTS
                                                and not about_problem):
            continue
        words = [w for w in text.split() if not find_order_number(w) and not find_contact(w)]
        # An account says what went wrong ("problem with my order" does not).
        if len(words) >= _MIN_DESCRIPTION_WORDS and (about_problem or len(words) >= 8
                                                     or services.brand().issue_type_for(text)):
            parts.append(text)
    return "\n".join(parts)[:2000]


def _form_reset() -> List[EventType]:
    return [SlotSet(slot, None) for slot in ("order_number", "issue_type", "complaint_description")]


class ActionSubmitComplaint(Action):
    def name(self) -> Text:
        return "action_submit_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if not tracker.get_slot("customer_verified"):
            return unverified_events(dispatcher, tracker)
        report = build_report(tracker)
        brand = services.brand()
        try:
            # Keyed by the customer's message: the turn run again after a crash (the channel
            # delivers the message again) finds its case and offer instead of making new ones.
            outcome = await resolve_complaint(services.crm(), services.policy(), brand, report,
                                              services.today(), request_key=request_key(tracker))
        except OrderNotFound:
            dispatcher.utter_message(response="utter_order_not_on_account")
            return _form_reset()
        except CrmError as error:
            logger.warning("complaint not recorded for %s: %s", tracker.sender_id, error)
            dispatcher.utter_message(response="utter_complaint_not_recorded")
            return _form_reset() + await hand_off(dispatcher, tracker, "CRM unavailable")
        order = await services.crm().get_order(report.order_number)
        dispatcher.utter_message(response=f"utter_apology_{outcome.decision.apology}",
                                 issue=brand.issue_label(report.issue_type),
                                 order_number=order.number, order_total=euros(order.total))
        events = _form_reset() + [SlotSet("case_id", outcome.case.id)]
        if outcome.needs_human:
            reasons = ", ".join(outcome.decision.handoff_reasons) or "complaint"
            if await attach_to_open_handoff(tracker, outcome.case.id,
                                            f"complaint recorded: {outcome.severity.level}, "
                                            f"{reasons}"):
                # Already with a colleague (a hazard, a threat): the case joins that handoff.
                dispatcher.utter_message(response="utter_complaint_added_to_handoff",
                                         case_id=outcome.case.id)
                return events
            dispatcher.utter_message(response="utter_complaint_needs_person", case_id=outcome.case.id)
            return events + await hand_off(dispatcher, tracker, reasons, case_id=outcome.case.id,
                                           severity=outcome.severity.level)
        remedy = outcome.remedy
        free_return = ", with a free return label for the one you have" if remedy.free_return else ""
        dispatcher.utter_message(response=f"utter_offer_{remedy.kind}", amount=euros(remedy.amount),
                                 free_return=free_return)
        options = [{"kind": r.kind, "amount": r.amount, "free_return": r.free_return}
                   for r in outcome.decision.remedies]
        return events + [SlotSet("offer_id", outcome.offer.id),
                         SlotSet("offered_remedy", remedy.kind),
                         SlotSet("remedy_options", options),
                         SlotSet("pending_question", "remedy_offer")]


class SettleRemedyAction(Action, ABC):
    """Accepting or declining the offered remedy: one flow, two answers."""

    accepted: bool = True

    @abstractmethod
    def name(self) -> Text:
        """action_accept_remedy or action_decline_remedy."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        case_id, offer_id = tracker.get_slot("case_id"), tracker.get_slot("offer_id")
        events: List[EventType] = [SlotSet("pending_question", None), SlotSet("offer_id", None)]
        if not case_id or not offer_id:
            dispatcher.utter_message(response="utter_anything_else")
            return events
        try:
            offer = await settle_remedy(services.crm(), case_id, offer_id, self.accepted,
                                        tracker.get_slot("customer_id"), channel_of(tracker))
        except CrmError as error:
            logger.warning("could not settle offer %s for %s: %s", offer_id, tracker.sender_id, error)
            dispatcher.utter_message(response="utter_complaint_not_recorded")
            return events + await hand_off(dispatcher, tracker, "CRM unavailable")
        if not self.accepted:
            dispatcher.utter_message(response="utter_remedy_declined")
            return events + await hand_off(dispatcher, tracker, f"declined the {offer.kind}",
                                           case_id=case_id)
        dispatcher.utter_message(response=f"utter_remedy_confirmed_{offer.kind}",
                                 amount=euros(offer.amount), voucher_code=offer.voucher_code or "",
                                 case_id=case_id)
        dispatcher.utter_message(response="utter_ask_problem_resolved")
        return events + [SlotSet("pending_question", "resolution_check")]


class ActionAcceptRemedy(SettleRemedyAction):
    accepted = True

    def name(self) -> Text:
        return "action_accept_remedy"


class ActionDeclineRemedy(SettleRemedyAction):
    accepted = False

    def name(self) -> Text:
        return "action_decline_remedy"


class ActionCounterOffer(Action):
    """"a replacement instead?": another remedy the policy allows, or a person who can."""

    def name(self) -> Text:
        return "action_counter_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        wanted = read_message(str((tracker.latest_message or {}).get("text") or "")).wants_remedy
        offered = tracker.get_slot("offered_remedy")
        case_id, offer_id = tracker.get_slot("case_id"), tracker.get_slot("offer_id")
        options = {o.get("kind"): o for o in tracker.get_slot("remedy_options") or []
                   if isinstance(o, dict)}
        events: List[EventType] = [SlotSet("pending_question", None)]
        crm = services.crm()
        try:
            if offer_id and case_id:
                await settle_remedy(crm, case_id, offer_id, False,
                                    tracker.get_slot("customer_id"), channel_of(tracker))
            if tracker.get_slot("pending_question") == "remedy_offer" and wanted in options \
                    and case_id:
                option = options[wanted]
                offer = await crm.make_offer(case_id, wanted, option.get("amount"))
                free_return = ", with a free return label for the one you have" \
                    if option.get("free_return") else ""
                dispatcher.utter_message(response=f"utter_offer_{wanted}",
                                         amount=euros(option.get("amount")),
                                         free_return=free_return)
                return [SlotSet("offer_id", offer.id), SlotSet("offered_remedy", wanted),
                        SlotSet("pending_question", "remedy_offer")]
        except CrmError as error:
            logger.warning("counter-offer for %s failed: %s", tracker.sender_id, error)
        dispatcher.utter_message(response="utter_remedy_switch_to_person",
                                 wanted=REMEDY_NAMES.get(str(wanted), "something else"),
                                 offered=REMEDY_NAMES.get(str(offered), "offer"))
        return events + await hand_off(dispatcher, tracker,
                                       f"wants a {wanted} instead of the {offered}",
                                       case_id=case_id)


class ActionConfirmResolution(Action):
    """The customer's answer to "does that resolve it?", stored on the case."""

    def name(self) -> Text:
        return "action_confirm_resolution"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        # "yes", "thanks!", "yep sorted" in answer to "does that resolve it?" mean resolved.
        reading = read_message(str((tracker.latest_message or {}).get("text") or ""))
        resolved = latest(tracker).intent in ("affirm", "thank") or (
            (reading.affirms or reading.closing) and not reading.declines)
        case_id = tracker.get_slot("case_id")
        events: List[EventType] = [SlotSet("pending_question", None)]
        if case_id:
            try:
                await services.crm().update_case(
                    case_id, resolved=resolved, **({} if resolved else {"status": "needs_human"}))
            except CrmError as error:
                logger.warning("could not store resolution for %s: %s", case_id, error)
        if resolved:
            dispatcher.utter_message(response="utter_resolution_glad")
            dispatcher.utter_message(response="utter_ask_rating")
            return events
        dispatcher.utter_message(response="utter_resolution_sorry")
        return events + await hand_off(dispatcher, tracker, "remedy did not resolve the problem",
                                       case_id=case_id)
