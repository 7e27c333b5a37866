"""Priority rules: who in the queue should a person talk to first.

A handoff's priority is a number of points, the sum of named reasons (shown to agents):

| factor | points |
|---|---|
| complaint severity | low 10, medium 25, high 45, critical 70 |
| VIP customer | 25 |
| public escalation risk (threatened to go public) | 30 |
| negative mood (the lowest VADER compound of the customer's messages) | up to 15 (at -1.0) |
| repeat complainer (2+ complaints in 90 days) | 10 |
| waiting time | 2 per minute waited, at most 40 |

The fixed part is computed once, when the handoff is created; waiting time is added when
the queue is read, so a handoff climbs as it waits. Ties: whoever has waited longest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from math import ceil
from typing import Iterable, Optional

SEVERITY_POINTS = {"low": 10, "medium": 25, "high": 45, "critical": 70}
VIP_POINTS = 25
PUBLIC_RISK_POINTS = 30
MOOD_POINTS = 15
REPEAT_POINTS = 10
REPEAT_COMPLAINTS = 2
WAIT_POINTS_PER_MINUTE = 2
WAIT_POINTS_MAX = 40

# Priority bands, for the queue's colours and words.
BANDS = ((70, "urgent"), (45, "high"), (20, "normal"), (0, "low"))

# Expected wait when nobody has been helped recently to learn from.
DEFAULT_PICKUP_SECONDS = 120


@dataclass(frozen=True)
class Factors:
    """What the bot knows when it hands over."""

    severity: Optional[str] = None  # low | medium | high | critical
    tier: Optional[str] = None  # standard | vip (verified customers only)
    public_risk: bool = False
    sentiment: float = 0.0  # most negative compound, -1..1
    complaints_90_days: int = 0


@dataclass(frozen=True)
class Priority:
    points: int
    reasons: tuple[tuple[str, int], ...]

    @property
    def band(self) -> str:
        return band(self.points)


def band(points: int) -> str:
    for threshold, name in BANDS:
        if points >= threshold:
            return name
    return "low"


def base_priority(factors: Factors) -> Priority:
    """The fixed part: severity, tier, escalation risk, mood, history."""
    reasons: list[tuple[str, int]] = []
    if factors.severity in SEVERITY_POINTS:
        reasons.append((f"severity {factors.severity}", SEVERITY_POINTS[factors.severity]))
    if (factors.tier or "").lower() == "vip":
        reasons.append(("VIP customer", VIP_POINTS))
    if factors.public_risk:
        reasons.append(("may go public", PUBLIC_RISK_POINTS))
    mood = min(0.0, max(-1.0, float(factors.sentiment or 0.0)))
    mood_points = round(-mood * MOOD_POINTS)
    if mood_points > 0:
        reasons.append(("upset", mood_points))
    if factors.complaints_90_days >= REPEAT_COMPLAINTS:
        reasons.append((f"{factors.complaints_90_days} complaints in 90 days", REPEAT_POINTS))
    return Priority(sum(points for _, points in reasons), tuple(reasons))


def wait_points(created_at: datetime, now: datetime) -> int:
    minutes = max(0.0, (now - created_at).total_seconds() / 60)
    return min(WAIT_POINTS_MAX, int(minutes * WAIT_POINTS_PER_MINUTE))


def current_priority(base: Priority, created_at: datetime, now: datetime,
                     waiting: bool = True) -> Priority:
    """The base plus waiting time (only while nobody has claimed it)."""
    points = wait_points(created_at, now) if waiting else 0
    if points <= 0:
        return base
    minutes = int((now - created_at).total_seconds() // 60)
    return Priority(base.points + points, base.reasons + ((f"waiting {minutes} min", points),))


def queue_order(items: Iterable, now: datetime) -> list:
    """Items with `.base`, `.created_at` (and `.state`), highest priority first."""
    def key(item) -> tuple:
        effective = current_priority(item.base, item.created_at, now).points
        return (-effective, item.created_at)
    return sorted(items, key=key)


def expected_wait_seconds(position: int, agents_online: int,
                          recent_pickups: Iterable[float]) -> int:
    """How long the customer at `position` (1 = next) will probably wait for a person.

    The typical pick-up time is the median of recent ones (claimed handoffs); each agent
    takes one customer at a time, so every `agents_online` people ahead add one more.
    """
    pickups = sorted(p for p in recent_pickups if p >= 0)
    if pickups:
        middle = len(pickups) // 2
        typical = (pickups[middle] if len(pickups) % 2
                   else (pickups[middle - 1] + pickups[middle]) / 2)
    else:
        typical = DEFAULT_PICKUP_SECONDS
    rounds = ceil(max(1, position) / max(1, agents_online))
    return int(max(30.0, typical) * rounds)


def describe_wait(seconds: float) -> str:
    """'about a minute', 'about 4 minutes', 'about an hour' (for the customer)."""
    minutes = max(1, round(seconds / 60))
    if minutes == 1:
        return "about a minute"
    if minutes < 60:
        return f"about {minutes} minutes"
    hours = round(minutes / 60)
    return "about an hour" if hours == 1 else f"about {hours} hours"
