"""The handoff queue: records, moves between states, notes, CSAT and the hand-back lease.

Every move is one conditional UPDATE on (id, allowed source states[, owner]) whose row
count says whether this caller won; a loser gets `HandoffConflict` saying what happened
instead. That keeps the queue right with several hub processes and action servers.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.handoff.priority import Priority, base_priority, queue_order
from bot.handoff.records import Handoff, HandoffConflict, HandoffNotFound, NewHandoff, Note
from bot.database import aware, naive, utcnow
from bot.handoff.tables import Database, agents, handoff_notes, handoffs, new_hub_id
from bot.handoff.states import (
    ABANDONED, ASSIGNED, CALLBACK, MOVES, OPEN_STATES, RESOLVED, WAITING, InvalidTransition,
    is_open, next_state, sources,
)

__all__ = ["Handoff", "HandoffConflict", "HandoffNotFound", "HandoffStore", "NewHandoff", "Note"]

MAX_NOTE = 4000
MAX_REASON = 500
CSAT_WINDOW = timedelta(hours=24)


_COLUMNS = [handoffs, agents.c.name.label("agent_name")]


def _select():
    return select(*_COLUMNS).select_from(
        handoffs.outerjoin(agents, agents.c.id == handoffs.c.agent_id))


def _record(row) -> Handoff:
    try:
        reasons = tuple((str(r), int(p)) for r, p in json.loads(row.priority_reasons or "[]"))
    except (ValueError, TypeError):
        reasons = ()
    try:
        packet = json.loads(row.packet or "{}")
    except ValueError:
        packet = {}
    return Handoff(
        id=row.id, conversation_id=row.conversation_id, channel=row.channel, state=row.state,
        reason=row.reason, base=Priority(int(row.base_priority or 0), reasons),
        created_at=aware(row.created_at), severity=row.severity, tier=row.tier,
        public_risk=bool(row.public_risk), customer_id=row.customer_id,
        customer_name=row.customer_name, case_id=row.case_id, packet=packet,
        agent_id=row.agent_id, agent_name=row.agent_name, assigned_at=aware(row.assigned_at),
        closed_at=aware(row.closed_at), resolution_note=row.resolution_note, csat=row.csat,
        last_customer_text=row.last_customer_text, last_customer_at=aware(row.last_customer_at),
        revision=int(row.revision or 1), handback=row.handback,
    )


def _get(conn: Connection, handoff_id: str) -> Handoff:
    row = conn.execute(_select().where(handoffs.c.id == handoff_id)).first()
    if row is None:
        raise HandoffNotFound(handoff_id)
    return _record(row)


class HandoffStore:
    """The queue on the hub database (all calls run off the event loop)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, new: NewHandoff) -> Handoff:
        """Record a handoff; if the conversation already has an open one, that one."""
        try:
            return await self.db.run(_create, new, utcnow())
        except _AlreadyOpen:
            found = await self.open_for(new.conversation_id)
            if found is None:  # closed in between: try once more
                return await self.db.run(_create, new, utcnow())
            return found

    async def get(self, handoff_id: str) -> Handoff:
        return await self.db.run(_get, handoff_id)

    async def open_for(self, conversation_id: str) -> Optional[Handoff]:
        return await self.db.run(_open_for, conversation_id)

    async def open_handoffs(self) -> list[Handoff]:
        """Waiting and assigned handoffs, highest priority first (waiting time included)."""
        found = await self.db.run(_open_handoffs)
        return queue_order(found, utcnow())

    async def recent(self, limit: int = 30, agent_id: Optional[str] = None) -> list[Handoff]:
        """Closed handoffs, newest first (one agent's only, if given)."""
        return await self.db.run(_recent, limit, agent_id)

    async def digest(self) -> tuple:
        """Cheap fingerprint of the open queue: changes whenever anything in it changes."""
        return await self.db.run(_digest)

    # -- moves -------------------------------------------------------------------------

    async def claim(self, handoff_id: str, agent_id: str) -> Handoff:
        return await self.db.run(_move, handoff_id, "claim", {
            "agent_id": agent_id, "assigned_at": naive(utcnow())}, None)

    async def transfer(self, handoff_id: str, to_agent_id: str, by_agent_id: Optional[str],
                       by_name: Optional[str], to_name: str) -> Handoff:
        """Give an assigned handoff to another agent (by its owner, or an admin: by None)."""
        handoff = await self.db.run(_move, handoff_id, "transfer", {"agent_id": to_agent_id},
                                    by_agent_id)
        await self.add_note(handoff_id, by_name, f"transferred to {to_name}", kind="transfer")
        return handoff

    async def release(self, handoff_id: str, by_agent_id: Optional[str]) -> Handoff:
        return await self.db.run(_move, handoff_id, "release", {
            "agent_id": None, "assigned_at": None}, by_agent_id)

    async def resolve(self, handoff_id: str, by_agent_id: Optional[str], note: str) -> Handoff:
        return await self.db.run(_move, handoff_id, "resolve", {
            "closed_at": naive(utcnow()), "resolution_note": (note or "").strip()[:MAX_NOTE],
            "handback": RESOLVED, "handback_lease": None}, by_agent_id)

    async def callback(self, handoff_id: str) -> Handoff:
        """Nobody came in time: close it as a callback; the bot takes the conversation back."""
        return await self.db.run(_move, handoff_id, "callback", {
            "closed_at": naive(utcnow()), "handback": CALLBACK, "handback_lease": None}, None)

    async def abandon(self, handoff_id: str, resume_bot: bool = True) -> Handoff:
        return await self.db.run(_move, handoff_id, "abandon", {
            "closed_at": naive(utcnow()), "handback": ABANDONED if resume_bot else None,
            "handback_lease": None}, None)

    async def overdue(self, max_wait: timedelta) -> list[str]:
        """Ids of handoffs that have waited longer than `max_wait` for anyone."""
        return await self.db.run(_overdue, utcnow() - max_wait)

    # -- hand-back to the bot ----------------------------------------------------------

    async def lease_handback(self, handoff_id: str, lease: timedelta) -> Optional[Handoff]:
        """Take the pending hand-back for `lease` (None if there is none or it's taken)."""
        return await self.db.run(_lease, handoff_id, utcnow(), lease)

    async def pending_handbacks(self) -> list[str]:
        return await self.db.run(_pending_handbacks, utcnow())

    async def handback_done(self, handoff_id: str) -> None:
        await self.db.run(_set, handoff_id, {"handback": None, "handback_lease": None})

    # -- details -----------------------------------------------------------------------

    async def set_case(self, handoff_id: str, case_id: str) -> None:
        await self.db.run(_set, handoff_id, {"case_id": case_id})

    async def add_note(self, handoff_id: str, author: Optional[str], text: str,
                       kind: str = "note") -> None:
        text = (text or "").strip()[:MAX_NOTE]
        if text:
            await self.db.run(_add_note, handoff_id, author, kind, text, utcnow())

    async def notes(self, handoff_id: str) -> list[Note]:
        return await self.db.run(_notes, handoff_id)

    async def customer_said(self, conversation_id: str, text: str, event_id: int,
                            at: Optional[datetime] = None) -> Optional[str]:
        """Note the customer's message on their open handoff (unless a newer one is there).

        `at` is the message's own time (the Rasa event's timestamp), so messages read late or
        twice (several hubs) never replace a newer one. Returns the handoff's id, if any.
        """
        return await self.db.run(_customer_said, conversation_id, (text or "")[:300], event_id,
                                 at or utcnow())

    async def record_csat(self, conversation_id: str, rating: int) -> Optional[str]:
        """Put a rating on the conversation's handoff resolved in the last day; its id."""
        return await self.db.run(_record_csat, conversation_id, int(rating), utcnow())

    async def pickup_times(self, limit: int = 20) -> list[float]:
        """Seconds from handoff to claim, for the most recent claimed handoffs."""
        return await self.db.run(_pickups, limit, utcnow() - timedelta(days=7))


