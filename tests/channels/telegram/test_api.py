"""channels.telegram.api: what Telegram's errors mean, and the one back-off rule."""

from __future__ import annotations

import datetime as dtm

import pytest
from telegram.error import (
    BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut,
)

from channels.telegram.api import (
    LATER, PERMANENT, TRANSIENT, Failure, chat_ref, classify_error, retry_after_seconds,
    retry_delay,
)


def test_a_429_is_later_with_the_wait_telegram_asked_for() -> None:
    failure = classify_error(RetryAfter(7))
    assert failure.kind == LATER
    assert failure.wait == 7.0
    assert failure.reason == str(RetryAfter(7))


@pytest.mark.parametrize("error, name", [
    (BadRequest("Bad Request: chat not found"), "BadRequest"),
    (Forbidden("Forbidden: bot was blocked by the user"), "Forbidden"),
    (ChatMigrated(-100123), "ChatMigrated"),
])
def test_refusals_that_will_not_change_are_permanent(error: TelegramError, name: str) -> None:
    failure = classify_error(error)
    assert failure == Failure(PERMANENT, 0.0, f"{name}: {error}")


@pytest.mark.parametrize("error, name", [
    (NetworkError("connection reset"), "NetworkError"),
    (TimedOut(), "TimedOut"),
    (TelegramError("something else"), "TelegramError"),
])
def test_network_failures_are_transient(error: TelegramError, name: str) -> None:
    failure = classify_error(error)
    assert failure == Failure(TRANSIENT, 0.0, f"{name}: {error}")


def test_bad_request_is_permanent_although_it_is_a_network_error() -> None:
    assert issubclass(BadRequest, NetworkError)
    assert classify_error(BadRequest("message is too long")).kind == PERMANENT


def test_a_429_waits_what_telegram_asked_whatever_the_attempt() -> None:
    later = Failure(LATER, 12.5, "flood")
    assert retry_delay(later, attempt=1, backoff_s=1.0) == 12.5
    assert retry_delay(later, attempt=9, backoff_s=1.0, max_backoff_s=2.0) == 12.5


def test_a_permanent_failure_is_not_retried() -> None:
    assert retry_delay(Failure(PERMANENT, 0.0, "blocked"), attempt=1, backoff_s=1.0) is None


def test_a_transient_failure_doubles_the_back_off_per_earlier_attempt() -> None:
    transient = Failure(TRANSIENT, 0.0, "timed out")
    assert [retry_delay(transient, attempt, backoff_s=0.5) for attempt in (1, 2, 3, 4)] == [
        0.5, 1.0, 2.0, 4.0]
    assert retry_delay(transient, attempt=0, backoff_s=0.5) == 0.5  # no earlier attempt


def test_the_transient_back_off_is_capped() -> None:
    transient = Failure(TRANSIENT, 0.0, "timed out")
    delays = [retry_delay(transient, attempt, backoff_s=1.0, max_backoff_s=5.0)
              for attempt in (1, 2, 3, 4, 10)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]


@pytest.mark.parametrize("retry_after, seconds", [
    (30, 30.0),
    (dtm.timedelta(seconds=2, milliseconds=500), 2.5),
    (dtm.timedelta(minutes=1), 60.0),
])
def test_retry_after_seconds_reads_ints_and_timedeltas(
        retry_after: int | dtm.timedelta, seconds: float) -> None:
    value = retry_after_seconds(RetryAfter(retry_after))
    assert isinstance(value, float)
    assert value == seconds


def test_chat_ref_is_an_int_for_ids_and_the_name_for_public_channels() -> None:
    assert chat_ref("-100123") == -100123
    assert chat_ref("@rapport_news") == "@rapport_news"
