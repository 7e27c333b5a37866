"""The period a dashboard, report or the analyst API covers, read from what a person typed.

`since` and `until` take `7d`, `24h` (before now), an ISO date or an ISO date-time (UTC unless
it says otherwise). A period is [since, until): a time as `until` is exclusive, but a bare date
as `until` takes in that whole day ("--until 2026-11-07" ends at 2026-11-08 00:00), as people
mean it. Every view reads periods here, so the same words mean the same conversations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional

from bot.database import naive
from bot.errors import RapportError

_RELATIVE = re.compile(r"^\s*(\d{1,4})\s*([dh])\s*$")
_BARE_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


class PeriodError(RapportError, ValueError):
    """A period the user gave that cannot be read (a bad --since, until before since…)."""


@dataclass(frozen=True)
class Period:
    """[since, until) in naive UTC, optionally one channel."""

    since: datetime
    until: datetime
    channel: Optional[str] = None

    @classmethod
    def parse(cls, since: Optional[str], until: Optional[str], channel: Optional[str],
              now: datetime, default_since: str = "7d") -> "Period":
        """A period from what a person typed: `7d`, `24h`, `30d` or an ISO date/time."""
        now = naive(now)
        start = parse_moment(since or default_since, now)
        end = parse_moment(until, now, end_of_day=True) if until else now
        if end <= start:
            raise PeriodError(f"the period is empty: until ({end:%Y-%m-%d %H:%M}) is not after "
                              f"since ({start:%Y-%m-%d %H:%M})")
        return cls(start, end, (channel or "").strip() or None)

    def query(self) -> dict[str, str]:
        """The period as URL query parameters (the form `parse` reads back)."""
        values = {"since": self.since.isoformat(timespec="seconds"),
                  "until": self.until.isoformat(timespec="seconds")}
        if self.channel:
            values["channel"] = self.channel
        return values


def parse_moment(value: str, now: datetime, *, end_of_day: bool = False) -> datetime:
    """`7d` / `24h` (before `now`) or an ISO date or date-time (UTC unless it says otherwise).

    With `end_of_day` (an `until`), a bare date means the midnight after it: that day included.
    """
    text = (value or "").strip()
    if end_of_day and _BARE_DATE.match(text):
        return parse_moment(text, now) + timedelta(days=1)
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return naive(now) - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        return naive(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise PeriodError(f"cannot read {value!r} as a time: use 7d, 24h, 30d or a date such "
                          "as 2026-11-01") from None


def days(period: Period) -> list[date]:
    """Every (UTC) day the period touches, so quiet days show as quiet, not as missing."""
    first, last = period.since.date(), (period.until - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
