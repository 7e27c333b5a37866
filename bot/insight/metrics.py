"""The dashboard's numbers: KPIs and series over a period, from the exchange log.

All in the database, GROUP BY: the period's conversations are read once, added up per
(day, channel) (`conversation_groups`), and the KPIs per channel and the day series are
folded from those few rows; top intents, voice-of-the-customer themes and complaint
categories are one query each over the turns. A conversation belongs to the period (and
channel) it *started* in; top intents and themes count the customer turns said in the
period, on the turn's own channel. Handoff wait times come from the hub's `handoffs` table
(same database). An accepted remedy is read from the log (a turn by `action_accept_remedy`)
because the CRM may live in another database.

`insight` (the dashboard, the report) reads settled whole days from per-day rollups
(`bot.insight.rollup`), added up by these same queries, and only the rest of the period from
the log: at 1M turns a 90-day dashboard then reads a few hundred rows. Indexes:
`insight_turns(role, at, intent, channel)` and `insight_conversations(started_at, channel)`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Optional

from sqlalchemy import and_, case, func, inspect, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from bot.database import naive_utcnow
from bot.insight import rollup
from bot.insight.period import Period, days
from bot.insight.tables import conversations, rollup_days, turns

ACCEPT_REMEDY_ACTION = "action_accept_remedy"  # actions/complaints.py ActionAcceptRemedy
# What that action says once the remedy is really settled (it also answers when there is no
# offer, or the CRM fails, with other responses): utter_remedy_confirmed_refund, ...
REMEDY_CONFIRMED = "utter_remedy_confirmed_%"
GOOD_CSAT = (4, 5)
VOICE_INTENTS = ("praise", "suggest")  # data/nlu/feedback.yml
TOP_INTENTS = 10


# -- KPIs ---------------------------------------------------------------------------------

def _rate(part: int, whole: int) -> Optional[float]:
    return part / whole if whole else None


@dataclass
class Kpis:
    """The KPIs of one channel (or of all, `channel` None) over a period."""

    channel: Optional[str] = None
    conversations: int = 0
    customer_messages: int = 0
    contained: int = 0
    escalated: int = 0
    abandoned: int = 0
    csat_total: int = 0
    csat_responses: int = 0
    fallbacks: int = 0
    complaints: int = 0
    recovered: int = 0
    sentiment_change_total: float = 0.0
    sentiment_measured: int = 0
    handoffs_claimed: int = 0
    handoff_wait_total_s: float = 0.0

    @property
    def containment_rate(self) -> Optional[float]:
        return _rate(self.contained, self.conversations)

    @property
    def escalation_rate(self) -> Optional[float]:
        return _rate(self.escalated, self.conversations)

    @property
    def abandonment_rate(self) -> Optional[float]:
        return _rate(self.abandoned, self.conversations)

    @property
    def csat_average(self) -> Optional[float]:
        return self.csat_total / self.csat_responses if self.csat_responses else None

    @property
    def fallback_rate(self) -> Optional[float]:
        """Fallback answers per customer message."""
        return _rate(self.fallbacks, self.customer_messages)

    @property
    def service_recovery_rate(self) -> Optional[float]:
        """Complaints ending with an accepted remedy and a CSAT of 4 or 5, per complaint."""
        return _rate(self.recovered, self.complaints)

    @property
    def sentiment_change(self) -> Optional[float]:
        """Average of last minus first sentiment, over conversations that have both."""
        if not self.sentiment_measured:
            return None
        return self.sentiment_change_total / self.sentiment_measured

    @property
    def handoff_wait_s(self) -> Optional[float]:
        """Average seconds from a handoff's creation to an agent claiming it."""
        if not self.handoffs_claimed:
            return None
        return self.handoff_wait_total_s / self.handoffs_claimed

    def add(self, other: "Kpis") -> None:
        """Fold another channel's counts into these (totals over channels)."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_COUNTS = ("conversations", "customer_messages", "contained", "escalated", "abandoned",
           "csat_total", "csat_responses", "fallbacks", "complaints", "recovered",
           "sentiment_change_total", "sentiment_measured", "handoffs_claimed",
           "handoff_wait_total_s")


@dataclass
class KpiReport:
    """The period's KPIs over all channels, and per channel (channel None: unknown)."""

    period: Period
    total: Kpis
    by_channel: list[Kpis] = field(default_factory=list)


