"""The period a dashboard or report covers, read from what a person typed (`7d`, a date…)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional

from bot.database import naive
from bot.errors import RapportError

_RELATIVE = re.compile(r"^\s*(\d{1,4})\s*([dh])\s*$")


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
        end = parse_moment(until, now) if until else now
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


def parse_moment(value: str, now: datetime) -> datetime:
    """`7d` / `24h` (before `now`) or an ISO date or date-time (UTC unless it says otherwise)."""
    text = (value or "").strip()
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
