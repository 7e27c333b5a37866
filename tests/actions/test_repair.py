"""Repair actions against the seeded CRM: what the customer hears and what is recorded."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.repair import (
    ActionAddComplaintDetail, ActionAskOrderContact, ActionAskOrderNumber, ActionExplainQuestion,
    ActionRepeatLast, ActionStopTask,
)
from bot.crm.interface import NewCase
from tests.support.trackers import DOMAIN, make_tracker, responses, slot_events

ADA = "C-000000000001"


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return dispatcher, events


def asked(response: str) -> dict:
    return {"event": "bot", "text": "?", "metadata": {"utter_action": response}}


async def test_stop_leaves_the_form_and_forgets_its_details_but_not_who_they_are(use_crm):
    tracker = make_tracker(text="forget it", intent="stop", active_loop="complaint_form",
                           slots={"order_number": "RP-100003", "customer_verified": True,
                                  "order_contact": "provided", "requested_slot": "issue_type"})
    dispatcher, events = await run(ActionStopTask(), tracker)
    assert responses(dispatcher) == ["utter_task_stopped"]
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    slots = slot_events(events)
    assert slots["order_number"] is None and slots["requested_slot"] is None
    assert "order_contact" not in slots  # a verified customer stays verified


async def test_start_over_says_so(use_crm):
    dispatcher, _ = await run(ActionStopTask(), make_tracker(text="can we start over",
                                                              intent="stop"))
    assert responses(dispatcher) == ["utter_start_over"]


async def test_the_third_ask_in_a_row_gives_an_example_and_a_way_out(use_crm):
    history = [asked("utter_ask_order_number"), asked("utter_ask_order_number")]
    dispatcher, _ = await run(ActionAskOrderNumber(),
                              make_tracker(text="dunno", intent="deny", history=history))
    assert responses(dispatcher) == ["utter_ask_order_number_again"]
    first, _ = await run(ActionAskOrderNumber(), make_tracker(text="where is my order",
                                                               intent="ask_order_status"))
    assert responses(first) == ["utter_ask_order_number"]


async def test_an_email_first_is_acknowledged_when_the_number_is_asked(use_crm):
    tracker = make_tracker(text="my email is ada@example.com", intent="provide_email",
                           slots={"order_contact": "ada@example.com"})
    dispatcher, _ = await run(ActionAskOrderNumber(), tracker)
    assert responses(dispatcher) == ["utter_email_needs_order_number"]


async def test_another_question_in_between_starts_the_count_again(use_crm):
    history = [asked("utter_ask_order_contact"), asked("utter_ask_order_number"),
               asked("utter_ask_order_contact")]
    dispatcher, _ = await run(ActionAskOrderContact(),
                              make_tracker(text="hmm", intent="inform", history=history))
    assert responses(dispatcher) == ["utter_ask_order_contact"]


async def test_after_an_answer_the_form_cannot_use_it_asks_with_an_example(use_crm):
    tracker = make_tracker(text="the lid is bent", intent="inform", active_loop="complaint_form",
                           slots={"requested_slot": "order_number"})
    dispatcher, events = await run(ActionExplainQuestion(), tracker)
    assert dispatcher.messages == [] and events == []
    tracker.latest_action_name = "action_explain_question"  # the form asks right after it
    dispatcher, _ = await run(ActionAskOrderNumber(), tracker)
    assert responses(dispatcher) == ["utter_ask_order_number_again"]


async def test_extra_detail_after_an_offer_goes_onto_the_case_and_the_offer_stands(use_crm):
    case = await use_crm.open_case(NewCase(
        customer_id=ADA, order_number="RP-100003", category="damaged", severity="medium",
        severity_score=30.0, severity_reasons=(), description="pans arrived dented"))
    tracker = make_tracker(text="and the glass lid is cracked right across", intent="inform",
                           slots={"case_id": case.id, "offered_remedy": "replacement",
                                  "pending_question": "remedy_offer", "customer_verified": True})
    dispatcher, events = await run(ActionAddComplaintDetail(), tracker)
    assert responses(dispatcher) == ["utter_detail_added", "utter_offer_still_open"]
    assert slot_events(events) == {"pending_question": "remedy_offer"}
    stored = await use_crm.get_case(case.id)
    assert stored.description == "pans arrived dented\nand the glass lid is cracked right across"


async def test_what_repeats_the_bots_previous_turn(use_crm):
    history = [{"event": "user", "text": "my pans are dented", "parse_data": {}},
               {"event": "bot", "text": "Shall I send a replacement?",
                "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}]}}]
    dispatcher, _ = await run(ActionRepeatLast(),
                              make_tracker(text="what?", intent="nlu_fallback", history=history))
    assert [m["text"] for m in dispatcher.messages] == ["Shall I send a replacement?"]
    assert dispatcher.messages[0]["buttons"] == [{"title": "Yes", "payload": "/affirm"}]
