"""Per-day rollups of the exchange log, so a 90-day dashboard reads a few hundred rows, not 1M turns.

A *settled* day (UTC, ended an hour ago: `SETTLE`) is added up once, by the first read that needs it,
with the very queries `bot.insight.metrics` runs on the log (`compute`), and kept per
channel in `insight_daily_conversations`, `insight_daily_intents` and
`insight_daily_categories`; `insight_rollup_days` says which days are fresh. A period's
partial days at its edges and today are always read from the log itself, so the
numbers are exactly those of reading the log.

Keeping it true: the exchange log marks the days it writes to stale (`mark_stale`: the day
of each new turn and the start day of each conversation it changes) in the same
transaction as its writes; erasing from the log (`forget_all`) drops every rollup.
Concurrency: a writer marks a day by upserting its row, which it holds locked until it
commits. A builder takes the rows of the days it adds up first (SQLite: `BEGIN IMMEDIATE`,
the database's write lock; PostgreSQL: insert, then `SELECT … FOR UPDATE`, which waits for
any writer holding one), and only then reads the log, so it sees every write that marked
those days; a writer after it marks them stale again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Iterable, Optional

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from bot.insight.period import Period
from bot.insight.tables import daily_categories, daily_conversations, daily_intents, rollup_days

# A day is rolled up once it ended this long ago; writers mark days that end within it from
# now, so a writer's and a reader's clocks may disagree by up to twice this.
SETTLE = timedelta(hours=1)
BUILD_DAYS = 7  # days added up per transaction at most (SQLite: the write lock is held meanwhile)


@dataclass
class DayRows:
    """Rollup rows (dicts with `day` and `channel`) of some days."""

    groups: list[dict[str, Any]] = field(default_factory=list)  # daily_conversations
    intents: list[dict[str, Any]] = field(default_factory=list)  # daily_intents
    categories: list[dict[str, Any]] = field(default_factory=list)  # daily_categories

    def extend(self, other: "DayRows") -> None:
        self.groups += other.groups
        self.intents += other.intents
        self.categories += other.categories

    def only(self, days: set[date]) -> "DayRows":
        return DayRows(*([row for row in rows if row["day"] in days]
                         for rows in (self.groups, self.intents, self.categories)))

    def on(self, channel: Optional[str]) -> "DayRows":
        """The rows of one channel (None: all)."""
        if not channel:
            return self
        return DayRows(*([row for row in rows if row["channel"] == channel]
                         for rows in (self.groups, self.intents, self.categories)))


_TABLES = ((daily_conversations, "groups"), (daily_intents, "intents"),
           (daily_categories, "categories"))
Compute = Callable[[Connection, Period], DayRows]  # the rows of [since, until), whole days


def midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def split(period: Period, now: datetime) -> tuple[list[date], list[Period]]:
    """The period's settled whole days (rolled up), and the rest of it (read from the log)."""
    first = period.since.date()
    if period.since > midnight(first):
        first += timedelta(days=1)
    end = min(period.until.date(), (now - SETTLE).date())
    if first >= end:
        return [], [period]
    edges = []
    if period.since < midnight(first):
        edges.append(Period(period.since, midnight(first), period.channel))
    if midnight(end) < period.until:
        edges.append(Period(midnight(end), period.until, period.channel))
    return [first + timedelta(days=n) for n in range((end - first).days)], edges


def mark_stale(connection: Connection, days: Iterable[date], now: datetime) -> None:
    """For writers, in their transaction: these days' rollups no longer hold.

    Days that end more than `SETTLE` from now are left alone: they are not rolled up yet.
    """
    past = sorted({day for day in days if day < (now + SETTLE).date()})
    if not past:
        return
    connection.execute(_upsert(connection, [{"day": day, "fresh": False} for day in past],
                               stale=True))


def forget_all(connection: Connection) -> None:
    """Drop every rollup (after erasing from the log): the next reads add the days up again."""
    for table in (rollup_days, daily_conversations, daily_intents, daily_categories):
        connection.execute(delete(table))


def read(connection: Connection, days: list[date], compute: Compute,
         channel: Optional[str] = None) -> DayRows:
    """The rollups of `days` (consecutive) on `channel` (None: all), adding up first those
    that are not fresh. Stored intents and categories come summed over the days.

    Adding up runs in its own transaction on a new connection (see the module's docstring);
    its rows are returned as well as stored, since this connection's snapshot may predate them.
    """
    if not days:
        return DayRows()
    fresh = _fresh(connection, days)
    found = _stored(connection, fresh, channel)
    stale = [day for day in days if day not in fresh]
    for start in range(0, len(stale), BUILD_DAYS):
        found.extend(_build(connection.engine, stale[start:start + BUILD_DAYS], compute)
                     .on(channel))
    return found


def _fresh(connection: Connection, days: list[date]) -> set[date]:
    return set(connection.scalars(select(rollup_days.c.day).where(
        rollup_days.c.day >= days[0], rollup_days.c.day <= days[-1],
        rollup_days.c.fresh.is_(True))))


def _stored(connection: Connection, days: set[date], channel: Optional[str]) -> DayRows:
    """The stored rows of `days`: conversations per day and channel; intents and categories
    summed over the days."""
    if not days:
        return DayRows()

    def where(table: Any) -> list[Any]:
        chosen = [table.c.day.in_(sorted(days))]
        return chosen + ([table.c.channel == channel] if channel else [])

    i, k = daily_intents.c, daily_categories.c
    intents = select(i.intent, i.entities, func.sum(i.turns).label("turns")).where(
        *where(daily_intents)).group_by(i.intent, i.entities)
    categories = select(k.product, k.issue_type, func.sum(k.conversations).label(
        "conversations")).where(*where(daily_categories)).group_by(k.product, k.issue_type)
    return DayRows(*([dict(row) for row in connection.execute(query).mappings()] for query in (
        select(daily_conversations).where(*where(daily_conversations)), intents, categories)))


def _build(engine: Engine, days: list[date], compute: Compute) -> DayRows:
    """Add up `days` from the log and store them, holding their rows (see the docstring)."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.execute(_upsert(connection, [{"day": day, "fresh": False} for day in days],
                                   stale=False))
        if connection.dialect.name == "postgresql":
            connection.execute(select(rollup_days.c.day).where(
                rollup_days.c.day.in_(days)).with_for_update())
        done = _fresh(connection, days) & set(days)  # another reader added them up meanwhile
        todo = [day for day in days if day not in done]
        found = _stored(connection, done, None)
        if todo:
            made = compute(connection, Period(midnight(todo[0]),
                                              midnight(todo[-1] + timedelta(days=1))))
            made = made.only(set(todo))
            for table, name in _TABLES:
                connection.execute(delete(table).where(table.c.day.in_(todo)))
                rows = getattr(made, name)
                if rows:
                    connection.execute(insert(table), rows)
            connection.execute(update(rollup_days).where(rollup_days.c.day.in_(todo)).values(
                fresh=True))
            found.extend(made)
        connection.commit()
    return found


def _upsert(connection: Connection, rows: list[dict[str, Any]], *, stale: bool) -> Any:
    """INSERT day rows; on a day already there, mark it stale (`stale`) or leave it."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(rollup_days).values(rows)
    if stale:
        return statement.on_conflict_do_update(index_elements=["day"], set_={"fresh": False})
    return statement.on_conflict_do_nothing(index_elements=["day"])