class _AlreadyOpen(Exception):
    """The conversation already has an open handoff (the unique index said so)."""


def _create(conn: Connection, new: NewHandoff, now: datetime) -> Handoff:
    priority = base_priority(new.factors)
    handoff_id = new_hub_id("H-")
    closed = None if is_open(new.state) else naive(now)
    try:
        conn.execute(insert(handoffs).values(
            id=handoff_id, conversation_id=new.conversation_id, channel=new.channel or "rest",
            state=new.state, reason=(new.reason or "handoff")[:MAX_REASON],
            severity=new.factors.severity, tier=new.factors.tier,
            public_risk=bool(new.factors.public_risk), base_priority=priority.points,
            priority_reasons=json.dumps([list(r) for r in priority.reasons]),
            customer_id=new.customer_id, customer_name=new.customer_name, case_id=new.case_id,
            packet=json.dumps(new.packet, default=str), agent_id=new.agent_id,
            created_at=naive(now), assigned_at=naive(now) if new.state == ASSIGNED else None,
            closed_at=closed, revision=1, last_event_id=0,
            last_customer_text=(new.last_customer_text or None) and new.last_customer_text[:300],
            last_customer_at=naive(new.last_customer_at) if new.last_customer_at else None,
        ))
    except IntegrityError as error:
        raise _AlreadyOpen() from error
    return _get(conn, handoff_id)


def _open_for(conn: Connection, conversation_id: str) -> Optional[Handoff]:
    row = conn.execute(_select().where(handoffs.c.conversation_id == conversation_id,
                                       handoffs.c.state.in_(OPEN_STATES))).first()
    return _record(row) if row else None


def _open_handoffs(conn: Connection) -> list[Handoff]:
    rows = conn.execute(_select().where(handoffs.c.state.in_(OPEN_STATES)))
    return [_record(row) for row in rows]


def _recent(conn: Connection, limit: int, agent_id: Optional[str]) -> list[Handoff]:
    query = _select().where(handoffs.c.state.notin_(OPEN_STATES))
    if agent_id:
        query = query.where(handoffs.c.agent_id == agent_id)
    rows = conn.execute(query.order_by(handoffs.c.closed_at.desc()).limit(limit))
    return [_record(row) for row in rows]


