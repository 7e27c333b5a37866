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


# -- a turn run twice (the stack killed mid-turn, the message delivered again) ---------------


class Killed(Exception):
    """The process died here (raised by `Crashing` after the named CRM call completed)."""


class Crashing:
    """The real CRM, except that the run dies right after the `after`-th call named `method`."""

    def __init__(self, crm, method: str, after: int = 1) -> None:
        self._crm, self._method, self._left = crm, method, after

    def __getattr__(self, name):
        real = getattr(self._crm, name)
        if name != self._method:
            return real

        async def call(*args, **kwargs):
            result = await real(*args, **kwargs)
            self._left -= 1
            if self._left == 0:
                raise Killed(name)
            return result

        return call


async def _complaint_entries(crm, case_id: str) -> list[str]:
    timeline = (await crm.customer_card(ADA)).timeline
    return [entry.summary for entry in timeline
            if entry.kind == "complaint" and entry.summary.startswith(f"Complaint {case_id} ")]


async def test_the_same_key_twice_is_one_case_one_offer_one_note(crm, policy, brand):
    before = (await crm.customer_card(ADA)).complaints_last_90_days
    damaged = report("RP-100003", "damaged")
    first = await resolve_complaint(crm, policy, brand, damaged, TODAY, request_key="conv-1:m-7")
    again = await resolve_complaint(crm, policy, brand, damaged, TODAY, request_key="conv-1:m-7")
    assert (again.case.id, again.offer.id) == (first.case.id, first.offer.id)
    assert (again.severity, again.decision, again.remedy) == (
        first.severity, first.decision, first.remedy)  # judged as the first run was
    assert (await crm.customer_card(ADA)).complaints_last_90_days == before + 1
    assert [o.id for o in await crm.offers_for_case(first.case.id)] == [first.offer.id]
    assert len(await _complaint_entries(crm, first.case.id)) == 1


async def test_different_keys_are_different_complaints(crm, policy, brand):
    damaged = report("RP-100003", "damaged")
    one = await resolve_complaint(crm, policy, brand, damaged, TODAY, request_key="conv-1:m-1")
    two = await resolve_complaint(crm, policy, brand, damaged, TODAY, request_key="conv-1:m-2")
    assert one.case.id != two.case.id and one.offer.id != two.offer.id


@pytest.mark.parametrize("killed_after", ["open_case", "make_offer", "add_interaction"])
async def test_a_run_killed_anywhere_then_replayed_leaves_one_of_each(crm, policy, brand,
                                                                        killed_after):
    damaged = report("RP-100002", "late_delivery")
    with pytest.raises(Killed):
        await resolve_complaint(Crashing(crm, killed_after), policy, brand, damaged, TODAY,
                                request_key="conv-9:m-3")
    replayed = await resolve_complaint(crm, policy, brand, damaged, TODAY,
                                       request_key="conv-9:m-3")
    again = await resolve_complaint(crm, policy, brand, damaged, TODAY, request_key="conv-9:m-3")
    open_cases = [c for c in (await crm.customer_card(ADA)).open_cases
                  if c.order_number == "RP-100002"]
    assert [c.id for c in open_cases] == [replayed.case.id]
    offers = await crm.offers_for_case(replayed.case.id)
    assert [(o.id, o.kind, o.amount) for o in offers] == [(replayed.offer.id, "voucher", 5.0)]
    assert (again.case.id, again.offer.id, again.remedy) == (
        replayed.case.id, replayed.offer.id, replayed.remedy)
    assert len(await _complaint_entries(crm, replayed.case.id)) == 1


async def test_a_replayed_handoff_complaint_makes_no_offer_and_one_note(crm, policy, brand):
    vip = report("RP-100004", "damaged", customer="C-000000000002")
    first = await resolve_complaint(crm, policy, brand, vip, TODAY, request_key="conv-2:m-1")
    again = await resolve_complaint(crm, policy, brand, vip, TODAY, request_key="conv-2:m-1")
    assert again.needs_human and again.offer is None
    assert (again.case.id, again.severity, again.decision) == (
        first.case.id, first.severity, first.decision)
    assert await crm.offers_for_case(first.case.id) == ()
    timeline = (await crm.customer_card("C-000000000002")).timeline
    assert [e.kind for e in timeline if first.case.id in e.summary] == ["complaint"]


async def test_without_a_key_each_run_is_a_new_complaint(crm, policy, brand):
    damaged = report("RP-100003", "damaged")
    one = await resolve_complaint(crm, policy, brand, damaged, TODAY)
    two = await resolve_complaint(crm, policy, brand, damaged, TODAY)
    assert one.case.id != two.case.id
