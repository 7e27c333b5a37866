"""What customers type reaches the CRM: hostile input gets a named error and changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.crm.interface import AttemptCounts, AttemptKeys
from bot.crm import CaseNotFound, CustomerNotFound, NewCase, OfferNotFound, OrderNotFound

from .helpers import row_counts

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the fixtures run on

HOSTILE = [
    "' OR 1=1 --",
    "RP-100001' OR '1'='1",
    'RP-100001"; DROP TABLE orders; --',
    "ada@example.com' --",
    "RP-100001\x00",
    "\x00",
    "%",
    "RP-10000_",
    "../../customers/C-000000000001",
    "RP-100001/../../cases",
    "A" * 10_000,
    "🙂" * 50,
    "",
    "   ",
]


async def test_lookups_raise_named_errors_and_change_nothing(any_crm, seeded):
    before = row_counts(seeded)
    for typed in HOSTILE:
        await _lookups_fail_cleanly(any_crm, typed)
    assert row_counts(seeded) == before


async def _lookups_fail_cleanly(any_crm, typed: str) -> None:
    for call, error in [
        (any_crm.get_order(typed), OrderNotFound),
        (any_crm.get_customer(typed), CustomerNotFound),
        (any_crm.customer_card(typed), CustomerNotFound),
        (any_crm.get_case(typed), CaseNotFound),
        (any_crm.update_case(typed, status="closed"), CaseNotFound),
        (any_crm.offers_for_case(typed), CaseNotFound),
        (any_crm.make_offer(typed, "refund", 10), CaseNotFound),
        (any_crm.settle_offer(typed, True), OfferNotFound),
        (any_crm.add_interaction(typed, "telegram", "note", "hi"), CustomerNotFound),
    ]:
        with pytest.raises(error) as caught:
            await call
        if len(typed.strip()) > 3:
            assert typed not in str(caught.value), "the input is echoed back"
    assert await any_crm.find_identity("telegram", typed) is None
    assert await any_crm.find_identity(typed, "12345") is None
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    keys = AttemptKeys(conversation_id=typed, order_number=typed, client=typed,
                       contact_hash=typed)
    reservation = await any_crm.reserve_verification_attempt(keys, since=since,
                                                             breaker_since=since)
    assert reservation.counts == AttemptCounts(0, 0, 0, 0, 0)
    await any_crm.settle_verification_attempt(reservation.attempt_id, "refused")


async def test_hostile_order_numbers_in_attempts_are_logged_cleanly(any_crm, seeded):
    before = row_counts(seeded)
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    for index, typed in enumerate(HOSTILE):
        keys = AttemptKeys(conversation_id=f"conv-{index}", order_number=typed,
                           client=f"web:{index}", contact_hash=typed)
        first = await any_crm.reserve_verification_attempt(keys, since=since,
                                                           breaker_since=since)
        await any_crm.settle_verification_attempt(first.attempt_id, "failed")
        second = await any_crm.reserve_verification_attempt(keys, since=since,
                                                            breaker_since=since)
        assert second.counts.conversation == second.counts.order_client == 1
        await any_crm.settle_verification_attempt(second.attempt_id, "refused")
    after = row_counts(seeded)
    assert after.pop("verification_attempts") == before.pop("verification_attempts") + len(HOSTILE)
    assert after == before
    assert (await any_crm.get_order("RP-100001")).email == "ada@example.com"  # still there


async def test_hostile_free_text_is_stored_as_text(any_crm, seeded):
    description = "' OR 1=1 --; DROP TABLE cases; \x00 \"quoted\" " + "x" * 10_000
    case = await any_crm.open_case(NewCase(
        customer_id="C-000000000001", order_number="RP-100003", category="damaged",
        severity="high", severity_score=0.7, severity_reasons=("'; DELETE FROM offers; --",),
        description=description,
    ))
    stored = await any_crm.get_case(case.id)
    assert stored.description == description.replace("\x00", "")
    assert stored.severity_reasons == ("'; DELETE FROM offers; --",)
    await any_crm.add_interaction("C-000000000001", "telegram", "note", "\x00' OR 1=1 --")
    card = await any_crm.customer_card("C-000000000001")
    assert card.timeline[0].summary == "' OR 1=1 --"
    assert row_counts(seeded)["orders"] > 0
