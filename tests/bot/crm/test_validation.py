"""bot.crm.validation: what callers pass in is cleaned up or refused before a backend sees it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.crm.errors import InvalidRequest
from bot.crm.validation import (
    MAX_SUMMARY_CHARS, ORDER_STATUSES, as_utc, attempt_key, clean_channel_user, clean_key,
    clean_text, naive_utc, normalise_order_number, require_amount, require_category,
    require_choice, require_csat, require_score,
)


@pytest.mark.parametrize("raw", [
    "RP-100001", "rp-100001", "rp 100001", "RP100001", "#RP-100001", " # rp_100001 ",
    "Rp - 100001",
])
def test_loosely_typed_order_numbers_become_canonical(raw: str) -> None:
    assert normalise_order_number(raw) == "RP-100001"


def test_other_keys_pass_as_given_without_their_hash() -> None:
    assert normalise_order_number("#A1B2") == "A1B2"
    assert normalise_order_number("legacy:42") == "legacy:42"


@pytest.mark.parametrize("raw", [
    None, 100001, "", "   ", "RP-1000; DROP TABLE orders", "../etc/passwd", "a b", "x" * 65,
    "RP-100001" + " " * 60, "-leading-dash", "order\n1",
])
def test_what_cannot_be_an_order_number_is_none(raw: object) -> None:
    assert normalise_order_number(raw) is None


def test_clean_key_takes_ids_as_given_or_not_at_all() -> None:
    assert clean_key("cust_00042") == "cust_00042"
    assert clean_key("cust-00042") == "cust-00042"
    assert clean_key("case.7:a") == "case.7:a"
    for bad in (None, 42, "", "has space", "x" * 65, "/slash", "ümlaut"):
        assert clean_key(bad) is None
    assert clean_key("x" * 64) == "x" * 64


def test_clean_channel_user() -> None:
    assert clean_channel_user("telegram", "4242") == ("telegram", "4242")
    assert clean_channel_user("rest", "ada+shop@example.com") == ("rest", "ada+shop@example.com")
    assert clean_channel_user("Telegram", "4242") is None  # channels are lower-case keys
    assert clean_channel_user("x" * 33, "4242") is None
    assert clean_channel_user("telegram", "has space") is None
    assert clean_channel_user("telegram", "x" * 129) is None
    assert clean_channel_user("telegram", 4242) is None
    assert clean_channel_user(None, "4242") is None


def test_clean_text_drops_control_characters_and_cuts_to_length() -> None:
    assert clean_text("a\x00b\x07c\td\ne\r", 100) == "abc\td\ne\r"
    assert clean_text("abcdef", 6) == "abcdef"
    assert clean_text("abcdefg", 6) == "abcde…"
    assert len(clean_text("y" * 5000, MAX_SUMMARY_CHARS)) == MAX_SUMMARY_CHARS
    assert clean_text(12.5, 10) == "12.5"


def test_attempt_key_is_the_order_number_or_a_clean_stub() -> None:
    assert attempt_key("rp 100001") == "RP-100001"
    assert attempt_key("not an order\x00" + "z" * 100) == "not an order" + "z" * 51 + "…"
    assert attempt_key(None) == "None"


def test_require_choice() -> None:
    assert require_choice("status", "shipped", ORDER_STATUSES) == "shipped"
    with pytest.raises(InvalidRequest, match="^status must be one of placed, packed, shipped"):
        require_choice("status", "teleported", ORDER_STATUSES)
    with pytest.raises(InvalidRequest):
        require_choice("status", "Shipped", ORDER_STATUSES)


def test_require_category() -> None:
    assert require_category("damaged") == "damaged"
    assert require_category("late-delivery_2") == "late-delivery_2"
    for bad in ("Damaged", "", "_x", "has space", None, "x" * 65):
        with pytest.raises(InvalidRequest, match="category must be a short lower-case key"):
            require_category(bad)


def test_require_amount_rounds_to_cents_and_refuses_non_numbers() -> None:
    assert require_amount(None) is None
    assert require_amount(12) == 12.0
    assert require_amount(12.345) == 12.35
    assert require_amount(0) == 0.0
    for bad in (True, "12", float("nan"), float("inf")):
        with pytest.raises(InvalidRequest, match="^refund must be a number$"):
            require_amount(bad, "refund")
    for bad in (-0.01, 1e9):
        with pytest.raises(InvalidRequest, match="between 0 and 999,999,999.99"):
            require_amount(bad)


def test_require_score_and_csat() -> None:
    assert require_score(3) == 3.0 and isinstance(require_score(3), float)
    assert require_score(-1.5) == -1.5
    for bad in (False, "1", float("nan")):
        with pytest.raises(InvalidRequest, match="severity_score must be a finite number"):
            require_score(bad)
    assert [require_csat(n) for n in range(1, 6)] == [1, 2, 3, 4, 5]
    for bad in (0, 6, 3.0, True, "4", None):
        with pytest.raises(InvalidRequest, match="csat must be an integer from 1 to 5"):
            require_csat(bad)


def test_datetimes_are_taken_to_utc() -> None:
    naive = datetime(2024, 5, 1, 14, 30)
    amsterdam = datetime(2024, 5, 1, 16, 30, tzinfo=timezone(timedelta(hours=2)))
    assert as_utc(naive) == datetime(2024, 5, 1, 14, 30, tzinfo=timezone.utc)
    assert as_utc(amsterdam) == datetime(2024, 5, 1, 14, 30, tzinfo=timezone.utc)
    assert as_utc(amsterdam).tzinfo is timezone.utc
    assert naive_utc(amsterdam) == naive
    assert naive_utc(naive) == naive
