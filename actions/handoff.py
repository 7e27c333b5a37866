"""Handing the conversation to a person, and taking it back afterwards.

Every trigger (asking for a person, not understood twice then "yes", a declined remedy, a
severe, VIP or public complaint, a remedy that didn't help) ends in `hand_off`, so they all
behave the same: with an agent online the customer hears the expected wait and the
conversation pauses (the bot stays silent until the agent hands back); with nobody online
the customer hears that a callback is arranged and the bot carries on.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted, ConversationPaused, EventType, SessionStarted, SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.identity import channel_of, client_of
from actions.tracker_events import latest, request_key, sticky_signals, user_intents
from bot.handoff.intake import CALLBACK_CATEGORY, HandoffIntake, HandoffRequest, NoAgent, Queued
from bot.conversation.handoff_limits import LIMIT_REPLY, HandoffLimiter
from bot.handoff.priority import describe_wait
from bot.handoff.states import CALLBACK, OPEN_STATES
from bot.complaints.severity import DEFAULT_WEIGHTS
from bot.errors import RapportError, StoreUnavailable
from bot.nlu.language import LANGUAGE_NAMES

logger = logging.getLogger(__name__)

PUBLIC_INTENT = "threaten_public"
HANDED_OVER = (*OPEN_STATES, CALLBACK)
ANGRY_SEVERITY = "medium"  # strong anger with no complaint scored yet: not a routine wait
OTHER_LANGUAGE_OFFER = "action_other_language"
# A callback case's request key is the message's key plus this, so it never finds the
# complaint case the same message opened (that one's key has no suffix).
CALLBACK_KEY_PURPOSE = CALLBACK_CATEGORY
_desk: Optional[HandoffIntake] = None
_limiter: Optional[HandoffLimiter] = None


def limiter() -> HandoffLimiter:
    """Handoffs per unverified client (RAPPORT_UNVERIFIED_HANDOFFS_PER_HOUR)."""
    global _limiter
    if _limiter is None:
        _limiter = HandoffLimiter(services.settings().unverified_handoffs_per_hour)
    return _limiter


def use_limiter(replacement: Optional[HandoffLimiter]) -> None:
    global _limiter
    _limiter = replacement


def desk() -> HandoffIntake:
    """The handoff desk on the hub database, built on first use."""
    global _desk
    if _desk is None:
        _desk = HandoffIntake.from_settings(services.settings())
    return _desk


def use_desk(replacement: Optional[HandoffIntake]) -> None:
    """Replace the desk (tests); None rebuilds it from the settings on next use."""
    global _desk
    _desk = replacement


def public_threat_severity() -> str:
    """The brand's floor for a public or legal threat (policies/resolution.yml, `severity:
    escalation_floor`): a complaint case and a handoff without one weigh a threat alike."""
    try:
        return str(services.policy().severity_weights.escalation_floor)
    except RapportError as error:  # a broken policy file: hand over at the default floor
        logger.warning("no resolution policy for the threat's severity: %s", error)
        return DEFAULT_WEIGHTS.escalation_floor


def handoff_request(tracker: Tracker, reason: str, case_id: Optional[str] = None,
                    severity: Optional[str] = None) -> HandoffRequest:
    verified = bool(tracker.get_slot("customer_verified"))
    signals = sticky_signals(tracker)
    public_risk = (PUBLIC_INTENT in user_intents(tracker) or "public" in reason.lower()
                   or signals.public_threat)
    return HandoffRequest(
        conversation_id=tracker.sender_id, channel=channel_of(tracker), reason=reason,
        events=list(tracker.events), slots=dict(tracker.slots),
        case_id=case_id or (tracker.get_slot("case_id") if verified else None),
        severity=severity or (public_threat_severity() if public_risk else None)
        or (ANGRY_SEVERITY if signals.strong_anger else None),
        public_risk=public_risk, request_key=request_key(tracker, CALLBACK_KEY_PURPOSE),
    )


def _crm():
    try:
        return services.crm()
    except Exception as error:  # noqa: BLE001 (settings or driver trouble: hand over anyway)
        logger.warning("no CRM for the handoff packet: %s", type(error).__name__)
        return None


def _queue_note(ahead: int) -> str:
    if ahead <= 0:
        return ""
    return " There is 1 person ahead of you." if ahead == 1 else \
        f" There are {ahead} people ahead of you."


async def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str,
                   case_id: Optional[str] = None,
                   severity: Optional[str] = None) -> List[EventType]:
    """Tell the customer what happens next and return the events that hand over."""
    request = handoff_request(tracker, reason, case_id, severity)
    events: List[EventType] = [SlotSet("pending_question", None)]
    client = None if tracker.get_slot("customer_verified") else client_of(tracker)
    if client is not None and not limiter().allowed(client):
        logger.info("handoff for %s refused: unverified client over its hourly limit",
                    tracker.sender_id)
        dispatcher.utter_message(text=LIMIT_REPLY)
        return events
    try:
        outcome = await desk().hand_over(request, _crm())
        if client is not None:
            limiter().opened(client)
    except StoreUnavailable as error:
        logger.warning("handoff for %s failed (%s): %s", tracker.sender_id, reason, error)
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return events
    if isinstance(outcome, Queued):
        queue_note = _queue_note(outcome.position - 1)
        dispatcher.utter_message(response="utter_handoff_started",
                                 expected_wait=outcome.wait_text, queue_note=queue_note,
                                 max_wait=describe_wait(outcome.max_wait.total_seconds()))
        return events + [SlotSet("handoff_id", outcome.handoff.id),
                         SlotSet("last_handoff", outcome.handoff.id), ConversationPaused()]
    assert isinstance(outcome, NoAgent)
    if outcome.case is not None:
        dispatcher.utter_message(response="utter_handoff_no_agent_case", case_id=outcome.case.id)
    else:
        dispatcher.utter_message(response="utter_handoff_no_agent_chat")
    return events + [SlotSet("handoff_id", None), SlotSet("last_handoff", outcome.handoff.id)]


async def attach_to_open_handoff(tracker: Tracker, case_id: str, note: str) -> bool:
    """Put a newly recorded case on this conversation's handoff, if one is still open.

    A hazard or a threat hands over before the complaint is collected; the case recorded
    afterwards belongs to that same handoff, not to a second one.
    """
    return await _on_open_handoff(tracker, note, case_id)


async def note_on_handoff(tracker: Tracker, note: str) -> bool:
    """A note for the colleague on this conversation's open handoff (a callback time)."""
    return await _on_open_handoff(tracker, note)


async def _on_open_handoff(tracker: Tracker, note: str, case_id: Optional[str] = None) -> bool:
    handoff_id = tracker.get_slot("last_handoff")
    if not handoff_id:
        return False
    try:
        handoff = await desk().store.get(str(handoff_id))
        if handoff.state not in HANDED_OVER:
            return False
        if case_id:
            await desk().store.set_case(handoff.id, case_id)
        await desk().store.add_note(handoff.id, None, note, "system")
    except (StoreUnavailable, LookupError, KeyError) as error:
        logger.warning("could not update handoff %s for %s: %s", handoff_id,
                       tracker.sender_id, error)
        return False
    return True


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        intent = latest(tracker).intent
        reason = {"request_human": "customer asked for a person",
                  "threaten_public": "public escalation risk",
                  "affirm": "not understood; customer accepted a person"}.get(intent, "handoff")
        if intent == "affirm" and action_before_latest_message(tracker) == OTHER_LANGUAGE_OFFER:
            language = LANGUAGE_NAMES.get(tracker.get_slot("language") or "", "another language")
            reason = f"customer writes in {language}; accepted a colleague"
        return await hand_off(dispatcher, tracker, reason)


def action_before_latest_message(tracker: Tracker) -> Optional[str]:
    """The bot's last action before the customer's latest message: which offer a "yes" answers."""
    seen_message = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_message:
                return None
            seen_message = True
        elif seen_message and event.get("event") == "action" \
                and event.get("name") != "action_listen":
            return event.get("name")
    return None


class ActionHandoffResolved(Action):
    """The agent handed back (EXTERNAL_handoff_resolved): the bot returns and asks for CSAT."""

    def name(self) -> Text:
        return "action_handoff_resolved"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(response="utter_handoff_back")
        dispatcher.utter_message(response="utter_ask_rating")
        return [SlotSet("handoff_id", None), SlotSet("pending_question", None)]


class ActionHandoffCallback(Action):
    """Nobody came in time (EXTERNAL_handoff_callback): arrange a callback, carry on."""

    def name(self) -> Text:
        return "action_handoff_callback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        handoff_id = tracker.get_slot("handoff_id")
        request = handoff_request(tracker, "no agent within the maximum wait")
        case = None
        try:
            case = await desk().callback_case(handoff_id, request, _crm())
        except StoreUnavailable as error:
            logger.warning("callback for %s not recorded on %s: %s", tracker.sender_id,
                           handoff_id, error)
        if case is not None:
            dispatcher.utter_message(response="utter_handoff_timeout_case", case_id=case.id)
        else:
            dispatcher.utter_message(response="utter_handoff_timeout_chat")
        return [SlotSet("handoff_id", None), SlotSet("pending_question", None)]


class ActionSessionStart(Action):
    """Rasa's session start, except that a conversation a person has stays paused.

    A new session (after the domain's session_expiration_time of silence) resets Rasa's
    tracker, pause included; without this, a customer who writes again after an hour would
    get the bot in the middle of a conversation with an agent.
    """

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        if (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True):
            events += carried_over_slots(tracker, domain)
        try:
            if await desk().store.open_for(tracker.sender_id) is not None:
                events.append(ConversationPaused())
        except StoreUnavailable as error:
            logger.warning("session start for %s: handoffs unknown (%s)", tracker.sender_id,
                           error)
        return events + [ActionExecuted("action_listen")]


def carried_over_slots(tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
    """A SlotSet for every slot not at its initial value (what Rasa's default carries over)."""
    definitions = domain.get("slots") or {}
    return [SlotSet(name, value) for name, value in tracker.slots.items()
            if name in definitions and value != (definitions[name] or {}).get("initial_value")]


class ActionHandoffDeclined(Action):
    def name(self) -> Text:
        return "action_handoff_declined"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(response="utter_handoff_declined")
        return [SlotSet("pending_question", None)]