def _digest(conn: Connection) -> tuple:
    rows = conn.execute(select(handoffs.c.id, handoffs.c.revision, handoffs.c.last_customer_at)
                        .where(or_(handoffs.c.state.in_(OPEN_STATES),
                                   handoffs.c.handback.isnot(None)))
                        .order_by(handoffs.c.id))
    return tuple((row.id, row.revision, row.last_customer_at) for row in rows)


def _move(conn: Connection, handoff_id: str, move: str, values: dict,
          owner: Optional[str]) -> Handoff:
    targets = set(MOVES[move].values())
    (target,) = targets
    conditions = [handoffs.c.id == handoff_id, handoffs.c.state.in_(sources(move))]
    if owner is not None:
        conditions.append(handoffs.c.agent_id == owner)
    result = conn.execute(update(handoffs).where(and_(*conditions)).values(
        state=target, revision=handoffs.c.revision + 1, **values))
    if result.rowcount == 1:
        return _get(conn, handoff_id)
    current = _get(conn, handoff_id)  # HandoffNotFound if it doesn't exist
    try:
        next_state(current.state, move)
    except InvalidTransition:
        raise HandoffConflict(move, current.state, current.agent_name) from None
    raise HandoffConflict(move, current.state, current.agent_name,
                          f"this handoff is assigned to {current.agent_name or 'nobody'}")


def _set(conn: Connection, handoff_id: str, values: dict) -> None:
    result = conn.execute(update(handoffs).where(handoffs.c.id == handoff_id).values(
        revision=handoffs.c.revision + 1, **values))
    if result.rowcount != 1:
        raise HandoffNotFound(handoff_id)


def _overdue(conn: Connection, before: datetime) -> list[str]:
    return list(conn.execute(select(handoffs.c.id).where(
        handoffs.c.state == WAITING, handoffs.c.created_at < naive(before))).scalars())


def _lease(conn: Connection, handoff_id: str, now: datetime, lease: timedelta
           ) -> Optional[Handoff]:
    result = conn.execute(update(handoffs).where(
        handoffs.c.id == handoff_id, handoffs.c.handback.isnot(None),
        or_(handoffs.c.handback_lease.is_(None), handoffs.c.handback_lease < naive(now)),
    ).values(handback_lease=naive(now + lease)))
    return _get(conn, handoff_id) if result.rowcount == 1 else None


def _pending_handbacks(conn: Connection, now: datetime) -> list[str]:
    return list(conn.execute(select(handoffs.c.id).where(
        handoffs.c.handback.isnot(None),
        or_(handoffs.c.handback_lease.is_(None), handoffs.c.handback_lease < naive(now)),
    )).scalars())


def _add_note(conn: Connection, handoff_id: str, author: Optional[str], kind: str, text: str,
              now: datetime) -> None:
    _set(conn, handoff_id, {})
    conn.execute(insert(handoff_notes).values(handoff_id=handoff_id, author=author, kind=kind,
                                              text=text, created_at=naive(now)))


def _notes(conn: Connection, handoff_id: str) -> list[Note]:
    rows = conn.execute(select(handoff_notes).where(handoff_notes.c.handoff_id == handoff_id)
                        .order_by(handoff_notes.c.id))
    return [Note(row.author, row.kind, row.text, aware(row.created_at)) for row in rows]


def _customer_said(conn: Connection, conversation_id: str, text: str, event_id: int,
                   at: datetime) -> Optional[str]:
    handoff_id = conn.execute(select(handoffs.c.id).where(
        handoffs.c.conversation_id == conversation_id,
        handoffs.c.state.in_(OPEN_STATES))).scalar()
    if handoff_id is None:
        return None
    conn.execute(update(handoffs).where(
        handoffs.c.id == handoff_id,
        or_(handoffs.c.last_customer_at.is_(None), handoffs.c.last_customer_at < naive(at)),
    ).values(last_customer_text=text, last_customer_at=naive(at), last_event_id=event_id))
    return handoff_id


def _record_csat(conn: Connection, conversation_id: str, rating: int, now: datetime
                 ) -> Optional[str]:
    handoff_id = conn.execute(select(handoffs.c.id).where(
        handoffs.c.conversation_id == conversation_id, handoffs.c.state == RESOLVED,
        handoffs.c.closed_at >= naive(now - CSAT_WINDOW),
    ).order_by(handoffs.c.closed_at.desc()).limit(1)).scalar()
    if handoff_id is None:
        return None
    result = conn.execute(update(handoffs).where(
        handoffs.c.id == handoff_id, handoffs.c.csat.is_(None),
    ).values(csat=rating, revision=handoffs.c.revision + 1))
    return handoff_id if result.rowcount == 1 else None


def _pickups(conn: Connection, limit: int, since: datetime) -> list[float]:
    rows = conn.execute(select(handoffs.c.created_at, handoffs.c.assigned_at).where(
        handoffs.c.assigned_at > handoffs.c.created_at, handoffs.c.created_at >= naive(since),
    ).order_by(handoffs.c.created_at.desc()).limit(limit))
    return [(row.assigned_at - row.created_at).total_seconds() for row in rows]
