"""Verification inside forms: the order number and proof of identity.

`VerifiedOrderForm` is the one place that knows how a form collects an order number and
verifies the customer; the order-status and complaint forms both build on it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import services
from bot.crm.interface import CrmUnavailable
from bot.conversation.repair import DIGRESSION_INTENTS
from bot.conversation.identity import (
    VerificationLimits, calling_code, find_contact, find_order_number, parse_contact,
    parse_order_number, verify_customer,
)

logger = logging.getLogger(__name__)

# Channels whose user ids are authenticated (by Telegram, or a random web chat session),
# so a verified identity can be remembered for that user. REST senders are client-chosen.
REMEMBERED_CHANNELS = {"telegram", "webchat"}
# Chats several people read: no verification, no CRM data, nothing remembered.
SHARED_CHAT_TYPES = {"group", "supergroup", "channel"}
CONTACT_PROVIDED = "provided"
_MAX_CONTACT_TEXT = 254


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


# Channels whose `rapport_client` names an authenticated integration that speaks for many
# customers: the customer within it (its conversation) is the client, or one bad user of a
# brand's app would lock that app's other users out (the global breaker still sees them all).
INTEGRATION_CHANNELS = {"rest"}


def client_of(tracker: Tracker) -> str:
    """Who is asking, as far as the channel can tell: verification failures count against it.

    A channel that knows more than the conversation says so in the message metadata as
    `rapport_client` (web chat: the session's creator; REST: the integration); a Telegram user
    is their user id. Always prefixed with the channel, so no channel can pose as another's.
    """
    metadata = latest_metadata(tracker)
    channel = channel_of(tracker)
    client = metadata.get("rapport_client")
    if channel == "telegram" and metadata.get("telegram_user_id") is not None:
        client = metadata["telegram_user_id"]
    if not isinstance(client, (str, int)) or isinstance(client, bool) or not str(client):
        client = tracker.sender_id
    elif channel in INTEGRATION_CHANNELS:
        client = f"{client}/{tracker.sender_id}"
    return f"{channel}:{str(client)[:200]}"


def verification_options() -> Dict[str, Any]:
    """The limits, hashing secret and default calling code `verify_customer` works with."""
    settings = services.settings()
    secret = settings.verification_secret
    return {
        "limits": VerificationLimits(
            breaker_failures=settings.verify_breaker_failures,
            breaker_contacts=settings.verify_breaker_contacts,
            breaker_window=timedelta(minutes=settings.verify_breaker_minutes)),
        "secret": secret.encode() if secret else None,
        "default_calling_code": calling_code(str(services.brand().profile.get("support_phone"))),
    }


def latest_metadata(tracker: Tracker) -> Dict[str, Any]:
    """What the channel said about the customer's latest message (chat type, shared contact)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("metadata") or {}
    return {}


def in_shared_chat(tracker: Tracker) -> bool:
    return str(latest_metadata(tracker).get("telegram_chat_type", "")) in SHARED_CHAT_TYPES


def verified_slots(customer_id: str, customer_name: Optional[str]) -> Dict[str, Any]:
    return {"customer_verified": True, "customer_id": customer_id, "customer_name": customer_name}


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def answers_the_question(tracker: Tracker) -> bool:
    """Is the latest message an attempt at the form's question (not a question, not a
    digression the bot has just answered)?"""
    if tracker.latest_action_name not in (None, "action_listen"):
        return False
    text = latest_text(tracker).strip()
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return not text.endswith("?") and intent not in DIGRESSION_INTENTS


def _said_earlier(tracker: Tracker, find: Callable[[str], Optional[str]],
                  messages: int = 6, past_other_forms: bool = False) -> Optional[str]:
    """What the customer gave before this form started, in their last few messages.

    Only when the form is starting. A contact only back to the previous form, so one that
    failed to match is never tried again; an order number also from earlier forms (the order
    they were talking about; its owner is still checked).
    """
    if tracker.get_slot("requested_slot") is not None:
        return None
    earlier: List[str] = []
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and seen_latest and not past_other_forms:
            break  # a form before this one: what it asked for is not picked up again
        if event.get("event") == "user":
            if seen_latest:
                earlier.append(str(event.get("text") or ""))
            seen_latest = True
            if len(earlier) >= messages:
                break
    for text in earlier:
        found = find(text)
        if found:
            return found
    return None


def _just_set(tracker: Tracker) -> set:
    """Slots given in the customer's latest message (validated in this same run)."""
    return set(tracker.slots_to_validate())


def said_since_last_message(tracker: Tracker, response: str) -> bool:
    """Did the bot already give `response` since the customer's latest message?"""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") == response:
            return True
    return False


def unverified_events(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """A form ended without verification: when locked, offer a person (once); else nothing."""
    if not tracker.get_slot("verification_locked"):
        return []
    if not said_since_last_message(tracker, "utter_verify_locked"):
        dispatcher.utter_message(response="utter_verify_locked")
    return [SlotSet("pending_question", "human_offer")]


class VerifiedOrderForm(FormValidationAction, ABC):
    """Order number plus e-mail or postcode; verified customers only give the number."""

    @abstractmethod
    def name(self) -> Text:
        """The validate_<form> action name."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        # Only real changes: any SlotSet counts as "something was filled", and a form that
        # filled nothing must be rejected so a rule can answer the digression instead.
        events: List[EventType] = [SlotSet("pending_question", None)] \
            if tracker.get_slot("pending_question") else []
        if tracker.get_slot("verification_locked") and tracker.get_slot("requested_slot") is None:
            # The form starts again: the lock lasts as long as the CRM's counts say (the
            # window, or the breaker), not for the rest of the conversation's life.
            events.append(SlotSet("verification_locked", False))
            tracker.slots["verification_locked"] = False
        if in_shared_chat(tracker):
            # Everyone in a group would see the answer: ask for a private chat instead.
            if not said_since_last_message(tracker, "utter_private_chat_only"):
                dispatcher.utter_message(response="utter_private_chat_only")
            return events + await super().run(dispatcher, tracker, domain)
        if not tracker.get_slot("customer_verified"):
            remembered = await self._remembered_identity(tracker)
            events += [SlotSet(key, value) for key, value in remembered.items()]
            tracker.slots.update(remembered)
        return events + await super().run(dispatcher, tracker, domain)

    async def _remembered_identity(self, tracker: Tracker) -> Dict[str, Any]:
        channel = channel_of(tracker)
        if channel not in REMEMBERED_CHANNELS:
            return {}
        crm = services.crm()
        try:
            customer_id = await crm.find_identity(channel, tracker.sender_id)
            if not customer_id:
                return {}
            customer = await crm.get_customer(customer_id)
        except CrmUnavailable:
            logger.warning("CRM unavailable restoring identity for %s", tracker.sender_id)
            return {}
        except Exception:  # noqa: BLE001 (CustomerNotFound and friends: just ask again)
            return {}
        return verified_slots(customer.id, customer.name.split()[0])

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("verification_locked") or in_shared_chat(tracker):
            return []
        if tracker.get_slot("customer_verified"):
            return [slot for slot in domain_slots if slot != "order_contact"]
        return domain_slots

    async def extract_order_number(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> Dict[str, Any]:
        """An order number anywhere in the message, at any question: a correction replaces it.

        A bare six-digit number counts only when the order number is what was asked.
        """
        text = latest_text(tracker)
        number = find_order_number(text)
        if number is None and tracker.get_slot("requested_slot") == "order_number":
            number = find_order_number(text, bare_digits=True)
        if number is None and not tracker.get_slot("order_number"):
            number = _said_earlier(tracker, find_order_number, past_other_forms=True)
        if number is None or number == tracker.get_slot("order_number"):
            return {}
        return {"order_number": number}

    async def extract_order_contact(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[str, Any]:
        """An e-mail address or postcode in the message, at any question (two in one go)."""
        if tracker.get_slot("customer_verified"):
            return {}
        asked = tracker.get_slot("requested_slot") == "order_contact"
        text = latest_text(tracker)
        contact = find_contact(text, asked=asked)
        if contact is None and not tracker.get_slot("order_contact"):
            contact = _said_earlier(tracker, find_contact)
        if contact is None:
            if asked and answers_the_question(tracker) and not find_order_number(text):
                # Whatever it is, it was meant as the answer: say what's wrong with it.
                return {"order_contact": text[:_MAX_CONTACT_TEXT]}
            return {}
        return {"order_contact": contact}

    async def validate_order_number(self, value: Any, dispatcher: CollectingDispatcher,
                                    tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        number = parse_order_number(value if isinstance(value, str) else None)
        if number is None:
            dispatcher.utter_message(response="utter_order_number_invalid")
            return {"order_number": None}
        if tracker.get_slot("customer_verified"):
            try:
                order = await services.crm().get_order(number)
                owned = order.customer_id == tracker.get_slot("customer_id")
            except CrmUnavailable:
                dispatcher.utter_message(response="utter_crm_unavailable")
                return {"order_number": None}
            except Exception:  # noqa: BLE001 (OrderNotFound: same answer as not owned)
                owned = False
            if not owned:
                dispatcher.utter_message(response="utter_order_not_on_account")
                return {"order_number": None}
            return {"order_number": number}
        held = tracker.get_slot("order_contact")
        if held and held != CONTACT_PROVIDED and "order_contact" not in _just_set(tracker):
            # The contact came first (or stays from a failed try): verify the pair now.
            return {"order_number": number, **await self._verify(dispatcher, tracker, number, held)}
        return {"order_number": number}

    async def validate_order_contact(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        if tracker.get_slot("customer_verified"):
            return {"order_contact": CONTACT_PROVIDED}
        shared_phone = latest_metadata(tracker).get("telegram_contact_phone")
        attested = channel_of(tracker) == "telegram" and bool(shared_phone)
        contact = str(shared_phone) if attested else parse_contact(
            value if isinstance(value, str) else None)
        if contact is None:
            dispatcher.utter_message(response="utter_contact_invalid")
            return {"order_contact": None}
        order_number = parse_order_number(tracker.get_slot("order_number"))
        if order_number is None:
            # Given before the order number: keep it, ask for the number, verify then.
            return {"order_contact": contact}
        return await self._verify(dispatcher, tracker, order_number, contact, attested)

    async def _verify(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                      order_number: str, contact: str, attested: bool = False) -> Dict[str, Any]:
        """Check the pair; a failed match keeps the order number and asks for the contact."""
        try:
            result = await verify_customer(services.crm(), tracker.sender_id, order_number,
                                           contact, attested_phone=attested,
                                           client=client_of(tracker), **verification_options())
        except CrmUnavailable:
            logger.warning("CRM unavailable verifying conversation %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_crm_unavailable")
            return {"order_contact": None}
        if result.status == "verified":
            await self._remember(tracker, result.customer_id)
            slots = verified_slots(result.customer_id, result.customer_name)
            dispatcher.utter_message(response="utter_verified", customer_name=result.customer_name)
            return {**slots, "order_contact": CONTACT_PROVIDED}
        if result.status in ("locked", "paused"):
            dispatcher.utter_message(response="utter_verify_locked")
            # The form ends here; action_check_order_status / submit offer a person.
            return {"order_contact": None, "order_number": None, "verification_locked": True}
        dispatcher.utter_message(response="utter_verify_failed")
        return {"order_contact": None}

    async def _remember(self, tracker: Tracker, customer_id: str) -> None:
        crm = services.crm()
        channel = channel_of(tracker)
        if channel in REMEMBERED_CHANNELS:
            await crm.link_identity(channel, tracker.sender_id, customer_id)
        await crm.add_interaction(customer_id, channel, "verified",
                                  "Verified in chat with order number and contact details")


class ValidateVerifyForm(VerifiedOrderForm):
    def name(self) -> Text:
        return "validate_verify_form"
