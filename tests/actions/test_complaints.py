"""Complaint actions with real trackers, the seeded CRM and the brand's policy."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.complaints import (
    ActionAcceptRemedy, ActionConfirmResolution, ActionDeclineRemedy, ActionSubmitComplaint,
    ValidateComplaintForm,
)
from tests.support.trackers import DOMAIN, make_tracker, responses, slot_events, user_event

ADA = {"customer_verified": True, "customer_id": "C-000000000001", "customer_name": "Ada"}



async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return dispatcher, events


async def submit(crm, order="RP-100003", issue="damaged", history=None, message_id=None):
    tracker = make_tracker(text="the lid was dented", intent="inform", history=history,
                           slots={**ADA, "order_number": order, "issue_type": issue,
                                  "complaint_description": "the lid was dented"})
    if message_id is not None:  # as Rasa sends it: in latest_message and on the user event
        tracker.latest_message["message_id"] = tracker.events[-1]["message_id"] = message_id
    return await run(ActionSubmitComplaint(), tracker)


async def test_submit_apologises_offers_and_waits_for_an_answer(use_crm):
    dispatcher, events = await submit(use_crm)
    assert responses(dispatcher) == ["utter_apology_sincere", "utter_offer_replacement"]
    slots = slot_events(events)
    assert slots["pending_question"] == "remedy_offer"
    assert slots["offered_remedy"] == "replacement"
    assert slots["order_number"] is None and slots["issue_type"] is None
    case = await use_crm.get_case(slots["case_id"])
    assert case.status == "offered"


async def test_accept_confirms_and_asks_whether_it_resolved_it(use_crm):
    _, events = await submit(use_crm, order="RP-100002", issue="late_delivery")
    slots = slot_events(events)
    tracker = make_tracker(text="yes please", intent="affirm",
                           slots={**ADA, "case_id": slots["case_id"], "offer_id": slots["offer_id"],
                                  "pending_question": "remedy_offer"})
    dispatcher, events = await run(ActionAcceptRemedy(), tracker)
    assert responses(dispatcher) == ["utter_remedy_confirmed_voucher", "utter_ask_problem_resolved"]
    assert dispatcher.messages[0]["voucher_code"].startswith("LO-")
    assert slot_events(events)["pending_question"] == "resolution_check"

    tracker = make_tracker(text="yes", intent="affirm",
                           slots={**ADA, "case_id": slots["case_id"],
                                  "pending_question": "resolution_check"})
    dispatcher, events = await run(ActionConfirmResolution(), tracker)
    assert responses(dispatcher) == ["utter_resolution_glad", "utter_ask_rating"]
    assert (await use_crm.get_case(slots["case_id"])).resolved is True


async def test_decline_hands_off(use_crm):
    _, events = await submit(use_crm)
    slots = slot_events(events)
    tracker = make_tracker(text="no", intent="deny",
                           slots={**ADA, "case_id": slots["case_id"], "offer_id": slots["offer_id"]})
    dispatcher, events = await run(ActionDeclineRemedy(), tracker)
    said = responses(dispatcher)
    assert said[0] == "utter_remedy_declined"
    assert said == ["utter_remedy_declined", "utter_handoff_no_agent_case"]  # what happens next
    # No agent is online in this test: the case waits for a callback instead of a person.
    assert (await use_crm.get_case(slots["case_id"])).status == "callback"


async def test_a_public_threat_earlier_in_the_conversation_raises_severity(use_crm):
    threat = user_event("I'll post this on Trustpilot", "threaten_public", sentiment=-0.7)
    dispatcher, events = await submit(use_crm, history=[threat])
    assert "utter_complaint_needs_person" in responses(dispatcher)
    case = await use_crm.get_case(slot_events(events)["case_id"])
    assert (case.status, case.severity) == ("callback", "high")


async def test_unverified_customers_get_nothing_from_the_crm(use_crm):
    tracker = make_tracker(text="x", intent="inform",
                           slots={"order_number": "RP-100003", "issue_type": "damaged"})
    dispatcher, events = await run(ActionSubmitComplaint(), tracker)
    assert dispatcher.messages == [] and events == []


async def test_the_complaint_itself_is_the_description_when_it_says_enough(use_crm):
    tracker = make_tracker(text="my saucepans arrived with a huge dent", intent="complain")
    slots = await ValidateComplaintForm().extract_complaint_description(
        CollectingDispatcher(), tracker, DOMAIN)
    assert slots == {"complaint_description": "my saucepans arrived with a huge dent"}
    short = make_tracker(text="complaint", intent="complain")
    assert await ValidateComplaintForm().extract_complaint_description(
        CollectingDispatcher(), short, DOMAIN) == {}


@pytest.mark.parametrize("said, key", [("it arrived broken", "damaged"), ("late", "late_delivery"),
                                       ("banana", None)])
async def test_issue_type_from_the_customers_words(use_crm, said, key):
    dispatcher = CollectingDispatcher()
    result = await ValidateComplaintForm().validate_issue_type(said, dispatcher, make_tracker(), DOMAIN)
    assert result == {"issue_type": key}
    assert responses(dispatcher) == ([] if key else ["utter_issue_type_unknown"])


async def _complaint_cases(crm) -> list[str]:
    card = await crm.customer_card(ADA["customer_id"])
    return [case.id for case in card.open_cases if case.order_number == "RP-100003"]


async def test_the_same_message_submitted_twice_is_one_case_and_one_offer(use_crm):
    first_dispatcher, first = await submit(use_crm, message_id="upd-41")
    again_dispatcher, again = await submit(use_crm, message_id="upd-41")  # the turn, re-run
    first, again = slot_events(first), slot_events(again)
    assert (again["case_id"], again["offer_id"]) == (first["case_id"], first["offer_id"])
    assert responses(again_dispatcher) == responses(first_dispatcher)
    assert await _complaint_cases(use_crm) == [first["case_id"]]
    assert [o.id for o in await use_crm.offers_for_case(first["case_id"])] == [first["offer_id"]]


async def test_another_message_or_no_message_id_is_another_case(use_crm):
    _, one = await submit(use_crm, message_id="upd-1")
    _, two = await submit(use_crm, message_id="upd-2")
    _, three = await submit(use_crm)
    _, four = await submit(use_crm)  # no id: no key, each run records its own case
    ids = {slot_events(events)["case_id"] for events in (one, two, three, four)}
    assert len(ids) == 4
