"""Voice of the customer on the dashboard: praise and suggestions by product and theme.

The bot recognises praise and suggestions in the conversation itself (intents `praise` and
`suggest`, `actions/voice.py`); here they are grouped by product (the message's `product`
entity) and theme (`bot.conversation.voice.theme_of`, read from the customer's own words),
with a count, a weekly trend and the latest verbatims, redacted as the log stores them.
Feedback is a small share of all turns, so the period's feedback turns are read (newest
first, at most `MAX_TURNS`) and grouped here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Optional

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.conversation.voice import KINDS, theme_of
from bot.insight.period import Period
from bot.insight.tables import turns

MAX_TURNS = 5000
VERBATIMS = 3
ANY_PRODUCT = "any product"


@dataclass
class VoiceGroup:
    kind: str  # praise | suggestion
    product: str
    theme: str
    count: int = 0
    weekly: dict[date, int] = field(default_factory=dict)  # Monday of the week -> messages
    verbatims: list[str] = field(default_factory=list)  # newest first, redacted

    def trend(self, weeks: list[date]) -> list[int]:
        return [self.weekly.get(week, 0) for week in weeks]


def _product(entities: Optional[str]) -> str:
    try:
        found = json.loads(entities or "[]")
    except ValueError:
        return ANY_PRODUCT
    names = [str(e.get("value")) for e in found if isinstance(e, dict)
             and e.get("entity") == "product" and e.get("value")]
    return names[0] if names else ANY_PRODUCT


def _monday(moment: datetime) -> date:
    return (moment - timedelta(days=moment.weekday())).date()


def voice_of_customer(connection: Connection, period: Period) -> list[VoiceGroup]:
    """The period's praise and suggestions per (kind, product, theme), most first."""
    where = [turns.c.role == "customer", turns.c.at >= period.since, turns.c.at < period.until,
             turns.c.intent.in_(tuple(KINDS))]
    if period.channel:
        where.append(turns.c.channel == period.channel)
    rows = connection.execute(select(turns.c.at, turns.c.intent, turns.c.entities, turns.c.text)
                              .where(*where).order_by(turns.c.at.desc()).limit(MAX_TURNS))
    groups: dict[tuple[str, str, str], VoiceGroup] = {}
    for at, intent, entities, text in rows:
        kind, product, theme = KINDS[intent], _product(entities), theme_of(text or "")
        group = groups.setdefault((kind, product, theme), VoiceGroup(kind, product, theme))
        group.count += 1
        week = _monday(at)
        group.weekly[week] = group.weekly.get(week, 0) + 1
        if len(group.verbatims) < VERBATIMS and text:
            group.verbatims.append(text)
    return sorted(groups.values(), key=lambda g: (-g.count, g.kind, g.product, g.theme))


def weeks_of(period: Period) -> list[date]:
    """The Mondays of the weeks the period touches, oldest first."""
    first, last = _monday(period.since), _monday(period.until - timedelta(microseconds=1))
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
