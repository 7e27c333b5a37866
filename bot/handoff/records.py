"""The handoff records that cross the store's boundary (frozen), and its two errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from bot.handoff.priority import Factors, Priority, current_priority
from bot.database import utcnow
from bot.handoff.states import WAITING, InvalidTransition, is_open


class HandoffNotFound(LookupError):
    """No handoff with that id."""


class HandoffConflict(InvalidTransition):
    """Someone else moved the handoff first, or it isn't yours to move."""

    def __init__(self, move: str, state: str, agent_name: Optional[str] = None,
                 detail: Optional[str] = None) -> None:
        super().__init__(move, state)
        self.agent_name = agent_name
        if detail:
            self.args = (detail,)


@dataclass(frozen=True)
class Note:
    author: Optional[str]
    kind: str  # note | transfer | system
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Handoff:
    id: str
    conversation_id: str
    channel: str
    state: str
    reason: str
    base: Priority
    created_at: datetime
    severity: Optional[str] = None
    tier: Optional[str] = None
    public_risk: bool = False
    customer_id: Optional[str] = None
    customer_name: Optional[str] = None
    case_id: Optional[str] = None
    packet: dict[str, Any] = field(default_factory=dict)
    agent_id: Optional[str] = None
    agent_name: Optional[str] = None
    assigned_at: Optional[datetime] = None
    closed_at: Optional[datetime] = None
    resolution_note: Optional[str] = None
    csat: Optional[int] = None
    last_customer_text: Optional[str] = None
    last_customer_at: Optional[datetime] = None
    revision: int = 1  # +1 on every change of state, owner, notes or details
    handback: Optional[str] = None

    @property
    def is_open(self) -> bool:
        return is_open(self.state)

    def priority(self, now: Optional[datetime] = None) -> Priority:
        return current_priority(self.base, self.created_at, now or utcnow(),
                                waiting=self.state == WAITING)

    def waited_seconds(self, now: Optional[datetime] = None) -> float:
        end = self.assigned_at or self.closed_at or now or utcnow()
        return max(0.0, (end - self.created_at).total_seconds())


@dataclass(frozen=True)
class NewHandoff:
    conversation_id: str
    channel: str
    reason: str
    factors: Factors = Factors()
    customer_id: Optional[str] = None
    customer_name: Optional[str] = None
    case_id: Optional[str] = None
    packet: dict[str, Any] = field(default_factory=dict)
    state: str = WAITING  # waiting; callback (nobody online); assigned (an agent took over)
    agent_id: Optional[str] = None
    last_customer_text: Optional[str] = None
    last_customer_at: Optional[datetime] = None
