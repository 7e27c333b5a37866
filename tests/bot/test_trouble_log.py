"""TroubleLog: a retrying loop's trouble is warned once, its recovery said once."""

from __future__ import annotations

import logging

import pytest

from bot.trouble_log import TroubleLog

LOGGER = "tests.trouble_log"


@pytest.fixture
def trouble_log(caplog: pytest.LogCaptureFixture) -> TroubleLog:
    caplog.set_level(logging.INFO, LOGGER)
    return TroubleLog(logging.getLogger(LOGGER), "feed: reading again")


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records]


def test_the_same_trouble_is_warned_once_but_counted_every_time(trouble_log, caplog):
    for _ in range(3):
        trouble_log.say("feed waiting: database down")
    assert lines(caplog) == [("WARNING", "feed waiting: database down")]
    assert trouble_log.trouble == "feed waiting: database down"
    assert trouble_log.count == 3


def test_a_different_trouble_is_warned_again(trouble_log, caplog):
    trouble_log.say("feed waiting: database down")
    trouble_log.say("feed cannot reach RabbitMQ")
    trouble_log.say("feed cannot reach RabbitMQ")
    assert lines(caplog) == [("WARNING", "feed waiting: database down"),
                             ("WARNING", "feed cannot reach RabbitMQ")]
    assert trouble_log.trouble == "feed cannot reach RabbitMQ"


def test_recovery_is_said_once_and_only_after_a_trouble(trouble_log, caplog):
    trouble_log.recovered()  # nothing went wrong: nothing to say
    assert caplog.records == []
    trouble_log.say("feed waiting: database down")
    trouble_log.recovered()
    trouble_log.recovered()
    assert lines(caplog) == [("WARNING", "feed waiting: database down"),
                             ("INFO", "feed: reading again")]
    assert trouble_log.trouble is None
    trouble_log.say("feed waiting: database down")  # the same trouble again: a new outage
    assert lines(caplog)[-1] == ("WARNING", "feed waiting: database down")
    assert trouble_log.count == 2


def test_an_unexpected_error_is_counted_and_logged_with_its_traceback(trouble_log, caplog):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        trouble_log.unexpected("feed: unexpected error")
    [record] = caplog.records
    assert (record.levelname, record.getMessage()) == ("ERROR", "feed: unexpected error")
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert trouble_log.count == 1
    assert trouble_log.trouble is None  # not a trouble to recover from: it is said every time