def in_period(period: Period) -> list[ColumnElement]:
    """Conversations that started in the period (and on its channel)."""
    where = [conversations.c.started_at >= period.since,
             conversations.c.started_at < period.until]
    if period.channel:
        where.append(conversations.c.channel == period.channel)
    return where


def _count_if(condition: ColumnElement) -> ColumnElement:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _count_if_then(cheap: ColumnElement, costly: ColumnElement) -> ColumnElement:
    """Rows where both hold; `costly` (a lookup) is evaluated only where `cheap` holds."""
    return func.coalesce(func.sum(case((cheap, case((costly, 1), else_=0)), else_=0)), 0)


def _accepted_remedy() -> ColumnElement:
    # A LIMIT 1 lookup rather than EXISTS: PostgreSQL may hash an EXISTS over every turn;
    # this one uses the conversation_id index, and only for rated complaints (see below).
    return select(literal(1)).where(
        turns.c.conversation_id == conversations.c.conversation_id,
        turns.c.action == ACCEPT_REMEDY_ACTION,
        turns.c.response.like(REMEDY_CONFIRMED)).limit(1).scalar_subquery().isnot(None)


def recovered_condition() -> ColumnElement:
    """A complaint (case) that ended with an accepted remedy and a CSAT of 4 or 5."""
    return and_(conversations.c.case_id.isnot(None), conversations.c.csat.in_(GOOD_CSAT),
                _accepted_remedy())


def _sums() -> dict[str, ColumnElement]:
    """What is added up per (day, channel): every conversation-level KPI and trend."""
    c = conversations.c
    # a change needs two measured turns: one turn's "change" of 0 would dilute the average
    change = case((c.customer_turns >= 2, c.last_sentiment - c.first_sentiment))

    def total(value: ColumnElement) -> ColumnElement:
        return func.coalesce(func.sum(value), 0)

    return {"conversations": func.count(), "customer_messages": total(c.customer_turns),
            "contained": _count_if(c.outcome == "contained"),
            "escalated": _count_if(c.outcome == "escalated"),
            "abandoned": _count_if(c.outcome == "abandoned"),
            "csat_total": total(c.csat), "csat_responses": func.count(c.csat),
            "fallbacks": total(c.fallbacks), "complaints": _count_if(c.case_id.isnot(None)),
            "recovered": _count_if_then(and_(c.case_id.isnot(None), c.csat.in_(GOOD_CSAT)),
                                        _accepted_remedy()),
            "sentiment_change_total": total(change), "sentiment_measured": func.count(change),
            "first_total": total(c.first_sentiment), "first_measured": func.count(c.first_sentiment),
            "last_total": total(c.last_sentiment), "last_measured": func.count(c.last_sentiment)}


def conversation_groups(connection: Connection, period: Period) -> list[dict[str, Any]]:
    """The period's conversations added up per (day, channel): one scan, few rows back."""
    day = func.date(conversations.c.started_at)
    sums = _sums()
    query = (select(day.label("day"), conversations.c.channel, *[v.label(k) for k, v in sums.items()])
             .where(*in_period(period)).group_by(day, conversations.c.channel))
    return _in_order([{**row._mapping, "day": _day(row.day)} for row in connection.execute(query)])


