"""Verification against the real (seeded SQLite) CRM: right, wrong, locked, hostile."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.conversation.identity import (
    MAX_FAILED_ATTEMPTS, contact_matches, parse_contact, parse_order_number, verify_customer,
)


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


async def test_failures_on_one_order_lock_it_across_conversations(crm):
    for attempt in range(MAX_FAILED_ATTEMPTS):
        await verify_customer(crm, f"attacker-{attempt}", "RP-100001", "x@example.com")
    result = await verify_customer(crm, "fresh-conversation", "RP-100001", "ada@example.com")
    assert result.status == "locked"
    other_order = await verify_customer(crm, "fresh-conversation", "RP-100004", "grace@example.org")
    assert other_order.status == "verified"


async def test_the_lock_lifts_after_an_hour(crm):
    for _ in range(MAX_FAILED_ATTEMPTS):
        await verify_customer(crm, "conv-1", "RP-100001", "x@example.com")
    later = datetime.now(timezone.utc) + timedelta(hours=1, minutes=1)
    result = await verify_customer(crm, "conv-1", "RP-100001", "ada@example.com", now=later)
    assert result.status == "verified"
