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
from actions.handoff import hand_off
from actions.identity import VerifiedOrderForm, channel_of, unverified_events
from actions.tracker_events import latest, understood, user_events, user_intents
from bot.complaints.recovery import (
    ComplaintReport, euros, most_negative, resolve_complaint, settle_remedy,
)
from bot.crm.interface import CrmError, OrderNotFound

logger = logging.getLogger(__name__)

_MIN_DESCRIPTION_WORDS = 4
_AMOUNT = re.compile(r"(\d{1,7}(?:[.,]\d{1,2})?)")


def complaint_messages(tracker: Tracker, limit: int = 12) -> List[Dict[str, Any]]:
    """The customer's messages since the complaint began (the latest `complain`)."""
    users = user_events(tracker)
    start = 0
    for index, event in enumerate(users):
        if understood(event).intent == "complain":
            start = index
    return users[start:][-limit:]


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
    sentiments = [understood(e).sentiment for e in messages]
    return ComplaintReport(
        conversation_id=tracker.sender_id,
        channel=channel_of(tracker),
        customer_id=tracker.get_slot("customer_id"),
        order_number=tracker.get_slot("order_number"),
        issue_type=tracker.get_slot("issue_type"),
        description=tracker.get_slot("complaint_description") or "",
        texts=tuple(str(e.get("text") or "")[:2000] for e in messages),
        sentiment=most_negative(0.0 if s is None else s for s in sentiments),
        threatened_public="threaten_public" in intents,
        insulted="insult" in intents,
        amount_mentioned=_amount(messages),
    )


class ValidateComplaintForm(VerifiedOrderForm):
    def name(self) -> Text:
        return "validate_complaint_form"

    async def extract_complaint_description(self, dispatcher: CollectingDispatcher,
                                            tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        """A complaint that already says what happened needs no second telling."""
        if tracker.get_slot("complaint_description"):
            return {}
        text = ((tracker.latest_message or {}).get("text") or "").strip()
        if latest(tracker).intent == "complain" and len(text.split()) >= _MIN_DESCRIPTION_WORDS:
            return {"complaint_description": text}
        return {}

    async def validate_issue_type(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        brand = services.brand()
        key = brand.issue_type_for(str(value)) if value else None
        if key is None:
            dispatcher.utter_message(response="utter_issue_type_unknown")
        return {"issue_type": key}

    async def validate_complaint_description(self, value: Any, dispatcher: CollectingDispatcher,
                                             tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        text = str(value or "").strip()
        if not text:
            return {"complaint_description": None}
        return {"complaint_description": text[:2000]}


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
            outcome = await resolve_complaint(services.crm(), services.policy(), brand, report,
                                              services.today())
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
            dispatcher.utter_message(response="utter_complaint_needs_person", case_id=outcome.case.id)
            reasons = ", ".join(outcome.decision.handoff_reasons) or "complaint"
            return events + await hand_off(dispatcher, tracker, reasons, case_id=outcome.case.id,
                                           severity=outcome.severity.level)
        remedy = outcome.remedy
        free_return = ", with a free return label for the one you have" if remedy.free_return else ""
        dispatcher.utter_message(response=f"utter_offer_{remedy.kind}", amount=euros(remedy.amount),
                                 free_return=free_return)
        return events + [SlotSet("offer_id", outcome.offer.id),
                         SlotSet("offered_remedy", remedy.kind),
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


class ActionConfirmResolution(Action):
    """The customer's answer to "does that resolve it?", stored on the case."""

    def name(self) -> Text:
        return "action_confirm_resolution"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        # "yes", and "thanks!" in answer to "does that resolve it?", both mean resolved.
        resolved = latest(tracker).intent in ("affirm", "thank")
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
