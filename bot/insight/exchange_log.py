"""The exchange log: Rasa's events, as a broker publishes them, become turns and conversations.

`ExchangeLog.record(sender_id, event)` reads one event (a dict, or its JSON text or bytes;
checked by `bot.insight.broker_events.read_event`):

- `user` → a customer turn (intent, confidence, entities, sentiment, language, channel);
  messages the hub triggers (`EXTERNAL_…` intents) are not the customer's and are skipped;
- `bot` → a bot turn, with the action that produced it (the conversation's latest `action`
  event) and the ms since the customer turn it answers; a `bot` event whose metadata names
  an agent (`bot.handoff.transcript.agent_name_of`) is an agent turn;
- `slot` customer_id, case_id, handoff_id and rating → the conversation row (rating → csat);
- `action`, `restart`, `resume`, `session_started` → the conversation's state and outcome.

Outcome, kept current: "contained" until the bot hands over; "escalated" once action_handoff
runs or a handoff_id is set; "abandoned" when the customer restarts while a handoff is open
(from a handoff_id being set until it is cleared or the conversation resumed). A later
handoff in the same conversation makes it "escalated" again.

Idempotent: a turn is keyed by `event_key`, and the conversation's counters move only in the
transaction whose turn insert succeeded, so a replayed event changes nothing. Slot and
outcome updates are assignments, so replaying events in order ends where it started.

Per-conversation state (latest action, the customer turn being answered, whether a handoff
is open) lives in a bounded in-memory map, updated only when a transaction commits. A
conversation not in the map is rebuilt from the table: its last customer turn; no action
and no open handoff (the SQL consumer re-reads a few hundred events on start to cover this).

Each batch also marks the past days it changed stale in the dashboard's per-day rollups
(`bot.insight.rollup.mark_stale`), in the same transaction.

Text is redacted (`bot.insight.redaction`) before it is written. An event that cannot be
read goes to `insight_set_aside` with the reason: `record` never raises for bad input
(only `StoreUnavailable` when the database itself fails).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from datetime import date, datetime
from typing import Any, Callable, Iterator, Optional, Sequence

from sqlalchemy import DateTime, Integer, bindparam, case, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from bot.database import ThreadedStore, make_engine, naive_utcnow
from bot.handoff.transcript import agent_name_of, is_external, sentiment_of
from bot.insight import rollup, tables
from bot.insight.broker_events import (
    RAW_CHARS, Malformed, clean, entities_json, finite, language_of, rating_of, raw_text,
    read_event, redacted, str_or_none,
)
from bot.insight.redaction import redact
from bot.insight.tables import conversations, event_key, positions, set_aside, turns

log = logging.getLogger(__name__)

ESCALATION_ACTIONS = frozenset({"action_handoff"})
# What the bot says when it hands over, whichever action did it (a declined remedy hands over
# from action_decline_remedy; with nobody online the handoff becomes a callback and no
# handoff_id stays set): the conversation went to a person.
ESCALATION_RESPONSES = frozenset({"utter_handoff_started", "utter_handoff_no_agent_case",
                                  "utter_handoff_no_agent_chat"})
FALLBACK_ACTIONS = frozenset({"action_default_fallback"})
FALLBACK_RESPONSES = frozenset({"utter_default"})
FALLBACK_INTENTS = frozenset({"nlu_fallback"})
TRACKED_SLOTS = ("customer_id", "case_id", "handoff_id")
STATES_KEPT = 10_000  # conversations whose state stays in memory
_MAX_LATENCY_MS = 2**31 - 1
# Errors that mean the database is unreachable, not that it refused this event.
_UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError)


@dataclass
class _State:
    """What the log needs to remember about a conversation between its events."""

    last_action: Optional[str] = None
    customer_at: Optional[datetime] = None  # the customer turn bot turns now answer
    channel: Optional[str] = None
    fallback_counted: bool = True  # the current customer turn already counted as a fallback
    handoff_open: bool = False


class ExchangeLog(ThreadedStore):
    """Records Rasa events as turns and conversation summaries in the hub database."""

    metadata = tables.metadata
    label = "exchange log"

    def __init__(self, engine: Engine, *, dispose_engine: bool = False) -> None:
        super().__init__(engine, dispose_engine=dispose_engine)
        self._states: OrderedDict[str, _State] = OrderedDict()
        self._states_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> "ExchangeLog":
        return cls(make_engine(url), dispose_engine=True)

    def create_schema(self) -> None:
        """The missing tables, and the indexes added since an older database was made."""
        tables.create_insight_tables(self.engine)

    def twin(self) -> "ExchangeLog":
        """Another log on this engine with its own conversation states, for a second feed
        (the reconciler); it makes the tables under the same lock, never at the same time."""
        other = ExchangeLog(self.engine)
        other._tables_lock = self._tables_lock
        return other

    async def record(self, sender_id: Any, event: Any, source: str = "sql") -> bool:
        """Record one event; True if the log changed (False: replayed, ignored or set aside)."""
        return await self.call(self.record_many_sync, [(sender_id, event)], source) == 1

    async def record_many(self, events: Sequence[tuple[Any, Any]], source: str = "sql",
                          position: Optional[tuple[str, int]] = None) -> int:
        """Record (sender id, event) pairs in order and, in the same transaction, a consumer's
        new position (name, position); how many changed the log."""
        return await self.call(self.record_many_sync, events, source, position)

    def record_many_sync(self, events: Sequence[tuple[Any, Any]], source: str = "sql",
                         position: Optional[tuple[str, int]] = None) -> int:
        """`record_many` for code already in a worker thread."""
        try:
            return self._commit(lambda unit: unit.record_all(events, source, position))
        except _UNREACHABLE:
            raise
        except Exception as error:  # noqa: BLE001 (one bad event must not stop the log)
            # The database refused something in the batch (or an event broke the reading):
            # the batch rolled back; one transaction per event sets aside only that one.
            log.warning("exchange log: batch failed (%s); recording one by one",
                        type(error).__name__)
        changed = 0
        for sender_id, event in events:
            changed += self._record_alone(sender_id, event, source)
        if position is not None:
            self._commit(lambda unit: unit.advance(*position))
        return changed

    async def set_aside(self, source: str, sender_id: Any, event: Any, reason: str) -> None:
        """Keep an event a feed could not even hand over (say, a message that is not JSON)."""
        await self.call(self._commit, lambda unit: unit.set_aside(source, sender_id, event, reason))

    async def position(self, name: str) -> int:
        """Where the consumer `name` got to (0 before its first batch)."""
        def work() -> int:
            with self.engine.connect() as connection:
                stored = connection.execute(select(positions.c.position).where(
                    positions.c.name == name)).scalar()
            return int(stored or 0)

        return await self.call(work)

    def _record_alone(self, sender_id: Any, event: Any, source: str) -> int:
        try:
            return self._commit(lambda unit: unit.record_all([(sender_id, event)], source))
        except _UNREACHABLE:
            raise
        except DBAPIError as error:
            reason = f"the database refused it ({type(error).__name__})"
        except Exception as error:  # noqa: BLE001 (a bug: say so, set the event aside)
            log.exception("exchange log: an event of %r could not be recorded", sender_id)
            reason = f"could not be recorded ({type(error).__name__})"
        self._commit(lambda unit: unit.set_aside(source, sender_id, event, reason))
        return 0

    def _commit(self, work: Callable[["_Unit"], int]) -> int:
        """Run `work` in one transaction; the states it changed are kept only if it commits."""
        with self.engine.begin() as connection:
            unit = _Unit(connection, self._state_of)
            result = work(unit)
        with self._states_lock:
            for conversation_id, state in unit.states.items():
                self._states[conversation_id] = state
                self._states.move_to_end(conversation_id)
            while len(self._states) > STATES_KEPT:
                self._states.popitem(last=False)
        return result

    def _state_of(self, connection: Connection, conversation_id: str) -> _State:
        with self._states_lock:
            known = self._states.get(conversation_id)
        if known is not None:
            return replace(known)
        last_customer = connection.execute(select(func.max(turns.c.at)).where(
            turns.c.conversation_id == conversation_id, turns.c.role == "customer")).scalar()
        channel = connection.execute(select(conversations.c.channel).where(
            conversations.c.conversation_id == conversation_id)).scalar()
        return _State(customer_at=last_customer, channel=channel)


class _Unit:
    """One transaction's work: its connection, the states of the conversations it touched,
    and the rows it will write.

    Events are applied in memory against a snapshot read once per batch (which turns exist
    already, the conversations' rows); `flush` then writes the new turns with one INSERT and
    the conversations with one INSERT and one UPDATE per shape of change. Building a
    statement per event cost twenty times what the database did.
    """

    def __init__(self, connection: Connection,
                 load: Callable[[Connection, str], _State]) -> None:
        self.connection = connection
        self.states: dict[str, _State] = {}
        self._load = load
        self._known_keys: set[tuple[str, str]] = set()  # turns in the table or this batch
        self._rows: dict[str, Optional[dict[str, Any]]] = {}  # conversation rows as they stand
        self._changes: dict[str, _Change] = {}
        self._new_turns: list[dict[str, Any]] = []

    def state(self, conversation_id: str) -> _State:
        if conversation_id not in self.states:
            self.states[conversation_id] = self._load(self.connection, conversation_id)
        return self.states[conversation_id]

    def record_all(self, events: Sequence[tuple[Any, Any]], source: str,
                   position: Optional[tuple[str, int]] = None) -> int:
        readable = []
        for sender_id, event in events:
            try:
                readable.append((sender_id, *read_event(sender_id, event)))
            except Malformed as problem:
                self.set_aside(source, sender_id, event, str(problem))
        self.read_snapshot([(sender, event) for _, sender, event, _ in readable])
        changed = 0
        for sender_id, sender, event, at in readable:
            try:
                changed += self.apply(sender, event, at)
            except Malformed as problem:
                self.set_aside(source, sender_id, event, str(problem))
        self.flush()
        if position is not None:
            self.advance(*position)
        return changed

    # -- the snapshot, and writing it back ---------------------------------------------

    def read_snapshot(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Which of these events' turns exist, and their conversations' rows: a few queries."""
        keys: dict[str, set[str]] = {}
        for sender, event in events:
            keys.setdefault(sender, set()).add(event_key(sender, event))
        senders = sorted(set(keys) - set(self._rows))
        for chunk in _chunks(senders):
            for row in self.connection.execute(select(conversations).where(
                    conversations.c.conversation_id.in_(chunk))).mappings():
                self._rows[row["conversation_id"]] = dict(row)
        for sender in senders:
            self._rows.setdefault(sender, None)
        for sender, wanted in keys.items():  # by (conversation, key): the unique index's order
            for chunk in _chunks(sorted(wanted)):
                self._known_keys.update(tuple(row) for row in self.connection.execute(
                    select(turns.c.conversation_id, turns.c.event_key).where(
                        turns.c.conversation_id == sender, turns.c.event_key.in_(chunk))))

    def flush(self) -> None:
        rollup.mark_stale(self.connection, self._touched_days(), naive_utcnow())
        if self._new_turns:
            self.connection.execute(insert(turns), [
                {column: row.get(column) for column in _TURN_COLUMNS}
                for row in self._new_turns])
        created = [self._rows[sender] for sender, change in self._changes.items()
                   if change.created]
        if created:
            self.connection.execute(insert(conversations), created)
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for sender, change in self._changes.items():
            if not change.created and change.start is not None:
                by_shape.setdefault(tuple(sorted(change.assigned)), []).append(
                    change.parameters(sender, self._rows[sender]))
        for assigned, parameters in by_shape.items():
            self.connection.execute(_conversation_update(assigned), parameters)
        self._new_turns, self._changes = [], {}

    def _touched_days(self) -> set[date]:
        """Days whose rollups this batch changes: each new turn's, each changed
        conversation's start day (and the one it started on before, if it moved)."""
        touched = {turn["at"].date() for turn in self._new_turns}
        for sender, change in self._changes.items():
            touched.add(self._rows[sender]["started_at"].date())
            if change.started_before is not None:
                touched.add(change.started_before.date())
        return touched

    # -- conversations, in memory ------------------------------------------------------

    def conversation(self, sender: str, at: datetime) -> tuple[dict[str, Any], "_Change", bool]:
        """The conversation's row (made if missing), its pending change, and if just made."""
        if sender not in self._rows:
            row = self.connection.execute(select(conversations).where(
                conversations.c.conversation_id == sender)).mappings().first()
            self._rows[sender] = dict(row) if row is not None else None
        change = self._changes.setdefault(sender, _Change())
        row = self._rows[sender]
        if row is None:
            row = self._rows[sender] = {
                "conversation_id": sender, "channel": None, "language": None,
                "started_at": at, "last_at": at, "customer_turns": 0, "bot_turns": 0,
                "customer_id": None, "case_id": None, "handoff_id": None,
                "outcome": "contained", "csat": None, "first_sentiment": None,
                "last_sentiment": None, "fallbacks": 0}
            change.created = True
            return row, change, True
        return row, change, False

    def advance(self, name: str, position: int) -> int:
        """Store a consumer's position (never moving it back)."""
        if not _insert_new(self.connection, positions, {"name": name, "position": position},
                           ["name"]):
            self.connection.execute(update(positions).where(
                positions.c.name == name, positions.c.position < position).values(
                position=position))
        return 0

    def set_aside(self, source: str, sender_id: Any, event: Any, reason: str) -> int:
        conversation_id = clean(sender_id, 128) if isinstance(sender_id, str) else None
        raw = clean(redact(clean(raw_text(event), 20 * RAW_CHARS)), RAW_CHARS)
        values = {"source": source[:32], "conversation_id": conversation_id, "raw": raw,
                  "reason": clean(reason, 200)}
        seen = self.connection.execute(select(set_aside.c.id).where(
            set_aside.c.source == values["source"], set_aside.c.reason == values["reason"],
            set_aside.c.conversation_id.is_not_distinct_from(conversation_id),
            set_aside.c.raw == raw).limit(1)).first()
        if seen is None:
            self.connection.execute(insert(set_aside).values(**values, at=naive_utcnow()))
            log.info("exchange log: set aside an event of %s: %s", conversation_id, reason)
        return 0

    # -- events ------------------------------------------------------------------------

    def apply(self, sender: str, event: dict[str, Any], at: datetime) -> int:
        kind = event["event"]
        state = self.state(sender)
        if kind == "user":
            return self.customer_turn(sender, event, at, state)
        if kind == "bot":
            return self.bot_turn(sender, event, at, state)
        if kind == "action":
            state.last_action = None if event["name"] == "action_listen" else event["name"]
            if event["name"] in ESCALATION_ACTIONS:
                return self.outcome(sender, at, "escalated")
            return 0
        if kind == "slot":
            return self.slot(sender, event, at, state)
        if kind in ("restart", "session_started"):
            state.last_action, state.customer_at = None, None
            if kind == "restart" and state.handoff_open:
                state.handoff_open = False
                return self.outcome(sender, at, "abandoned")
        elif kind == "resume":
            state.handoff_open = False
        return 0

    def customer_turn(self, sender: str, event: dict[str, Any], at: datetime,
                      state: _State) -> int:
        if is_external(event):  # the hub's trigger, not the customer: nothing to answer
            state.customer_at, state.fallback_counted = None, True
            return 0
        parse = event.get("parse_data") or {}
        intent = parse.get("intent") or {}
        channel = clean(event.get("input_channel"), 32)
        language = language_of(event)
        sentiment = finite(sentiment_of(event))
        row = {"role": "customer", "text": redacted(event.get("text")),
               "intent": clean(intent.get("name"), 128),
               "confidence": finite(intent.get("confidence")),
               "entities": entities_json(parse.get("entities")), "sentiment": sentiment,
               "language": language, "channel": channel}
        # The state follows the event stream, replays included; the counters only new turns.
        fallback = intent.get("name") in FALLBACK_INTENTS
        state.customer_at, state.fallback_counted = at, fallback
        state.channel = channel or state.channel
        if not self.insert_turn(sender, event, at, row):
            return 0
        self.update_conversation(
            sender, at, add={"customer_turns": 1, "fallbacks": int(fallback)},
            first={"channel": channel, "first_sentiment": sentiment},
            assign={**({"language": language} if language else {}),
                    **({"last_sentiment": sentiment} if sentiment is not None else {})})
        return 1

    def bot_turn(self, sender: str, event: dict[str, Any], at: datetime, state: _State) -> int:
        agent = agent_name_of(event)
        metadata = event.get("metadata") or {}
        response = None if agent else clean(str_or_none(metadata.get("utter_action")), 128)
        action = None if agent else clean(state.last_action, 128)
        latency = None
        if not agent and state.customer_at is not None:
            milliseconds = (at - state.customer_at).total_seconds() * 1000
            latency = min(max(0, round(milliseconds)), _MAX_LATENCY_MS)
        row = {"role": "agent" if agent else "bot", "text": redacted(event.get("text")),
               "action": action, "response": response, "latency_ms": latency,
               "channel": state.channel}
        fallback = not agent and (action in FALLBACK_ACTIONS or response in FALLBACK_RESPONSES)
        counts_fallback = fallback and not state.fallback_counted
        state.fallback_counted = state.fallback_counted or fallback
        if not self.insert_turn(sender, event, at, row):
            return 0
        self.update_conversation(sender, at, add={
            # an agent's words are not the bot's: bot_turns counts the bot's
            "bot_turns": 0 if agent else 1, "fallbacks": int(counts_fallback)})
        if response in ESCALATION_RESPONSES:
            self.outcome(sender, at, "escalated")
        return 1

    def slot(self, sender: str, event: dict[str, Any], at: datetime, state: _State) -> int:
        name, value = event["name"], event.get("value")
        if name == "rating":
            rating = rating_of(value)
            return 0 if rating is None else self.assign(sender, at, "csat", rating)
        if name not in TRACKED_SLOTS:
            return 0
        if value is None or value == "":
            if name == "handoff_id":  # handed back, or no handoff after all
                state.handoff_open = False
            return 0  # the column keeps what the conversation led to
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise Malformed(f"slot {name} holds a {type(value).__name__}")
        changed = self.assign(sender, at, name, clean(str(value), 64))
        if name == "handoff_id":
            state.handoff_open = True
            changed = max(changed, self.outcome(sender, at, "escalated"))
        return changed

    # -- rows --------------------------------------------------------------------------

    def insert_turn(self, sender: str, event: dict[str, Any], at: datetime,
                    row: dict[str, Any]) -> bool:
        """Add the turn to the batch; False if this event is already there (a replay)."""
        key = event_key(sender, event)
        if (sender, key) in self._known_keys:
            return False
        self._known_keys.add((sender, key))
        self._new_turns.append({"conversation_id": sender, "event_key": key, "at": at, **row})
        return True

    def update_conversation(self, sender: str, at: datetime, *,
                            add: Optional[dict[str, int]] = None,
                            first: Optional[dict[str, Any]] = None,
                            assign: Optional[dict[str, Any]] = None) -> None:
        """Widen the conversation's time span to `at`; add to counters; set the `first`
        columns that are still empty, and the `assign` columns."""
        row, change, _ = self.conversation(sender, at)
        if change.started_before is None:
            change.started_before = row["started_at"]
        row["started_at"], row["last_at"] = min(row["started_at"], at), max(row["last_at"], at)
        change.widen(at)
        for column, amount in (add or {}).items():
            row[column] += amount
            change.added[column] = change.added.get(column, 0) + amount
        for column, value in (first or {}).items():
            if row[column] is None and value is not None:
                row[column] = value
                change.assigned.add(column)
        for column, value in (assign or {}).items():
            row[column] = value
            change.assigned.add(column)

    def assign(self, sender: str, at: datetime, column: str, value: Any) -> int:
        """Set one column of the conversation if it differs; 1 if anything changed."""
        row, _, created = self.conversation(sender, at)
        changed = row[column] != value
        if changed:
            self.update_conversation(sender, at, assign={column: value})
        return int(created or changed)

    def outcome(self, sender: str, at: datetime, outcome: str) -> int:
        return self.assign(sender, at, "outcome", outcome)


@dataclass
class _Change:
    """What a batch changes in one conversation row that existed before it."""

    created: bool = False
    started_before: Optional[datetime] = None  # the row's start before this batch
    start: Optional[datetime] = None
    last: Optional[datetime] = None
    added: dict[str, int] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)

    def widen(self, at: datetime) -> None:
        self.start = at if self.start is None else min(self.start, at)
        self.last = at if self.last is None else max(self.last, at)

    def parameters(self, sender: str, row: dict[str, Any]) -> dict[str, Any]:
        return {"_conversation": sender, "_start": self.start, "_last": self.last,
                **{f"_add_{column}": self.added.get(column, 0) for column in _COUNTERS},
                **{f"_set_{column}": row[column] for column in self.assigned}}


