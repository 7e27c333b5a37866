"""The console's audit log: who viewed, claimed, replied to, transferred, resolved or
exported which handoff, and when, in the hub database (table `console_audit`).

Views record an action once it has succeeded (`AuditLog.record`); admins read the log at
`GET /api/console/audit` (JSON, newest first; `?handoff=ID`, `?agent=NAME`, `?limit=N`);
everyone else gets 403. What the agent wrote is not copied here (it is on the conversation);
the log says what was done, not what was said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from bot.database import aware, naive, utcnow
from bot.handoff.agents import Agent
from bot.handoff.tables import Database, console_audit

# The actions recorded (the `action` column).
VIEWED, EXPORTED, CLAIMED, REPLIED, NOTED = "viewed", "exported", "claimed", "replied", "noted"
TRANSFERRED, RELEASED, RESOLVED, CLOSED = "transferred", "released", "resolved", "closed"
FOLLOWED_UP, TOOK_OVER = "followed_up", "took_over"

MAX_DETAIL = 300
MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    agent_id: str
    agent_name: str
    action: str
    handoff_id: Optional[str]
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "agent_id": self.agent_id,
                "agent": self.agent_name, "action": self.action,
                "handoff_id": self.handoff_id, "detail": self.detail}


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, agent: Agent, action: str, handoff_id: Optional[str] = None,
                     detail: str = "") -> None:
        await self.db.run(_record, agent.id, agent.name, action, handoff_id,
                          (detail or "")[:MAX_DETAIL])

    async def entries(self, limit: int = 200, handoff_id: Optional[str] = None,
                      agent_name: Optional[str] = None) -> list[AuditEntry]:
        """Newest first."""
        limit = max(1, min(MAX_LIMIT, limit))
        return await self.db.run(_entries, limit, handoff_id, agent_name)


def _record(conn: Connection, agent_id: str, agent_name: str, action: str,
            handoff_id: Optional[str], detail: str) -> None:
    conn.execute(insert(console_audit).values(
        at=naive(utcnow()), agent_id=agent_id, agent_name=agent_name, action=action,
        handoff_id=handoff_id, detail=detail))


def _entries(conn: Connection, limit: int, handoff_id: Optional[str],
             agent_name: Optional[str]) -> list[AuditEntry]:
    query = select(console_audit).order_by(console_audit.c.id.desc()).limit(limit)
    if handoff_id:
        query = query.where(console_audit.c.handoff_id == handoff_id)
    if agent_name:
        query = query.where(console_audit.c.agent_name == agent_name)
    return [AuditEntry(row.id, aware(row.at), row.agent_id, row.agent_name, row.action,
                       row.handoff_id, row.detail) for row in conn.execute(query)]
