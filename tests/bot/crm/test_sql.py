"""SqlCrm on real SQLite and PostgreSQL databases seeded with the demo data."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, inspect, text

from bot.crm import (
    CaseNotFound, CrmUnavailable, CustomerNotFound, InvalidRequest, NewCase, OfferNotFound,
    OrderNotFound,
)
from bot.conversation.identity import MAX_FAILED_ATTEMPTS, verify_customer
from bot.crm.interface import AttemptCounts, AttemptKeys
from bot.database import make_engine
from bot.crm.sql import SqlCrm

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the fixtures run on

ADA, GRACE, ALAN = "C-000000000001", "C-000000000002", "C-000000000003"


def a_case(customer_id: str = ADA, order_number: str | None = "RP-100003", **changes) -> NewCase:
    values = dict(
        customer_id=customer_id, order_number=order_number, category="damaged",
        severity="high", severity_score=0.8, severity_reasons=("damaged", "order over €300"),
        description="The saucepans arrived dented.",
    )
    values.update(changes)
    return NewCase(**values)


async def test_get_order_returns_the_demo_order_with_lines(crm):
    order = await crm.get_order("RP-100001")
    assert (order.number, order.customer_id, order.status) == ("RP-100001", ADA, "shipped")
    assert (order.carrier, order.currency, order.total) == ("DPD", "EUR", 78.95)
    assert (order.email, order.postcode) == ("ada@example.com", "1012 AB")
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("LO-0001", 1, 49.95), ("LO-0026", 2, 14.5)]
    assert order.lines[0].product_name == "Cast Iron Skillet 28cm"
    assert order.placed_at.tzinfo is not None and order.shipped_at.tzinfo is not None
    assert order.promised_date == date.today() + timedelta(days=1)
    assert order.delivered_at is None


@pytest.mark.parametrize("typed", ["rp-100002", " RP 100002 ", "#RP100002", "rp_100002"])
async def test_get_order_accepts_how_customers_type_order_numbers(crm, typed):
    assert (await crm.get_order(typed)).number == "RP-100002"


async def test_unknown_order_customer_and_case_raise_their_named_errors(crm):
    with pytest.raises(OrderNotFound):
        await crm.get_order("RP-999999")
    with pytest.raises(CustomerNotFound):
        await crm.get_customer("C-ffffffffffff")
    with pytest.raises(CaseNotFound):
        await crm.get_case("CS-ffffffffffff")
    with pytest.raises(OfferNotFound):
        await crm.settle_offer("OF-ffffffffffff", True)


async def test_get_customer(crm):
    grace = await crm.get_customer(GRACE)
    assert (grace.name, grace.email, grace.tier) == ("Grace Hopper", "grace@example.org", "vip")
    assert grace.consent_data_processing is True


async def test_customer_card_has_recent_orders_open_cases_complaints_and_timeline(crm):
    case = await crm.open_case(a_case())
    for index in range(25):
        await crm.add_interaction(ADA, "telegram", "order_status", f"asked about order {index}")
    card = await crm.customer_card(ADA)
    assert card.customer.name == "Ada Lovelace"
    assert [order.number for order in card.orders] == ["RP-100001", "RP-100002", "RP-100003"]
    assert [c.id for c in card.open_cases] == [case.id]
    assert card.complaints_last_90_days == 1
    assert len(card.timeline) == 20
    assert card.timeline[0].summary == "asked about order 24"  # newest first
    assert [i.at for i in card.timeline] == sorted((i.at for i in card.timeline), reverse=True)


async def test_customer_card_counts_previous_complaints_and_caps_orders(crm, seeded):
    alan = await crm.customer_card(ALAN)
    assert alan.complaints_last_90_days == 2
    assert alan.open_cases == ()
    assert {i.kind for i in alan.timeline} >= {"complaint"}
    busiest = max(
        [await crm.customer_card(f"C-00000000000{n}") for n in range(1, 5)],
        key=lambda card: len(card.orders),
    )
    assert len(busiest.orders) <= 5
    with pytest.raises(CustomerNotFound):
        await crm.customer_card("C-nobody")


async def test_identities_link_find_and_relink(crm):
    assert await crm.find_identity("telegram", "12345") is None
    await crm.link_identity("telegram", "12345", ADA)
    assert await crm.find_identity("telegram", "12345") == ADA
    assert await crm.find_identity("webchat", "12345") is None
    await crm.link_identity("telegram", "12345", GRACE)  # the same user verified as someone else
    assert await crm.find_identity("telegram", "12345") == GRACE
    with pytest.raises(CustomerNotFound):
        await crm.link_identity("telegram", "777", "C-nobody")
    with pytest.raises(InvalidRequest):
        await crm.link_identity("telegram", "a/b", ADA)


def _keys(conversation: str = "conv-1", order: str = "RP-100001", client: str = "web:1",
          contact: str = "h1") -> AttemptKeys:
    return AttemptKeys(conversation_id=conversation, order_number=order, client=client,
                       contact_hash=contact)


async def test_verification_attempts_are_reserved_counted_and_never_store_the_secret(crm, seeded):
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    for outcome in ("failed", "failed", "succeeded", "refused"):
        reservation = await crm.reserve_verification_attempt(
            _keys(), since=since, breaker_since=since)
        await crm.settle_verification_attempt(reservation.attempt_id, outcome)
    pending = await crm.reserve_verification_attempt(  # not settled: counts as failed
        _keys("conv-2", "rp 100001", "web:2", "h2"), since=since, breaker_since=since)
    counts = (await crm.reserve_verification_attempt(
        _keys("conv-1", "RP-100001", "web:2", "h1"), since=since, breaker_since=since)).counts
    assert counts == AttemptCounts(conversation=2, order_client=1, contact_client=0, client=1,
                                   everyone=3, contact=2, contacts=2)
    naive_future = datetime.utcnow() + timedelta(minutes=1)
    later = (await crm.reserve_verification_attempt(
        _keys(), since=naive_future, breaker_since=naive_future)).counts
    assert later == AttemptCounts(0, 0, 0, 0, 0, 0, 0)
    assert pending.attempt_id
    columns = {c["name"] for c in inspect(seeded).get_columns("verification_attempts")}
    assert columns == {"id", "conversation_id", "order_number", "client", "contact_hash",
                       "succeeded", "at"}
    with pytest.raises(InvalidRequest):
        await crm.settle_verification_attempt("999999", "failed")
    with pytest.raises(InvalidRequest):
        await crm.settle_verification_attempt(pending.attempt_id, "maybe")


async def test_parallel_guesses_cannot_all_see_three_left(crm, seeded):
    """20 guesses at once in one conversation: exactly three are compared, on both databases."""
    results = await asyncio.gather(*(
        verify_customer(crm, "one-conversation", "RP-100001", f"x{n}@example.com")
        for n in range(20)))
    assert {result.status for result in results} <= {"mismatch", "locked"}
    with seeded.connect() as connection:
        outcomes = connection.execute(text(
            "SELECT succeeded FROM verification_attempts")).scalars().all()
    assert [bool(outcome) for outcome in outcomes] == [False] * MAX_FAILED_ATTEMPTS


async def test_open_get_and_update_a_case(crm):
    case = await crm.open_case(a_case())
    assert case.id.startswith("CS-") and case.status == "open"
    assert case.severity_reasons == ("damaged", "order over €300")
    assert await crm.get_case(case.id) == case
    updated = await crm.update_case(case.id, status="resolved", resolution="refund accepted",
                                    resolved=True, csat=5)
    assert (updated.status, updated.resolution, updated.resolved, updated.csat) == (
        "resolved", "refund accepted", True, 5)
    assert updated.updated_at >= case.updated_at and updated.created_at == case.created_at
    assert await crm.get_case(case.id) == updated
    assert (await crm.update_case(case.id)).status == "resolved"  # nothing given: unchanged
    detailed = await crm.update_case(case.id, add_detail="the handle came off\x00 as well")
    assert detailed.description == f"{case.description}\nthe handle came off as well"
    assert (await crm.update_case(case.id, add_detail="")).description == detailed.description


async def test_case_without_order_and_case_rules(crm):
    case = await crm.open_case(a_case(order_number=None, category="bad_service",
                                      severity="low", severity_reasons=()))
    assert case.order_number is None
    with pytest.raises(OrderNotFound):
        await crm.open_case(a_case(order_number="RP-999999"))
    with pytest.raises(InvalidRequest, match="another customer"):
        await crm.open_case(a_case(order_number="RP-100004"))  # Grace's order
    with pytest.raises(CustomerNotFound):
        await crm.open_case(a_case(customer_id="C-nobody", order_number=None))
    with pytest.raises(InvalidRequest):
        await crm.open_case(a_case(severity="apocalyptic"))
    with pytest.raises(InvalidRequest):
        await crm.update_case(case.id, csat=6)
    with pytest.raises(InvalidRequest):
        await crm.update_case(case.id, status="gone")
    with pytest.raises(CaseNotFound):
        await crm.update_case("CS-nothing", status="closed")


async def test_offers_in_order_and_a_voucher_gets_a_real_code(crm):
    case = await crm.open_case(a_case())
    refund = await crm.make_offer(case.id, "refund", 418.0)
    voucher = await crm.make_offer(case.id, "voucher", 25)
    assert (refund.status, refund.voucher_code, voucher.amount) == ("offered", None, 25.0)
    assert [o.id for o in await crm.offers_for_case(case.id)] == [refund.id, voucher.id]

    declined = await crm.settle_offer(refund.id, False)
    assert (declined.status, declined.voucher_code) == ("declined", None)
    accepted = await crm.settle_offer(voucher.id, True)
    assert accepted.status == "accepted"
    assert re.fullmatch(r"LO-[A-HJ-NP-Z2-9]{10}", accepted.voucher_code)
    assert await crm.settle_offer(voucher.id, True) == accepted  # settling twice: no-op
    with pytest.raises(InvalidRequest, match="already accepted"):
        await crm.settle_offer(voucher.id, False)
    assert [o.status for o in await crm.offers_for_case(case.id)] == ["declined", "accepted"]
    with pytest.raises(InvalidRequest):
        await crm.make_offer(case.id, "free_pony")
    with pytest.raises(InvalidRequest):
        await crm.make_offer(case.id, "refund", -5)
    with pytest.raises(CaseNotFound):
        await crm.offers_for_case("CS-nothing")


async def test_voucher_codes_are_unique(crm):
    case = await crm.open_case(a_case())
    offers = await asyncio.gather(*(crm.make_offer(case.id, "voucher", 10) for _ in range(30)))
    settled = await asyncio.gather(*(crm.settle_offer(o.id, True) for o in offers))
    codes = {offer.voucher_code for offer in settled}
    assert len(codes) == 30


async def test_interactions_need_a_known_customer(crm):
    with pytest.raises(CustomerNotFound):
        await crm.add_interaction("C-nobody", "telegram", "verified", "hello")


async def test_concurrent_calls_do_not_interfere(crm):
    since = datetime.now(timezone.utc) - timedelta(minutes=1)

    async def one(index: int) -> str:
        await crm.link_identity("webchat", f"user-{index % 5}", ADA if index % 2 else GRACE)
        reservation = await crm.reserve_verification_attempt(
            _keys(f"c{index}", "RP-100002", f"web:{index}"), since=since, breaker_since=since)
        await crm.settle_verification_attempt(reservation.attempt_id, "failed")
        return (await crm.get_order("RP-100002")).number

    assert set(await asyncio.gather(*(one(i) for i in range(40)))) == {"RP-100002"}
    counts = (await crm.reserve_verification_attempt(
        _keys("c-last", "RP-100002"), since=since, breaker_since=since)).counts
    assert counts.everyone == 40


async def test_database_errors_become_crm_unavailable(tmp_path):
    down = SqlCrm(create_engine("postgresql+psycopg2://postgres@127.0.0.1:1/none", future=True),
                  dispose_engine=True)
    with pytest.raises(CrmUnavailable) as caught:
        await down.get_order("RP-100001")
    assert "127.0.0.1" not in str(caught.value)
    await down.close()
    unmigrated = SqlCrm(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"), dispose_engine=True)
    with pytest.raises(CrmUnavailable):
        await unmigrated.get_customer(ADA)
    await unmigrated.close()


def _cases_with_key(engine, key: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT COUNT(*) FROM cases WHERE request_key = :key"), {"key": key}
        ).scalar_one()


async def test_the_same_request_key_opens_one_case(crm, seeded):
    first = await crm.open_case(a_case(request_key="telegram-42:update-7"))
    await crm.update_case(first.id, status="offered")
    again = await crm.open_case(a_case(request_key="telegram-42:update-7",
                                       description="the same turn, run again"))
    assert again.id == first.id
    assert (again.status, again.description) == ("offered", first.description)  # as it is now
    assert _cases_with_key(seeded, "telegram-42:update-7") == 1


def _all_cases(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT COUNT(*) FROM cases")).scalar_one()


async def test_different_keys_and_no_key_open_separate_cases(crm, seeded):
    before = _all_cases(seeded)
    one = await crm.open_case(a_case(request_key="conversation:1"))
    two = await crm.open_case(a_case(request_key="conversation:2"))
    plain = [await crm.open_case(a_case()) for _ in range(2)]  # NULL keys may repeat
    assert len({one.id, two.id, *(case.id for case in plain)}) == 4
    assert _all_cases(seeded) == before + 4


@pytest.mark.parametrize("key", ["", " padded", "padded ", "x" * 201, "line\nbreak",
                                 "nul\x00", "del\x7f", 42])
async def test_a_bad_request_key_is_refused(crm, seeded, key):
    before = _all_cases(seeded)
    with pytest.raises(InvalidRequest, match="request_key must be 1 to 200 printable"):
        await crm.open_case(a_case(request_key=key))
    assert _all_cases(seeded) == before


async def test_the_longest_and_unicode_keys_are_kept(crm):
    for key in ("k" * 200, "webchat-ümlaut:✓"):
        first = await crm.open_case(a_case(request_key=key))
        assert (await crm.open_case(a_case(request_key=key))).id == first.id


async def test_a_key_never_returns_another_customers_case(crm):
    await crm.open_case(a_case(request_key="shared:1"))
    with pytest.raises(InvalidRequest, match="another customer"):
        await crm.open_case(a_case(customer_id=GRACE, order_number=None,
                                   request_key="shared:1"))


async def test_concurrent_opens_with_one_key_give_one_case(crm, seeded):
    """Ten opens of one key at once (worker threads, real transactions): one case for all."""
    cases = await asyncio.gather(*(crm.open_case(a_case(request_key="replayed:turn"))
                                   for _ in range(10)))
    assert len({case.id for case in cases}) == 1
    assert _cases_with_key(seeded, "replayed:turn") == 1
