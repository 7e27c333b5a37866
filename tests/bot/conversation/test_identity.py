"""Verification against the real (seeded SQLite) CRM: right, wrong, locked, hostile, guessed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.conversation.identity import (
    MAX_FAILED_ATTEMPTS, VerificationLimits, calling_code, contact_matches, normalise_phone,
    parse_contact, parse_order_number, verify_customer,
)
from bot.crm.models import CustomerRow, OrderRow
from bot.database import make_engine


@pytest.mark.parametrize("text, expected", [
    ("RP-100001", "RP-100001"),
    ("rp-100001", "RP-100001"),
    ("RP 100001", "RP-100001"),
    ("#RP100001", "RP-100001"),
    ("it's RP-100001 thanks", "RP-100001"),
    ("RP-1000011", None),
    ("100001", None),
    ("RP-100001 and RP-100002", None),
    ("", None),
    (None, None),
    ("' OR 1=1 --", None),
    ("RP-10000'; DROP TABLE orders; --", None),
    ("RP-100001" + "x" * 10_000, None),
])
def test_parse_order_number(text, expected):
    assert parse_order_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Ada@Example.com", "ada@example.com"),
    ("ada@example.com.", "ada@example.com"),
    ("1012 ab", "1012 AB"),
    ("SW1A 1AA", "SW1A 1AA"),
    ("10115", "10115"),
    ("hello", None),
    ("' OR '1'='1", None),
    ("a'@example.com", None),
    ("x" * 10_000 + "@example.com", None),
    ("ada@example", None),
])
def test_parse_contact(text, expected):
    assert parse_contact(text) == expected


def test_contact_matches_email_or_postcode_ignoring_case_and_spaces():
    assert contact_matches("ada@example.com", "1012 AB", "ada@example.com")
    assert contact_matches("ada@example.com", "1012 AB", "1012 AB")
    assert contact_matches("ada@example.com", "1012AB", "1012 AB")
    assert not contact_matches("ada@example.com", "1012 AB", "grace@example.org")
    assert not contact_matches("ada@example.com", "1012 AB", "1013 AB")


async def test_verifies_with_email_and_with_postcode(crm):
    by_email = await verify_customer(crm, "conv-1", "RP-100001", "ada@example.com")
    by_postcode = await verify_customer(crm, "conv-2", "RP-100001", "1012 AB")
    assert by_email.status == by_postcode.status == "verified"
    assert by_email.customer_id == "C-000000000001"
    assert by_email.customer_name == "Ada"


async def test_wrong_contact_and_unknown_order_get_the_same_answer(crm):
    wrong = await verify_customer(crm, "conv-1", "RP-100001", "grace@example.org")
    unknown = await verify_customer(crm, "conv-2", "RP-999999", "grace@example.org")
    assert wrong.status == unknown.status == "mismatch"
    assert wrong.customer_id is None and unknown.customer_id is None
    assert wrong.attempts_left == unknown.attempts_left == MAX_FAILED_ATTEMPTS - 1


async def test_three_failures_lock_the_conversation_even_with_right_details(crm):
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        assert (await verify_customer(crm, "conv-1", "RP-100001", "x@example.com")).status == "mismatch"
    assert (await verify_customer(crm, "conv-1", "RP-100001", "x@example.com")).status == "locked"
    assert (await verify_customer(crm, "conv-1", "RP-100001", "ada@example.com")).status == "locked"


async def test_failures_from_one_client_lock_it_across_its_conversations(crm):
    for attempt in range(MAX_FAILED_ATTEMPTS):
        await verify_customer(crm, f"attacker-{attempt}", "RP-100001", "x@example.com",
                              client="webchat:attacker")
    result = await verify_customer(crm, "fresh-conversation", "RP-100001", "ada@example.com",
                                   client="webchat:attacker")
    assert result.status == "locked"
    other_order = await verify_customer(crm, "fresh-conversation", "RP-100004",
                                        "grace@example.org", client="webchat:someone-else")
    assert other_order.status == "verified"


async def test_a_strangers_failures_do_not_lock_the_real_customer_out(crm):
    """Lockouts are keyed on (order, client) and (contact, client), never the order alone."""
    for attempt in range(MAX_FAILED_ATTEMPTS * 2):
        await verify_customer(crm, f"attacker-{attempt}", "RP-100001", "x@example.com",
                              client="rest:attacker")
        await verify_customer(crm, f"attacker-{attempt}", "RP-100001", "ada@example.com",
                              client="rest:attacker")
    result = await verify_customer(crm, "ada-on-telegram", "RP-100001", "ada@example.com",
                                   client="telegram:4242")
    assert result.status == "verified"


async def test_one_client_cannot_spread_guesses_over_many_orders(crm):
    limits = VerificationLimits()
    statuses = [
        (await verify_customer(crm, f"c-{n}", f"RP-{500000 + n}", f"x{n}@example.com",
                               client="webchat:sprayer")).status
        for n in range(limits.per_client + 2)
    ]
    assert statuses[: limits.per_client - 1] == ["mismatch"] * (limits.per_client - 1)
    assert set(statuses[limits.per_client - 1:]) == {"locked"}


async def test_a_thousand_fresh_senders_against_one_email_unlock_nothing(crm, seeded_crm_url):
    """The acceptance: 1,000 guesses, one new sender each, trip the breaker and unlock nothing,
    even with the victim's real order among them; the real customer still verifies."""
    engine = make_engine(seeded_crm_url)
    with engine.connect() as connection:
        victim_id, email, postcode = connection.execute(
            select(CustomerRow.id, CustomerRow.email, CustomerRow.postcode)
            .where(CustomerRow.id.notlike("C-0000%")).order_by(CustomerRow.id).limit(1)).one()
        victim_order = connection.scalars(
            select(OrderRow.number).where(OrderRow.customer_id == victim_id)).first()
        numbers = sorted(int(number[3:]) for number in connection.scalars(
            select(OrderRow.number)) if number[3:].isdigit())
    engine.dispose()
    gaps = [later - earlier for earlier, later in zip(numbers, numbers[1:])]
    assert sum(gap == 1 for gap in gaps) < len(gaps) / 2, \
        "seeded order numbers must not be sequential"
    guesses = [f"RP-{100007 + n}" for n in range(1000)]  # what a guesser tries: the next ones
    guesses[500] = victim_order  # and, by luck or knowledge, the right one

    async def attack(limits: VerificationLimits, now: datetime) -> list[str]:
        async def guess(batch: range) -> list[str]:
            return [(await verify_customer(crm, f"stranger-{n}", guesses[n], email, now=now,
                                           client=f"webchat:stranger-{n}", limits=limits)
                     ).status for n in batch]

        return [status for batch in await asyncio.gather(
            *(guess(range(start, 1000, 4)) for start in range(4))) for status in batch]

    limits = VerificationLimits()
    now = datetime.now(timezone.utc)
    statuses = await attack(limits, now)
    assert "verified" not in statuses
    assert statuses.count("mismatch") <= limits.breaker_failures
    assert statuses.count("paused") >= 1000 - limits.breaker_failures

    # While that e-mail is under attack it verifies nobody, its owner included...
    owner = await verify_customer(crm, "owner-web", victim_order, email, now=now,
                                  client="webchat:owner")
    assert owner.status == "paused"
    # ...but the owner verifies with their postcode, and other customers are untouched,
    by_postcode = await verify_customer(crm, "owner-web", victim_order, postcode, now=now,
                                        client="webchat:owner")
    assert by_postcode.status == "verified"
    ada = await verify_customer(crm, "ada-web", "RP-100001", "ada@example.com", now=now,
                                client="webchat:ada")
    assert ada.status == "verified"
    # and once the failures age out of the breaker's window the e-mail works again.
    later = now + limits.breaker_window + timedelta(minutes=1)
    again = await verify_customer(crm, "owner-web", victim_order, email, now=later,
                                  client="webchat:owner")
    assert again.status == "verified"

    # Without the breaker the same guesses find the order: the limits above are what held.
    unguarded = await attack(VerificationLimits(breaker_failures=10**6, breaker_contacts=10**6),
                             later + limits.window + timedelta(minutes=1))
    assert unguarded.count("verified") == 1