def _in_order(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups by day, then channel (unknown first): folding their float sums in one order
    gives the same totals to the last bit however the groups were read."""
    return sorted(groups, key=lambda g: (g["day"], g["channel"] is not None, g["channel"] or ""))


def kpis(connection: Connection, period: Period,
         groups: Optional[list[dict[str, Any]]] = None) -> KpiReport:
    """Every KPI of the period, per channel and in total (`groups`: when already read)."""
    channels: dict[Optional[str], Kpis] = {}
    for group in conversation_groups(connection, period) if groups is None else groups:
        kpi = channels.setdefault(group["channel"], Kpis(group["channel"]))
        for name in _COUNTS[:-2]:  # the handoff counts come from the handoffs table
            setattr(kpi, name, getattr(kpi, name) + group[name])
    for channel, claimed, wait in _handoff_waits(connection, period):
        kpi = channels.setdefault(channel, Kpis(channel))
        kpi.handoffs_claimed, kpi.handoff_wait_total_s = int(claimed), float(wait or 0.0)
    total = Kpis(period.channel)
    for kpi in channels.values():
        total.add(kpi)
    ordered = sorted(channels.values(), key=lambda k: (-k.conversations, k.channel or ""))
    return KpiReport(period, total, ordered)


def _seconds_between(connection: Connection, later: Any, earlier: Any) -> ColumnElement:
    if connection.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _handoff_waits(connection: Connection, period: Period) -> Iterable[tuple]:
    """(channel, claimed handoffs, total seconds waited) for handoffs created in the period."""
    if not inspect(connection).has_table("handoffs"):
        return []
    from bot.handoff.tables import handoffs

    h = handoffs.c
    where = [h.created_at >= period.since, h.created_at < period.until, h.assigned_at.isnot(None)]
    if period.channel:
        where.append(h.channel == period.channel)
    waited = _seconds_between(connection, h.assigned_at, h.created_at)
    return list(connection.execute(select(h.channel, func.count(), func.sum(waited))
                                   .where(*where).group_by(h.channel)))


# -- series -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DayVolume:
    day: date
    conversations: int
    customer_messages: int


@dataclass(frozen=True)
class DayTrend:
    """A day's mood: average first and last sentiment, and CSAT, of conversations started then."""

    day: date
    first_sentiment: Optional[float]
    last_sentiment: Optional[float]
    csat_average: Optional[float]
    csat_responses: int


@dataclass(frozen=True)
class Count:
    label: str
    count: int


@dataclass(frozen=True)
class Category:
    """Complaint conversations about one product and kind of issue."""

    product: str
    issue_type: str
    count: int


@dataclass(frozen=True)
class Theme:
    """Praise or suggestions (`kind`, the intent) about one product."""

    kind: str
    product: str
    count: int


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _by_day(period: Period, groups: list[dict[str, Any]]) -> dict[date, dict[str, float]]:
    found: dict[date, dict[str, float]] = {d: {} for d in days(period)}
    for group in groups:
        sums = found.setdefault(group["day"], {})
        for name, value in group.items():
            if name not in ("day", "channel"):
                sums[name] = sums.get(name, 0) + value
    return found


def daily_volume(connection: Connection, period: Period,
                 groups: Optional[list[dict[str, Any]]] = None) -> list[DayVolume]:
    """Conversations started, and their customer messages, on each day of the period."""
    found = _by_day(period, conversation_groups(connection, period) if groups is None else groups)
    return [DayVolume(d, int(s.get("conversations", 0)), int(s.get("customer_messages", 0)))
            for d, s in sorted(found.items())]


def daily_trends(connection: Connection, period: Period,
                 groups: Optional[list[dict[str, Any]]] = None) -> list[DayTrend]:
    """Average sentiment (first and last turn) and CSAT on each day (None: nothing measured)."""
    found = _by_day(period, conversation_groups(connection, period) if groups is None else groups)

    def mean(sums: dict[str, float], name: str, measured: str) -> Optional[float]:
        return sums[name] / sums[measured] if sums.get(measured) else None

    return [DayTrend(d, mean(s, "first_total", "first_measured"),
                     mean(s, "last_total", "last_measured"),
                     mean(s, "csat_total", "csat_responses"), int(s.get("csat_responses", 0)))
            for d, s in sorted(found.items())]


def _float(value: Any) -> Optional[float]:
    return None if value is None else float(value)


def _turns_in(period: Period, role: str) -> list[ColumnElement]:
    """Turns by `role` said in the period (on its channel): index (role, at, intent, channel)."""
    where = [turns.c.role == role, turns.c.at >= period.since, turns.c.at < period.until]
    if period.channel:
        where.append(turns.c.channel == period.channel)
    return where


def _intent_rows(connection: Connection, period: Period) -> list[dict[str, Any]]:
    """Customer turns of the period per day, turn channel and intent; for VOICE_INTENTS
    also per entity list (the others' `entities` is None)."""
    day = func.date(turns.c.at).label("day")
    counted = func.count().label("turns")
    said = [*_turns_in(period, "customer"), turns.c.intent.isnot(None)]
    plain = (select(day, turns.c.channel, turns.c.intent, counted)
             .where(*said, turns.c.intent.not_in(VOICE_INTENTS))
             .group_by(day, turns.c.channel, turns.c.intent))
    voice = (select(day, turns.c.channel, turns.c.intent, turns.c.entities, counted)
             .where(*said, turns.c.intent.in_(VOICE_INTENTS))
             .group_by(day, turns.c.channel, turns.c.intent, turns.c.entities))
    rows = [{**row._mapping, "entities": None} for row in connection.execute(plain)]
    rows += [dict(row._mapping) for row in connection.execute(voice)]
    return [{**row, "day": _day(row["day"])} for row in rows]


def _top(rows: Iterable[dict[str, Any]], limit: int = TOP_INTENTS) -> list[Count]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["intent"]] = counts.get(row["intent"], 0) + int(row["turns"])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [Count(intent, n) for intent, n in ranked]


