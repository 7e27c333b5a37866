"""Handing over from the bot: queue or callback, the packet's CRM data, the expected wait."""

from __future__ import annotations

from datetime import timedelta
from typing import AsyncIterator

import pytest
import pytest_asyncio

from bot.crm.interface import NewCase
from bot.handoff.intake import HandoffIntake, HandoffRequest, NoAgent, Queued
from bot.handoff.tables import open_database
from bot.handoff.states import CALLBACK, WAITING
from tests.support.trackers import user_event

GRACE = {"customer_verified": True, "customer_id": "C-000000000002", "customer_name": "Grace"}
PASSWORD = "correct horse battery"


@pytest_asyncio.fixture
async def desk(tmp_path) -> AsyncIterator[HandoffIntake]:
    desk = HandoffIntake(open_database(f"sqlite:///{tmp_path / 'hub.db'}"), presence=timedelta(minutes=1),
                max_wait=timedelta(minutes=5))
    yield desk
    await desk.close()


@pytest.fixture
async def online(desk):
    agent = await desk.agents.add("sam", "agent", PASSWORD)
    await desk.agents.heartbeat(agent.id)
    return agent


def request(conversation="c-1", slots=None, **changes) -> HandoffRequest:
    events = [user_event("this is useless", "complain", sentiment=-0.7),
              user_event("get me a person", "request_human", sentiment=-0.2)]
    return HandoffRequest(conversation_id=conversation, channel="webchat",
                          reason="customer asked for a person", events=events,
                          slots=slots or {}, **changes)


async def test_with_an_agent_online_the_handoff_waits_with_an_honest_wait(desk, online, crm):
    outcome = await desk.hand_over(request(slots=GRACE), crm)
    assert isinstance(outcome, Queued)
    handoff = outcome.handoff
    assert handoff.state == WAITING and handoff.customer_name == "Grace Hopper"
    assert handoff.last_customer_text == "get me a person"
    assert outcome.position == 1 and outcome.wait_seconds == 120
    assert outcome.wait_text == "about 2 minutes"
    reasons = dict(handoff.base.reasons)
    assert reasons["VIP customer"] == 25 and reasons["upset"] == 10
    card = handoff.packet["customer"]
    assert card["customer"]["id"] == "C-000000000002"
    assert [o["number"] for o in card["orders"]] == ["RP-100004"]


async def test_the_expected_wait_counts_who_is_ahead(desk, online, crm):
    await desk.hand_over(request("c-1", public_risk=True), crm)
    second = await desk.hand_over(request("c-2"), crm)
    assert second.position == 2 and second.wait_seconds == 240


async def test_an_unverified_customer_gets_no_crm_data(desk, online, crm):
    outcome = await desk.hand_over(request(slots={"customer_id": "C-000000000002"}), crm)
    packet = outcome.handoff.packet
    assert packet["verified"] is False and packet["customer"] is None and packet["case"] is None
    assert outcome.handoff.customer_name is None and outcome.handoff.customer_id is None


async def test_nobody_online_a_verified_customer_gets_a_callback_case(desk, crm):
    outcome = await desk.hand_over(request(slots=GRACE), crm)
    assert isinstance(outcome, NoAgent)
    assert outcome.handoff.state == CALLBACK and outcome.handoff.handback is None
    case = await crm.get_case(outcome.case.id)
    assert (case.status, case.category, case.customer_id) == ("callback", "callback",
                                                              "C-000000000002")
    assert outcome.handoff.case_id == case.id
    timeline = (await crm.customer_card("C-000000000002")).timeline
    assert any(item.kind == "handoff" and case.id in item.summary for item in timeline)


async def test_the_same_request_key_opens_one_callback_case(desk, crm):
    keyed = request(slots=GRACE, request_key="c-1:upd-5:callback")
    first = await desk.hand_over(keyed, crm)
    again = await desk.hand_over(keyed, crm)  # the turn run again after a crash
    other = await desk.hand_over(request(slots=GRACE, request_key="c-1:upd-6:callback"), crm)
    assert again.case.id == first.case.id != other.case.id
    callbacks = [case.id for case in (await crm.customer_card("C-000000000002")).open_cases
                 if case.category == "callback"]
    assert sorted(callbacks) == sorted({first.case.id, other.case.id})


async def test_nobody_online_a_complaint_case_becomes_the_callback(desk, crm):
    complaint = await crm.open_case(NewCase(
        customer_id="C-000000000002", order_number="RP-100004", category="damaged",
        severity="high", severity_score=7.0, severity_reasons=(), description="cracked"))
    outcome = await desk.hand_over(request(slots=GRACE, case_id=complaint.id), crm)
    assert outcome.case.id == complaint.id
    assert (await crm.get_case(complaint.id)).status == "callback"
    assert dict(outcome.handoff.base.reasons)["severity high"] == 45


async def test_nobody_online_an_unverified_customer_gets_no_case(desk, crm):
    outcome = await desk.hand_over(request(), crm)
    assert isinstance(outcome, NoAgent) and outcome.case is None


async def test_an_analyst_online_is_not_someone_to_hand_over_to(desk, crm):
    analyst = await desk.agents.add("ana", "analyst", PASSWORD)
    await desk.agents.heartbeat(analyst.id)
    assert isinstance(await desk.hand_over(request(), crm), NoAgent)


async def test_after_a_timeout_the_callback_case_goes_on_the_handoff(desk, online, crm):
    queued = await desk.hand_over(request(slots=GRACE), crm)
    await desk.store.callback(queued.handoff.id)
    case = await desk.callback_case(queued.handoff.id, request(slots=GRACE), crm)
    assert case.status == "callback"
    handoff = await desk.store.get(queued.handoff.id)
    assert handoff.case_id == case.id
    assert "callback case" in (await desk.store.notes(handoff.id))[-1].text


async def test_without_a_crm_the_handoff_still_happens(desk, online):
    outcome = await desk.hand_over(request(slots=GRACE), None)
    assert isinstance(outcome, Queued) and outcome.handoff.packet["customer"] is None
