"""The agent's packet and the transcript: what a person reads when they take over."""

from __future__ import annotations

from bot.handoff.packet import bot_tried, build_packet, topics
from bot.handoff.transcript import sentiment_summary, trend, turns
from tests.support.trackers import user_event


def bot(text: str, response: str = "", agent: str = "", buttons=()) -> dict:
    metadata = {"agent": agent} if agent else {"utter_action": response}
    return {"event": "bot", "text": text, "timestamp": 1.5, "metadata": metadata,
            "data": {"buttons": [{"title": b, "payload": "/x"} for b in buttons]}}


def action(name: str) -> dict:
    return {"event": "action", "name": name, "timestamp": 1.0}


EVENTS = [
    {**user_event("where is my order", "ask_order_status", sentiment=0.0), "timestamp": 1.0},
    action("action_check_order_status"),
    bot("Your order is late", "utter_order_status_late", buttons=["Yes, please", "No, thanks"]),
    {**user_event("this is ridiculous", "complain", sentiment=-0.6), "timestamp": 2.0},
    action("complaint_form"),
    action("action_submit_complaint"),
    bot("So sorry", "utter_apology_sincere"),
    bot("A voucher?", "utter_offer_voucher"),
    {**user_event("no", "deny", sentiment=-0.3), "timestamp": 3.0},
    action("action_decline_remedy"),
    {"event": "pause", "timestamp": 4.0},
    {**user_event("hello?", "greet", sentiment=0.0), "timestamp": 4.5},
    bot("Hi, I'm Sam", agent="Sam"),
    {**user_event("/EXTERNAL_handoff_resolved", "EXTERNAL_handoff_resolved"), "timestamp": 6.0},
    {"event": "resume", "timestamp": 5.5},
    {"event": "slot", "name": "x", "value": 1},
]

CARD = {"customer": {"id": "C-1", "name": "Ada Lovelace", "tier": "vip"}, "orders": [],
        "open_cases": [], "complaints_last_90_days": 1}
CASE = {"id": "CS1", "category": "late_delivery", "severity": "high", "status": "needs_human",
        "description": "it never came"}


def test_turns_name_who_spoke_and_skip_what_no_person_said():
    items = turns(EVENTS)
    kinds = [t.kind for t in items]
    assert kinds == ["customer", "bot", "customer", "bot", "bot", "customer", "marker",
                     "customer", "agent", "marker"]
    first = items[0]
    assert (first.intent, first.confidence, first.sentiment) == ("ask_order_status", 0.95, 0.0)
    assert items[1].buttons == ("Yes, please", "No, thanks")
    agent = items[8]
    assert (agent.agent, agent.text) == ("Sam", "Hi, I'm Sam")
    assert items[2].mood == "negative"
    assert len({t.key for t in items}) == len(items)


def test_sentiment_trend_ignores_external_intents():
    summary = sentiment_summary(EVENTS)
    assert summary["scores"] == [0.0, -0.6, -0.3, 0.0]
    assert summary["lowest"] == -0.6 and summary["latest"] == 0.0


def test_trend_words():
    assert trend([]) == "unknown" and trend([0.3]) == "unknown"
    assert trend([0.5, 0.1, -0.4]) == "worsening"
    assert trend([-0.7, 0.0, 0.4]) == "improving"
    assert trend([0.1, 0.0, 0.05]) == "steady"


def test_what_the_bot_tried_in_order_with_repeats_counted():
    assert bot_tried(EVENTS) == [
        "looked up the order", "collected the complaint", "recorded the complaint",
        "apologised", "offered a voucher", "the customer declined the offer"]
    fallbacks = [action("action_handle_fallback"), action("action_handle_fallback"),
                 bot("person?", "utter_fallback_offer_human")]
    assert bot_tried(fallbacks) == ["did not understand; asked to rephrase (×2)",
                                    "offered a person after not understanding twice"]


def test_topics_once_each():
    assert topics(EVENTS) == ["order status", "a complaint"]


def test_a_verified_customer_gets_the_crm_card_and_case_in_the_packet():
    packet = build_packet(EVENTS, {"customer_verified": True, "customer_id": "C-1"},
                          "declined the voucher", card=CARD, case=CASE)
    assert packet["verified"] is True
    assert packet["customer"] == CARD and packet["case"] == CASE
    assert packet["summary"][0] == "Handed over because: declined the voucher."
    assert "Verified customer: Ada Lovelace (vip, C-1)." in packet["summary"]
    assert "Case CS1: late_delivery, severity high, needs_human." in packet["summary"]
    assert packet["summary"][-1] == "Last message: “hello?”"
    # The last third (0.0) against the first third (0.0): no change.
    assert packet["sentiment"] == {"scores": [0.0, -0.6, -0.3, 0.0], "trend": "steady",
                                   "latest": 0.0, "lowest": -0.6}


def test_an_unverified_customer_gets_no_crm_data_even_if_some_is_passed():
    packet = build_packet(EVENTS, {"customer_verified": False, "customer_id": "C-1"},
                          "asked for a person", card=CARD, case=CASE)
    assert packet["verified"] is False
    assert packet["customer"] is None and packet["case"] is None
    text = " ".join(packet["summary"])
    assert "Ada" not in text and "CS1" not in text
    assert "Not verified: no CRM data is shown." in packet["summary"]


def test_long_messages_are_shortened_in_the_summary():
    events = [user_event("x" * 900, "complain")]
    packet = build_packet(events, {}, "asked")
    last = packet["summary"][-1]
    assert len(last) < 230 and last.endswith("…”")


def _said(text: str, code: str) -> dict:
    event = user_event(text, "nlu_fallback")
    event["parse_data"]["language"] = {"code": code, "confidence": 0.98}
    return event


def test_the_customers_language_and_callback_time_come_from_the_slots():
    packet = build_packet(EVENTS, {"language": "fr", "callback_time": " tomorrow  morning "},
                          "customer writes in French; accepted a colleague")
    assert packet["language"] == {"code": "fr", "name": "French"}
    assert packet["callback_time"] == "tomorrow morning"


def test_english_unknown_or_missing_values_record_nothing():
    for slots in ({}, {"language": "en"}, {"language": "xx"}, {"callback_time": "  "}):
        packet = build_packet(EVENTS, slots, "asked")
        assert packet["language"] is None and packet["callback_time"] is None
    assert len(build_packet(EVENTS, {"callback_time": "x" * 900}, "asked")["callback_time"]) \
        <= 200


def test_without_the_slot_the_language_nlu_detected_in_the_latest_message_is_used():
    german = [_said("ich möchte mit einem Mitarbeiter sprechen", "de")]
    assert build_packet(german, {}, "asked")["language"] == {"code": "de", "name": "German"}
    # A button payload skips the NLU, so it carries no language: the message before counts.
    payload = user_event("/affirm", "affirm")
    assert build_packet([*german, payload], {}, "asked")["language"]["code"] == "de"
    # The slot, once set, wins over a later message.
    english = [*german, _said("ok thanks, where is my order", "en")]
    assert build_packet(english, {}, "asked")["language"] is None
    assert build_packet(english, {"language": "de"}, "asked")["language"]["code"] == "de"


def test_the_summary_and_other_fields_are_unchanged_by_the_new_ones():
    plain = build_packet(EVENTS, {}, "asked")
    flagged = build_packet(EVENTS, {"language": "nl", "callback_time": "after 5pm"}, "asked")
    assert flagged["summary"] == plain["summary"]
    assert {k: v for k, v in flagged.items() if k not in ("language", "callback_time")} == \
        {k: v for k, v in plain.items() if k not in ("language", "callback_time")}
