"""A tracker store whose turns cost the same at message 10 and at message 1,000.

Rasa's `SQLTrackerStore` rebuilds the whole conversation session from its events for every
message, twice (once to answer, once more at save to find what to publish), and the policies
then featurize every one of those events: a turn's cost grows with the conversation (about
3x at turn 300, `benchmarks/load.py`). Yet the policies look back at most a few turns
(`max_history` in config.yml), and forms and rules need only the current slots and loop.

`WindowedSQLTrackerStore` writes exactly what Rasa's store writes (the same `events` table,
every event, in order: the exchange log, its reconciliation and the console read it as
before) and reads back a bounded window. Once a session holds more than twice `window_events`
events, it keeps a snapshot (table `rapport_tracker_snapshots`) of the slots, the active loop
and a pause (a handoff) at a turn boundary about `window_events` events back; a retrieve is
that snapshot, as `SlotSet`, `ActiveLoop` and `ConversationPaused` events marked in their
metadata and dated at the cut, plus the events after it. The cut is at a listen no revert
undid, with at least `MIN_TURNS_AFTER_CUT` customer turns after it, so neither `/back` nor
the policies' `max_history` ever reaches past it. Saving
finds the new events by counting the stored ones after the snapshot, as Rasa counts them
after the session's start, publishes them to the event broker and inserts them.

A windowed tracker lacks the events before its snapshot: an action that reads far back sees
at most about `window_events` events (the handoff packet's transcript, a threat long ago). `retrieve_full_tracker` (Rasa's API, the hub's
transcripts) still reads everything.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, ConversationPaused, Event, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.database import pooled_sqlite

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_EVENTS = 200
MIN_WINDOW_EVENTS = 50
# customer turns that must stay after the cut: more than the policies' max_history (5), and
# more than a revert can reach (`/back` undoes two), so no replay ever looks past the window
MIN_TURNS_AFTER_CUT = 10
SNAPSHOT_KEY = "rapport_snapshot"  # metadata of the events that stand for a snapshot
LISTEN = "action_listen"

_metadata = sa.MetaData()
snapshots = sa.Table(
    "rapport_tracker_snapshots", _metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    # the session the snapshot belongs to (its SessionStarted's timestamp; -1: none)
    sa.Column("session_start", sa.Float, nullable=False),
    sa.Column("after_event_id", sa.Integer, nullable=False),  # the window: events after it
    sa.Column("state", sa.Text, nullable=False),  # JSON: {"slots": {...}, "active_loop": ...}
)


class WindowedSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store, read back as a snapshot plus a bounded window of events."""

    def __init__(self, *args: Any, window_events: int = DEFAULT_WINDOW_EVENTS,
                 **kwargs: Any) -> None:
        try:
            window_events = int(window_events)
        except (TypeError, ValueError):
            raise ValueError(f"tracker_store window_events: a number of events, got "
                             f"{window_events!r}") from None
        if window_events < MIN_WINDOW_EVENTS:
            raise ValueError(f"tracker_store window_events: at least {MIN_WINDOW_EVENTS}, got "
                             f"{window_events}")
        self.window_events = window_events
        super().__init__(*args, **kwargs)
        self.engine = pooled_sqlite(self.engine)  # Rasa opens SQLite anew for every call
        self.sessionmaker = sessionmaker(bind=self.engine)
        _metadata.create_all(self.engine)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            snapshot = self._snapshot(session, sender_id)
            if snapshot is None:
                rows = self._event_query(session, sender_id, False).all()
                prefix: list[dict] = []
            else:
                rows = self._after(session, sender_id, snapshot["after_event_id"]).all()
                prefix = snapshot_events(snapshot["state"], snapshot["after_event_id"])
            events = prefix + [json.loads(row.data) for row in rows]
        if not events or not self.domain:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            after_id = snapshot_after(tracker)
            if after_id is None:
                stored = self._event_query(session, tracker.sender_id, False).count()
                start = stored
            else:
                stored = self._after(session, tracker.sender_id, after_id).count()
                start = leading_snapshot_events(tracker) + stored
            new_events = list(tracker.events)[start:]
            if self.event_broker is not None:
                await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
            for event in new_events:
                session.add(self._row(tracker.sender_id, event))
            session.commit()
            starts_session = any(isinstance(event, SessionStarted) for event in new_events)
            if stored + len(new_events) > 2 * self.window_events and not starts_session:
                self._take_snapshot(session, tracker, after_id, start - stored)

    async def _stream_new_events(self, event_broker: Any, new_events: list[Event],
                                 sender_id: str) -> None:
        """Rasa's, in one transaction where the broker can (`TurnSQLEventBroker`)."""
        publish_many = getattr(event_broker, "publish_many", None)
        if publish_many is None:
            await super()._stream_new_events(event_broker, new_events, sender_id)
            return
        publish_many([{"sender_id": sender_id, **event.as_dict()} for event in new_events])

    def _row(self, sender_id: str, event: Event) -> Any:
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get("name"),
            action_name=data.get("name"), data=json.dumps(data))

    def _after(self, session: Any, sender_id: str, event_id: int) -> Any:
        return self._event_query(session, sender_id, False).filter(self.SQLEvent.id > event_id)

    def _session_start(self, session: Any, sender_id: str) -> float:
        started = session.query(sa.func.max(self.SQLEvent.timestamp)).filter(
            self.SQLEvent.sender_id == sender_id,
            self.SQLEvent.type_name == SessionStarted.type_name).scalar()
        return -1.0 if started is None else float(started)

    def _snapshot(self, session: Any, sender_id: str) -> Optional[dict]:
        """This session's snapshot, if one was taken (a new session starts without)."""
        row = session.execute(sa.select(snapshots).where(
            snapshots.c.sender_id == sender_id)).mappings().first()
        if row is None or row["session_start"] != self._session_start(session, sender_id):
            return None
        return {"after_event_id": row["after_event_id"], "state": json.loads(row["state"])}

    def _take_snapshot(self, session: Any, tracker: DialogueStateTracker,
                       after_id: Optional[int], prefix: int) -> None:
        """Move the window forward, to a listen about `window_events` events back."""
        events = list(tracker.events)
        # the window opens with a listen, as every turn does; the snapshot is the state
        # before it, so it is taken after the event just before the listen
        boundary = turn_boundary(tracker, len(events) - self.window_events, prefix + 1)
        if boundary is None:
            return
        base = self._after(session, tracker.sender_id, after_id) if after_id is not None \
            else self._event_query(session, tracker.sender_id, False)
        event_id = base.with_entities(self.SQLEvent.id).offset(boundary - 1 - prefix).limit(
            1).scalar()
        if event_id is None:
            return
        state = state_at(tracker, events[:boundary], at=events[boundary].timestamp)
        values = {"session_start": self._session_start(session, tracker.sender_id),
                  "after_event_id": int(event_id), "state": json.dumps(state)}
        updated = session.execute(snapshots.update().where(
            snapshots.c.sender_id == tracker.sender_id).values(**values)).rowcount
        if not updated:
            session.execute(snapshots.insert().values(sender_id=tracker.sender_id, **values))
        session.commit()
        logger.debug("tracker %s: window moved to after event %s", tracker.sender_id, event_id)


