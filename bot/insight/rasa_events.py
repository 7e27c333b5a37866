"""Rasa's own event tables, for the privacy commands: the tracker store and the SQL broker.

Both are SQLite files in the embedded profile (settings.tracker_db, settings.events_db), each
with a table `events` that Rasa creates, so the tables are reflected rather than redefined:
- tracker store (`rasa.core.tracker_store.SQLTrackerStore.SQLEvent`): id, sender_id,
  type_name, timestamp (Unix seconds), intent_name, action_name, data (the event's JSON);
- event broker (`rasa.core.brokers.sql.SQLEventBroker.SQLBrokerEvent`): id, sender_id, data
  (the event's JSON, whose "timestamp" says when it happened).
A file or table that does not exist yet holds nothing: every call then answers 0 or [].

The broker's table is tailed by id (the exchange log's consumer, the console's feed), and
SQLite gives a new row the largest id plus one, so deleting the newest row would hand its id
to the next event, which readers past that id would then never see. A `tailed` table
therefore keeps its newest row: purging leaves it, and erasing overwrites it with a
placeholder event (`ERASED_SENDER`, type "erased") that readers ignore.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Optional

from sqlalchemy import MetaData, Table, delete, func, inspect, select, update
from sqlalchemy.engine import Engine

from bot.database import make_engine, naive

EVENTS_TABLE = "events"
# bot/dialogue/tracker_window.py: a snapshot of each long conversation's slots, beside events
SNAPSHOTS_TABLE = "rapport_tracker_snapshots"
CUSTOMER_SLOT = "customer_id"
ERASED_SENDER = "erased"


def unix_seconds(moment: datetime) -> float:
    """A (naive UTC or aware) time as the Unix seconds Rasa stores."""
    return (naive(moment) - datetime(1970, 1, 1)).total_seconds()


@dataclass
class RasaEventTable:
    """One of Rasa's `events` tables (tracker store or broker), or nothing if absent."""

    label: str
    engine: Optional[Engine]
    tailed: bool = False  # read by id from a position: keep the newest row (see above)

    @classmethod
    def open(cls, label: str, sqlite_path: str, *, tailed: bool = False) -> "RasaEventTable":
        """The table in a SQLite file; a missing file is not created (it holds nothing)."""
        path = Path(sqlite_path)
        return cls(label, make_engine(f"sqlite:///{path}") if path.is_file() else None, tailed)

    def _table(self, name: str = EVENTS_TABLE) -> Optional[Table]:
        if self.engine is None or not inspect(self.engine).has_table(name):
            return None
        return Table(name, MetaData(), autoload_with=self.engine)

    def events_of(self, sender_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Each conversation's events (parsed JSON), in the order Rasa stored them."""
        table, wanted = self._table(), sorted(set(sender_ids))
        found: dict[str, list[dict[str, Any]]] = {sender: [] for sender in wanted}
        if table is None or not wanted:
            return found
        query = (select(table.c.sender_id, table.c.data)
                 .where(table.c.sender_id.in_(wanted)).order_by(table.c.id))
        with self.engine.connect() as connection:
            for sender_id, data in connection.execute(query):
                found[sender_id].append(_parsed(data))
        return found

    def delete_conversations(self, sender_ids: Iterable[str]) -> int:
        """Delete every event of these conversations; the number deleted."""
        table, wanted = self._table(), sorted(set(sender_ids))
        if table is None or not wanted:
            return 0
        theirs = table.c.sender_id.in_(wanted)
        snapshots = self._table(SNAPSHOTS_TABLE)
        with self.engine.begin() as connection:
            if snapshots is not None:  # they hold the conversations' slot values too
                connection.execute(delete(snapshots).where(snapshots.c.sender_id.in_(wanted)))
            if not self.tailed:
                return connection.execute(delete(table).where(theirs)).rowcount
            newest = connection.scalar(select(func.max(table.c.id)))
            deleted = connection.execute(delete(table).where(theirs, table.c.id < newest)).rowcount
            last = connection.execute(select(table.c.data).where(table.c.id == newest,
                                                                 theirs)).first()
            if last is not None:
                placeholder = {"event": "erased", "timestamp": _parsed(last.data).get("timestamp")}
                connection.execute(update(table).where(table.c.id == newest).values(
                    sender_id=ERASED_SENDER, data=json.dumps(placeholder)))
                deleted += 1
            return deleted

    def delete_older_than(self, cutoff: datetime) -> int:
        """Delete events that happened before `cutoff`; the number deleted."""
        table = self._table()
        if table is None:
            return 0
        if "timestamp" in table.c:  # the tracker store has its own column
            moment = table.c.timestamp
        else:  # the broker keeps it only in the JSON (SQLite's json_extract)
            moment = func.json_extract(table.c.data, "$.timestamp")
        old = moment < unix_seconds(cutoff)
        snapshots = self._table(SNAPSHOTS_TABLE)
        with self.engine.begin() as connection:
            if self.tailed:
                old = old & (table.c.id < select(func.max(table.c.id)).scalar_subquery())
            deleted = connection.execute(delete(table).where(old)).rowcount
            if snapshots is not None:  # a snapshot goes with the event it was taken after
                kept = select(table.c.id).where(table.c.id == snapshots.c.after_event_id)
                connection.execute(delete(snapshots).where(~kept.exists()))
            return deleted

    def senders_verified_as(self, customer_id: str) -> set[str]:
        """Conversations in which the slot `customer_id` was set to this customer."""
        table = self._table()
        if table is None or "type_name" not in table.c:
            return set()
        query = select(table.c.sender_id, table.c.data).where(
            table.c.type_name == "slot", table.c.data.contains(customer_id, autoescape=True))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {sender for sender, data in rows
                if (event := _parsed(data)).get("name") == CUSTOMER_SLOT
                and event.get("value") == customer_id}

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _parsed(data: Optional[str]) -> dict[str, Any]:
    """An event's JSON; a row that is not JSON is kept visible rather than dropped."""
    try:
        event = json.loads(data or "{}")
    except ValueError:
        return {"unparsed": data}
    return event if isinstance(event, dict) else {"unparsed": data}
