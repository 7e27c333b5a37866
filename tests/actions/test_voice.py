"""Praise and suggestions: thanked, and recorded on a verified customer's CRM timeline."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.voice import ActionRecordFeedback
from tests.support.trackers import DOMAIN, make_tracker, responses

ADA = {"customer_verified": True, "customer_id": "C-000000000001", "customer_name": "Ada"}



async def record(tracker):
    dispatcher = CollectingDispatcher()
    events = await ActionRecordFeedback().run(dispatcher, tracker, DOMAIN)
    return dispatcher, events


async def timeline(crm, customer_id="C-000000000001"):
    return [(item.kind, item.summary) for item in (await crm.customer_card(customer_id)).timeline]


async def test_a_verified_customers_suggestion_reaches_their_timeline(use_crm):
    tracker = make_tracker(text="you should sell the kettel in black", intent="suggest",
                           entities=[{"entity": "product", "value": "Electric Kettle"}],
                           slots=ADA)
    dispatcher, events = await record(tracker)
    assert responses(dispatcher) == ["utter_thanks_suggestion_product"]
    assert dispatcher.messages[0]["product"] == "Electric Kettle"
    assert events == []
    assert ("suggestion", "Suggestion about Electric Kettle (colour)") in await timeline(use_crm)


async def test_praise_from_a_stranger_is_thanked_and_touches_no_customer(use_crm):
    before = await timeline(use_crm)
    tracker = make_tracker(text="honestly the best shop, delivery was so quick", intent="praise",
                           slots={"customer_id": "C-000000000001", "customer_verified": False})
    dispatcher, _ = await record(tracker)
    assert responses(dispatcher) == ["utter_thanks_praise"]
    assert await timeline(use_crm) == before  # not verified: nothing written to the CRM


async def test_any_other_intent_is_only_thanked(use_crm):
    before = await timeline(use_crm)
    dispatcher, _ = await record(make_tracker(text="cool", intent="affirm", slots=ADA))
    assert responses(dispatcher) == ["utter_thanks_praise"]
    assert await timeline(use_crm) == before