async def test_guesses_across_many_emails_pause_everyone_but_telegram_phones(crm):
    limits = VerificationLimits(breaker_contacts=5)
    now = datetime.now(timezone.utc)
    for n in range(5):
        result = await verify_customer(crm, f"spray-{n}", "RP-100001", f"x{n}@example.com",
                                       now=now, client=f"webchat:spray-{n}", limits=limits)
        assert result.status == "mismatch"
    ada = await verify_customer(crm, "ada-web", "RP-100001", "ada@example.com", now=now,
                                client="webchat:ada", limits=limits)
    assert ada.status == "paused"
    by_phone = await verify_customer(crm, "ada-tg", "RP-100001", "+31612345678", now=now,
                                     attested_phone=True, client="telegram:4242", limits=limits)
    assert by_phone.status == "verified"


async def test_the_lock_lifts_after_an_hour(crm):
    for _ in range(MAX_FAILED_ATTEMPTS):
        await verify_customer(crm, "conv-1", "RP-100001", "x@example.com")
    later = datetime.now(timezone.utc) + timedelta(hours=1, minutes=1)
    result = await verify_customer(crm, "conv-1", "RP-100001", "ada@example.com", now=later)
    assert result.status == "verified"


@pytest.mark.parametrize("raw, expected", [
    ("+31 6 1234 5678", "+31612345678"),
    ("+31 (0)6 1234 5678", "+31612345678"),
    ("0031 6-1234-5678", "+31612345678"),
    ("06 12345678", "+31612345678"),
    ("+49 151 2345 6789", "+4915123456789"),
    ("612345678", None),  # no prefix: which country? not a guess
    ("+31 6 1234", None),
    ("+31 6 1234 5678 9012 34", None),
    ("call me", None),
    ("", None),
    (None, None),
])
def test_phone_numbers_are_normalised_to_e164(raw, expected):
    assert normalise_phone(raw, "31") == expected


def test_the_calling_code_comes_from_an_e164_number():
    assert calling_code("+31 20 555 0142") == "31"
    assert calling_code("+1 212 555 0100") == "1"
    assert calling_code("+353 1 555 0100") == "353"
    assert calling_code("020 555 0142") is None


async def test_phone_verification_compares_the_whole_number(crm):
    """Same last nine digits, another country: not the customer."""
    wrong_country = await verify_customer(crm, "tg-1", "RP-100001", "+32612345678",
                                          attested_phone=True, client="telegram:1")
    assert wrong_country.status == "mismatch"
    right = await verify_customer(crm, "tg-2", "RP-100001", "+31612345678",
                                  attested_phone=True, client="telegram:2")
    assert right.status == "verified"