def top_intents(connection: Connection, period: Period, limit: int = TOP_INTENTS) -> list[Count]:
    """The intents customers' messages in the period were read as, most frequent first."""
    counted = func.count().label("n")
    query = (select(turns.c.intent, counted)
             .where(*_turns_in(period, "customer"), turns.c.intent.isnot(None))
             .group_by(turns.c.intent).order_by(counted.desc(), turns.c.intent).limit(limit))
    return [Count(intent, int(n)) for intent, n in connection.execute(query)]


def _entity_values(raw: Optional[str], name: str) -> list[str]:
    """The values of entity `name` in a turn's JSON entity list (malformed JSON: none)."""
    try:
        entities = json.loads(raw or "[]")
    except ValueError:
        return []
    if not isinstance(entities, list):
        return []
    return [str(item["value"]) for item in entities
            if isinstance(item, dict) and item.get("entity") == name and item.get("value")]


def _complaints(connection: Connection, period: Period
                ) -> dict[str, tuple[date, Optional[str], list[str]]]:
    """Each complaint conversation of the period: its start day, channel, and the distinct
    entity JSON of its customer turns."""
    day = func.date(conversations.c.started_at)
    c = conversations.c
    query = (select(c.conversation_id, day, c.channel, turns.c.entities)
             .select_from(conversations.outerjoin(turns, and_(
                 turns.c.conversation_id == c.conversation_id,
                 turns.c.role == "customer", turns.c.entities.like('%"entity"%'))))
             .where(*in_period(period), c.case_id.isnot(None))
             .group_by(c.conversation_id, day, c.channel, turns.c.entities))
    found: dict[str, tuple[date, Optional[str], list[str]]] = {}
    for conversation_id, started, channel, raw in connection.execute(query):
        found.setdefault(conversation_id, (_day(started), channel, []))[2].extend(
            [raw] if raw else [])
    return found


def _category(raws: list[str]) -> tuple[str, str]:
    """(product, issue type) of a complaint from its turns' entities ("unknown" if none)."""
    products = sorted({v for raw in raws for v in _entity_values(raw, "product")})
    issues = sorted({v for raw in raws for v in _entity_values(raw, "issue_type")})
    return products[0] if products else "unknown", issues[0] if issues else "unknown"


