"""Priority rules: the fixed factors, waiting time, queue order and the expected wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff.priority import (
    DEFAULT_PICKUP_SECONDS, WAIT_POINTS_MAX, Factors, Priority, band, base_priority,
    current_priority, describe_wait, expected_wait_seconds, queue_order, wait_points,
)

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=timezone.utc)


def test_nothing_known_is_zero_points():
    assert base_priority(Factors()) == Priority(0, ())


@pytest.mark.parametrize("severity, points", [("low", 10), ("medium", 25), ("high", 45),
                                              ("critical", 70), (None, 0), ("weird", 0)])
def test_severity(severity, points):
    assert base_priority(Factors(severity=severity)).points == points


def test_every_factor_adds_up_with_its_reason():
    priority = base_priority(Factors(severity="high", tier="VIP", public_risk=True,
                                     sentiment=-0.8, complaints_90_days=3))
    assert dict(priority.reasons) == {"severity high": 45, "VIP customer": 25,
                                      "may go public": 30, "upset": 12,
                                      "3 complaints in 90 days": 10}
    assert priority.points == 122 and priority.band == "urgent"


def test_a_happy_customer_gets_no_mood_points_and_one_complaint_is_not_a_pattern():
    assert base_priority(Factors(sentiment=0.9, complaints_90_days=1)).points == 0


def test_a_vip_outranks_a_standard_customer_with_the_same_problem():
    vip = base_priority(Factors(severity="medium", tier="vip"))
    standard = base_priority(Factors(severity="medium", tier="standard"))
    assert vip.points > standard.points


@pytest.mark.parametrize("points, name", [(0, "low"), (19, "low"), (20, "normal"),
                                          (45, "high"), (70, "urgent"), (300, "urgent")])
def test_bands(points, name):
    assert band(points) == name


def test_waiting_adds_two_points_a_minute_up_to_a_cap():
    assert wait_points(NOW, NOW) == 0
    assert wait_points(NOW - timedelta(minutes=5), NOW) == 10
    assert wait_points(NOW - timedelta(hours=3), NOW) == WAIT_POINTS_MAX
    assert wait_points(NOW + timedelta(minutes=1), NOW) == 0  # clock skew


def test_current_priority_grows_while_waiting_and_says_why():
    base = base_priority(Factors(severity="low"))
    later = current_priority(base, NOW - timedelta(minutes=7), NOW)
    assert later.points == 10 + 14
    assert later.reasons[-1] == ("waiting 7 min", 14)
    assert current_priority(base, NOW - timedelta(minutes=7), NOW, waiting=False) == base


@dataclass
class Item:
    name: str
    base: Priority
    created_at: datetime


def test_queue_order_highest_first_then_longest_waiting():
    high = Item("high", base_priority(Factors(severity="high")), NOW - timedelta(minutes=1))
    low_old = Item("low-old", Priority(0, ()), NOW - timedelta(minutes=10))
    low_new = Item("low-new", Priority(0, ()), NOW - timedelta(minutes=2))
    tie_old = Item("tie-old", Priority(0, ()), NOW - timedelta(minutes=2, seconds=20))
    ordered = [item.name for item in queue_order([low_new, high, low_old, tie_old], NOW)]
    assert ordered == ["high", "low-old", "tie-old", "low-new"]


def test_a_long_wait_overtakes_a_more_severe_newcomer():
    patient = Item("patient", base_priority(Factors(severity="low")), NOW - timedelta(minutes=20))
    newcomer = Item("newcomer", base_priority(Factors(severity="medium")), NOW)
    assert [i.name for i in queue_order([newcomer, patient], NOW)] == ["patient", "newcomer"]


def test_expected_wait_uses_the_median_recent_pickup():
    assert expected_wait_seconds(1, 1, [60, 600, 90]) == 90
    assert expected_wait_seconds(1, 1, [60, 120]) == 90


def test_expected_wait_grows_with_the_queue_and_shrinks_with_agents():
    assert expected_wait_seconds(3, 1, [100]) == 300
    assert expected_wait_seconds(3, 2, [100]) == 200
    assert expected_wait_seconds(3, 5, [100]) == 100


def test_expected_wait_without_history_and_never_below_half_a_minute():
    assert expected_wait_seconds(1, 1, []) == DEFAULT_PICKUP_SECONDS
    assert expected_wait_seconds(1, 0, [2, 3]) == 30


@pytest.mark.parametrize("seconds, text", [(10, "about a minute"), (90, "about 2 minutes"),
                                           (300, "about 5 minutes"), (3600, "about an hour"),
                                           (3 * 3600, "about 3 hours")])
def test_describe_wait(seconds, text):
    assert describe_wait(seconds) == text
