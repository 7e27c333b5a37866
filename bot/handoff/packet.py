"""The packet an agent gets with a handoff: summary, mood, CRM card, what the bot tried.

Built once, when the bot hands over, from the conversation's events and slots. The CRM
card and case are included only for a verified customer; for anyone else the packet says
so and carries no CRM data at all. A customer who writes in another language, or named a
time for a callback, has that in the packet too, so the right person picks it up in time.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from bot.handoff.transcript import is_external, sentiment_summary
from bot.nlu.language import ENGLISH, LANGUAGE_NAMES, LanguageGuess

MAX_QUOTE = 200

# Rasa action and response names → what an agent reads.
_ACTIONS = {
    "action_check_order_status": "looked up the order",
    "complaint_form": "collected the complaint",
    "action_submit_complaint": "recorded the complaint",
    "action_accept_remedy": "the customer accepted the offer",
    "action_decline_remedy": "the customer declined the offer",
    "action_confirm_resolution": "asked whether that resolved it",
    "action_handle_fallback": "did not understand; asked to rephrase",
    "action_store_csat": "took a rating",
    "utter_faq": "answered from the FAQ",
}
_RESPONSES = {
    "utter_verified": "verified the customer",
    "utter_verify_failed": "verification failed",
    "utter_verify_locked": "stopped verification after failed attempts",
    "utter_order_not_on_account": "the order was not on the customer's account",
    "utter_crm_unavailable": "could not reach the order system",
    "utter_complaint_not_recorded": "could not record the complaint",
    "utter_resolution_sorry": "the remedy did not solve the problem",
    "utter_fallback_offer_human": "offered a person after not understanding twice",
    "utter_threat_acknowledged": "acknowledged a threat to go public",
    "utter_insult_response": "calmed an upset customer",
}
_RESPONSE_PREFIXES = {
    "utter_apology_": "apologised",
    "utter_offer_": "offered a {}",
    "utter_remedy_confirmed_": "confirmed the {}",
}
_TOPICS = {
    "ask_order_status": "order status",
    "provide_order_number": "an order",
    "complain": "a complaint",
    "insult": "frustration",
    "threaten_public": "going public",
    "faq": "a question",
    "request_human": "a person",
    "rate": "a rating",
}


def _quote(text: Optional[str]) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= MAX_QUOTE else text[:MAX_QUOTE - 1] + "…"


def _step_of(event: dict[str, Any]) -> Optional[str]:
    if event.get("event") == "action":
        return _ACTIONS.get(str(event.get("name") or ""))
    if event.get("event") == "bot":
        response = str((event.get("metadata") or {}).get("utter_action") or "")
        if response in _RESPONSES:
            return _RESPONSES[response]
        for prefix, phrase in _RESPONSE_PREFIXES.items():
            if response.startswith(prefix):
                return phrase.format(response[len(prefix):].replace("_", " "))
    return None


def bot_tried(events: Iterable[dict[str, Any]]) -> list[str]:
    """What the bot did, in order; a step repeated in a row is counted, not listed twice."""
    steps: list[list] = []
    for event in events:
        step = _step_of(event)
        if step is None:
            continue
        if steps and steps[-1][0] == step:
            steps[-1][1] += 1
        else:
            steps.append([step, 1])
    return [step if count == 1 else f"{step} (×{count})" for step, count in steps]


def topics(events: Iterable[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for event in events:
        if event.get("event") != "user" or is_external(event):
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        topic = _TOPICS.get(intent or "")
        if topic and topic not in seen:
            seen.append(topic)
    return seen


def last_customer_text(events: list[dict[str, Any]]) -> str:
    for event in reversed(events):
        if event.get("event") == "user" and not is_external(event):
            return _quote(event.get("text"))
    return ""


def customer_language(events: list[dict[str, Any]], slots: dict[str, Any]
                      ) -> Optional[dict[str, str]]:
    """The customer's language when it is not English: the `language` slot, or else what the
    NLU detected in their latest message it ran on (button payloads skip the NLU); None for
    English or anything unknown."""
    code = slots.get("language")
    if code is None:
        parsed = next((event.get("parse_data") for event in reversed(events)
                       if event.get("event") == "user" and not is_external(event)
                       and "language" in (event.get("parse_data") or {})), None)
        code = LanguageGuess.from_parse_data(parsed).code
    if code == ENGLISH or code not in LANGUAGE_NAMES:
        return None
    return {"code": code, "name": LANGUAGE_NAMES[code]}


def callback_time(slots: dict[str, Any]) -> Optional[str]:
    """The time the customer named for a callback ("tomorrow morning"), as they wrote it."""
    return _quote(slots.get("callback_time")) or None


def build_packet(events: list[dict[str, Any]], slots: dict[str, Any], reason: str, *,
                 card: Optional[dict[str, Any]] = None, case: Optional[dict[str, Any]] = None,
                 crm_note: Optional[str] = None) -> dict[str, Any]:
    """The packet as JSON-ready data. `card`/`case` must be None for unverified customers."""
    verified = bool(slots.get("customer_verified")) and bool(slots.get("customer_id"))
    if not verified:
        card = case = None
    summary = [f"Handed over because: {reason}."]
    if verified and card:
        customer = card.get("customer") or {}
        summary.append(f"Verified customer: {customer.get('name')} ({customer.get('tier')}, "
                       f"{customer.get('id')}).")
    elif verified:
        summary.append(f"Verified customer {slots.get('customer_id')}.")
    else:
        summary.append("Not verified: no CRM data is shown.")
    asked = topics(events)
    if asked:
        summary.append("Talked about " + ", ".join(asked) + ".")
    if case:
        summary.append(f"Case {case.get('id')}: {case.get('category')}, severity "
                       f"{case.get('severity')}, {case.get('status')}.")
    description = slots.get("complaint_description") or (case or {}).get("description")
    if description:
        summary.append(f"Complaint: “{_quote(description)}”")
    last = last_customer_text(events)
    if last:
        summary.append(f"Last message: “{last}”")
    if crm_note:
        summary.append(crm_note)
    return {
        "reason": reason,
        "summary": summary,
        "sentiment": sentiment_summary(events),
        "bot_tried": bot_tried(events),
        "verified": verified,
        "customer": card if verified else None,
        "case": case if verified else None,
        "language": customer_language(events, slots),
        "callback_time": callback_time(slots),
    }
