"""Complaints end to end in `bot/`: the seeded CRM, the brand's real policy, no Rasa."""

from __future__ import annotations

from datetime import date

import pytest

from bot.complaints.recovery import ComplaintReport, resolve_complaint, settle_remedy, within_warranty
from tests.conftest import TODAY

ADA = "C-000000000001"


def report(order: str, issue: str, customer: str = ADA, **changes) -> ComplaintReport:
    base = dict(conversation_id="conv-1", channel="rest", customer_id=customer,
                order_number=order, issue_type=issue, description="it arrived broken",
                texts=("my saucepans arrived damaged",), sentiment=-0.4)
    base.update(changes)
    return ComplaintReport(**base)


async def test_damaged_item_gets_a_sincere_apology_and_a_replacement(crm, policy, brand):
    outcome = await resolve_complaint(crm, policy, brand, report("RP-100003", "damaged"), TODAY)
    assert outcome.decision.rule_name == "damaged item"
    assert outcome.decision.apology == "sincere"
    assert not outcome.needs_human
    assert outcome.remedy.kind == "replacement"
    case = await crm.get_case(outcome.case.id)
    assert case.status == "offered" and case.category == "damaged"
    assert case.severity == outcome.severity.level and case.severity_reasons
    offers = await crm.offers_for_case(case.id)
    assert [(o.kind, o.status) for o in offers] == [("replacement", "offered")]


async def test_accepting_records_the_remedy_on_the_case(crm, policy, brand):
    outcome = await resolve_complaint(crm, policy, brand, report("RP-100003", "damaged"), TODAY)
    offer = await settle_remedy(crm, outcome.case.id, outcome.offer.id, True, ADA, "rest")
    assert offer.status == "accepted"
    case = await crm.get_case(outcome.case.id)
    assert case.status == "resolved" and case.resolution == "replacement sent"


async def test_late_delivery_voucher_is_a_real_code(crm, policy, brand):
    outcome = await resolve_complaint(crm, policy, brand,
                                      report("RP-100002", "late_delivery"), TODAY)
    assert outcome.remedy.kind == "voucher" and outcome.remedy.amount == 5.0
    offer = await settle_remedy(crm, outcome.case.id, outcome.offer.id, True, ADA, "rest")
    assert offer.voucher_code and offer.voucher_code.startswith("LO-")
    case = await crm.get_case(outcome.case.id)
    assert offer.voucher_code in case.resolution


async def test_declining_marks_the_case_for_a_person(crm, policy, brand):
    outcome = await resolve_complaint(crm, policy, brand, report("RP-100003", "damaged"), TODAY)
    await settle_remedy(crm, outcome.case.id, outcome.offer.id, False, ADA, "rest")
    assert (await crm.get_case(outcome.case.id)).status == "needs_human"


async def test_vip_goes_to_a_person_with_the_case_recorded(crm, policy, brand):
    outcome = await resolve_complaint(
        crm, policy, brand, report("RP-100004", "damaged", customer="C-000000000002"), TODAY)
    assert outcome.needs_human and outcome.offer is None
    case = await crm.get_case(outcome.case.id)
    assert case.status == "needs_human"
    assert case.severity_reasons == ("order value €449.00", "VIP customer",
                                     "negative sentiment (-0.40)", "handoff: VIP customer")


async def test_public_threat_on_an_expensive_order_is_severe_and_profound(crm, policy, brand):
    angry = report("RP-100006", "damaged", customer="C-000000000004", sentiment=-0.9,
                   texts=("THE BOOKSHELF IS SMASHED", "I'll post this on Trustpilot and call a lawyer"),
                   threatened_public=True)
    outcome = await resolve_complaint(crm, policy, brand, angry, TODAY)
    assert outcome.severity.level == "critical"
    assert outcome.decision.apology == "profound"
    assert outcome.needs_human


@pytest.mark.parametrize("placed, expected", [(date(2025, 1, 1), True), (date(2020, 1, 1), False)])
async def test_warranty_from_the_order_date(crm, brand, placed, expected):
    from dataclasses import replace
    from datetime import datetime

    order = await crm.get_order("RP-100003")
    order = replace(order, placed_at=datetime.combine(placed, datetime.min.time()))
    assert within_warranty(order, brand, date(2026, 6, 1)) is expected