def turn_boundary(tracker: DialogueStateTracker, wanted: int, earliest: int) -> Optional[int]:
    """The index of the last `action_listen` at or before `wanted` (not inside the prefix)
    that no revert has undone and that has `MIN_TURNS_AFTER_CUT` customer turns after it."""
    events = list(tracker.events)
    applied = {id(event) for event in tracker.applied_events()}
    turns_after = 0
    for index in range(len(events) - 1, earliest - 1, -1):
        event = events[index]
        if id(event) not in applied:
            continue
        if isinstance(event, UserUttered):
            turns_after += 1
        elif (index <= wanted and turns_after >= MIN_TURNS_AFTER_CUT
              and isinstance(event, ActionExecuted) and event.action_name == LISTEN):
            return index
    return None


def state_at(tracker: DialogueStateTracker, events: list[Event], at: float) -> dict[str, Any]:
    """After `events`: the slots that were set, the active loop, whether paused (a handoff),
    and `at`, the time of the cut, for the snapshot's events."""
    replayed = DialogueStateTracker.from_events(tracker.sender_id, events,
                                                list(tracker.slots.values()))
    slots = {name: slot.value for name, slot in replayed.slots.items() if slot.has_been_set}
    return {"slots": slots, "active_loop": replayed.active_loop_name,
            "paused": replayed.is_paused(), "at": at}


def snapshot_events(state: dict[str, Any], after_id: int) -> list[dict]:
    """The snapshot as events a tracker replays: each slot, the active loop, a pause."""
    mark, at = {SNAPSHOT_KEY: after_id}, state.get("at")
    events: list[Event] = [SlotSet(name, value, timestamp=at, metadata=dict(mark))
                           for name, value in state.get("slots", {}).items()]
    events.append(ActiveLoop(state.get("active_loop"), timestamp=at, metadata=dict(mark)))
    if state.get("paused"):
        events.append(ConversationPaused(timestamp=at, metadata=dict(mark)))
    return [event.as_dict() for event in events]


def leading_snapshot_events(tracker: DialogueStateTracker) -> int:
    count = 0
    for event in tracker.events:
        if SNAPSHOT_KEY not in (event.metadata or {}):
            break
        count += 1
    return count


def snapshot_after(tracker: DialogueStateTracker) -> Optional[int]:
    """The event id a windowed tracker starts after, or None for a whole session."""
    first = tracker.events[0] if tracker.events else None
    mark = (first.metadata or {}).get(SNAPSHOT_KEY) if first is not None else None
    return int(mark) if mark is not None else None