_COUNTERS = ("customer_turns", "bot_turns", "fallbacks")
_TURN_COLUMNS = tuple(column.name for column in turns.columns if column.name != "id")
_IN_CHUNK = 400  # values per IN (...): well under every database's limit


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start:start + _IN_CHUNK]


@lru_cache(maxsize=128)
def _conversation_update(assigned: tuple[str, ...]) -> Any:
    """UPDATE of a conversation: widen its span, add to its counters, set `assigned`.

    Counters are added to, not overwritten, so hubs writing one conversation at once
    (several consume one broker) add up instead of losing each other's turns.
    """
    c = conversations.c
    start, last = bindparam("_start", type_=DateTime), bindparam("_last", type_=DateTime)
    return update(conversations).where(c.conversation_id == bindparam("_conversation")).values(
        started_at=case((c.started_at > start, start), else_=c.started_at),
        last_at=case((c.last_at < last, last), else_=c.last_at),
        **{column: c[column] + bindparam(f"_add_{column}", type_=Integer)
           for column in _COUNTERS},
        **{column: bindparam(f"_set_{column}", type_=c[column].type) for column in assigned})


def _insert_new(connection: Connection, table: Any, values: dict[str, Any],
                keys: list[str]) -> bool:
    """INSERT unless a row with these key values exists; True if it inserted."""
    dialect = connection.dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        statement = dialect_insert(table).values(**values).on_conflict_do_nothing(
            index_elements=keys)
        return connection.execute(statement).rowcount == 1
    found = connection.execute(select(*(table.c[key] for key in keys)).where(
        *(table.c[key] == values[key] for key in keys))).first()
    if found is not None:
        return False
    connection.execute(insert(table).values(**values))
    return True