def _category_rows(connection: Connection, period: Period) -> list[dict[str, Any]]:
    """Complaint conversations per start day, channel, product and issue type."""
    counts: dict[tuple[date, Optional[str], str, str], int] = {}
    for started, channel, raws in _complaints(connection, period).values():
        key = (started, channel, *_category(raws))
        counts[key] = counts.get(key, 0) + 1
    return [{"day": d, "channel": ch, "product": p, "issue_type": i, "conversations": n}
            for (d, ch, p, i), n in counts.items()]


def _categories(rows: Iterable[dict[str, Any]]) -> list[Category]:
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["product"], row["issue_type"])
        counts[key] = counts.get(key, 0) + int(row["conversations"])
    return [Category(p, i, n) for (p, i), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def complaint_categories(connection: Connection, period: Period) -> list[Category]:
    """Complaint conversations (with a case) of the period per product and issue type, most first.

    The product and issue type come from the entities of the conversation's customer turns;
    either is "unknown" when no turn named one. Only complaint conversations' turns are read.
    """
    return _categories(_category_rows(connection, period))


def _themes(rows: Iterable[dict[str, Any]]) -> list[Theme]:
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        if row["intent"] in VOICE_INTENTS:
            key = (row["intent"], (_entity_values(row["entities"], "product") or ["any product"])[0])
            counts[key] = counts.get(key, 0) + int(row["turns"])
    return [Theme(k, p, n) for (k, p), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def voice_themes(connection: Connection, period: Period) -> list[Theme]:
    """Praise and suggestions per product (from the messages' `product` entities), most first."""
    counted = func.count().label("turns")
    query = (select(turns.c.intent, turns.c.entities, counted)
             .where(*_turns_in(period, "customer"), turns.c.intent.in_(VOICE_INTENTS))
             .group_by(turns.c.intent, turns.c.entities))
    return _themes(dict(row._mapping) for row in connection.execute(query))


@dataclass
class Insight:
    """Everything the dashboard and the report show for one period."""

    kpis: KpiReport
    volume: list[DayVolume]
    trends: list[DayTrend]
    intents: list[Count]
    categories: list[Category]
    themes: list[Theme]


def without_jit(connection: Connection) -> None:
    """PostgreSQL only: no JIT for this transaction's reads. Its cost estimates for these
    aggregates pass the JIT threshold, and compiling takes longer (0.3 s) than running."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL jit = off")


def day_rows(connection: Connection, period: Period) -> rollup.DayRows:
    """What `bot.insight.rollup` keeps of whole days: the rows the dashboard adds up."""
    without_jit(connection)
    return rollup.DayRows(conversation_groups(connection, period),
                          _intent_rows(connection, period), _category_rows(connection, period))


def insight(connection: Connection, period: Period) -> Insight:
    """All the period's KPIs and series, in one call (one read transaction).

    Settled whole days come from the per-day rollups (`bot.insight.rollup`, added up by the
    same queries), the rest of the period from the log itself.
    """
    without_jit(connection)
    if not inspect(connection).has_table(conversations.name):  # nothing logged yet
        return Insight(KpiReport(period, Kpis(period.channel)), [], [], [], [], [])
    whole_days, rest = [], [period]
    if inspect(connection).has_table(rollup_days.name):
        whole_days, rest = rollup.split(period, naive_utcnow())
    found = rollup.read(connection, whole_days, day_rows, period.channel)
    for part in rest:  # each on the period's channel
        found.extend(day_rows(connection, part))
    groups, intents, categories = _in_order(found.groups), found.intents, found.categories
    return Insight(kpis(connection, period, groups), daily_volume(connection, period, groups),
                   daily_trends(connection, period, groups), _top(intents),
                   _categories(categories), _themes(intents))
