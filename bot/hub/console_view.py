"""What the console shows: view models for the queue and a conversation, and their HTML.

Pages and the live event streams render through the same Jinja macros
(`console_macros.html`), so a turn or a queue row looks the same whether it came with the
page or a second later over the stream. Autoescaping is on: customer text is never HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

import jinja2
from markupsafe import Markup

from bot.handoff.agents import Agent
from bot.handoff.priority import Priority
from bot.handoff.states import ASSIGNED, CALLBACK, WAITING
from bot.handoff.store import Handoff, Note
from bot.handoff.transcript import sentiment_summary, turns
from bot.hub.agent_desk import can_act, can_view

CALLBACKS_SHOWN = 20
RECENT_SHOWN = 15


@dataclass(frozen=True)
class QueueRow:
    handoff: Handoff
    priority: Priority
    waited: str
    can_claim: bool
    mine: bool


@dataclass
class Queue:
    waiting: list[QueueRow] = field(default_factory=list)
    mine: list[QueueRow] = field(default_factory=list)
    others: list[QueueRow] = field(default_factory=list)
    callbacks: list[QueueRow] = field(default_factory=list)
    recent: list[QueueRow] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {"waiting": len(self.waiting), "mine": len(self.mine)}


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def clock(moment: Any) -> str:
    if moment is None:
        return ""
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%H:%M:%S")


def _row(agent: Agent, handoff: Handoff, now: datetime) -> QueueRow:
    return QueueRow(handoff, handoff.priority(now), duration(handoff.waited_seconds(now)),
               can_claim=handoff.state == WAITING and agent.handles_handoffs,
               mine=handoff.agent_id == agent.id)


def build_queue(agent: Agent, open_handoffs: list[Handoff], closed: list[Handoff],
                now: datetime) -> Queue:
    """What this agent may see: the waiting queue, their own, and (admins) everyone's."""
    queue = Queue()
    for handoff in open_handoffs:  # already in priority order
        if not can_view(agent, handoff):
            continue
        row = _row(agent, handoff, now)
        if handoff.state == WAITING:
            queue.waiting.append(row)
        elif handoff.agent_id == agent.id:
            queue.mine.append(row)
        else:
            queue.others.append(row)
    open_conversations = {h.conversation_id for h in open_handoffs}
    followed = set()
    for handoff in closed:  # newest first
        if handoff.conversation_id in followed:
            continue
        followed.add(handoff.conversation_id)
        if handoff.state == CALLBACK and handoff.conversation_id not in open_conversations \
                and len(queue.callbacks) < CALLBACKS_SHOWN and can_view(agent, handoff):
            queue.callbacks.append(_row(agent, handoff, now))
    for handoff in closed:
        if len(queue.recent) >= RECENT_SHOWN:
            break
        if handoff.state != CALLBACK and (agent.role != "agent" or handoff.agent_id == agent.id):
            queue.recent.append(_row(agent, handoff, now))
    return queue


@dataclass(frozen=True)
class Panel:
    """The right-hand side of a conversation: state, actions, packet, CRM card, notes."""

    handoff: Handoff
    priority: Priority
    waited: str
    can_claim: bool
    can_act: bool
    can_note: bool
    can_follow_up: bool
    notes: list[Note]
    transfer_to: list[str]
    sentiment: dict[str, Any]
    composer_hint: str


def build_panel(agent: Agent, handoff: Handoff, notes: list[Note], agents: list[Agent],
                events: Optional[list[dict[str, Any]]], now: datetime) -> Panel:
    acting = can_act(agent, handoff)
    sentiment = sentiment_summary(events) if events else \
        (handoff.packet.get("sentiment") or {"scores": [], "trend": "unknown"})
    return Panel(
        handoff=handoff, priority=handoff.priority(now),
        waited=duration(handoff.waited_seconds(now)),
        can_claim=handoff.state == WAITING and agent.handles_handoffs,
        can_act=acting,
        can_note=acting or (handoff.state == WAITING and agent.handles_handoffs),
        can_follow_up=handoff.state == CALLBACK and agent.handles_handoffs,
        notes=notes,
        transfer_to=[a.name for a in agents if a.active and a.handles_handoffs
                     and a.id != handoff.agent_id] if acting else [],
        sentiment=sentiment,
        composer_hint=_composer_hint(agent, handoff, acting),
    )


def _composer_hint(agent: Agent, handoff: Handoff, acting: bool) -> str:
    if acting:
        return "Write to the customer…"
    if handoff.state == WAITING:
        return "Claim the conversation to reply" if agent.handles_handoffs else "Read only"
    if handoff.state == ASSIGNED:
        return f"{handoff.agent_name} has this conversation"
    return "Closed: the bot has the conversation again"


def sparkline(scores: list[float], width: int = 160, height: int = 36) -> Markup:
    """The customer's mood per message as a small SVG line (-1 at the bottom, +1 at the top)."""
    if not scores:
        return Markup("")
    step = width / max(1, len(scores) - 1)
    points = " ".join(f"{i * step:.1f},{(1 - (s + 1) / 2) * height:.1f}"
                      for i, s in enumerate(scores))
    middle = height / 2
    return Markup(
        f'<svg class="spark" viewBox="-2 -2 {width + 4} {height + 4}" width="{width}" '
        f'height="{height}" role="img" aria-label="mood per message">'
        f'<line x1="0" y1="{middle}" x2="{width}" y2="{middle}" stroke="#c9ced6" '
        f'stroke-dasharray="3 3"/>'
        f'<polyline fill="none" stroke="#3b5bdb" stroke-width="2" points="{points}"/></svg>')


def macros(env: jinja2.Environment) -> Any:
    return env.get_template("console_macros.html").make_module({})


def render_events(env: jinja2.Environment, events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(key, html) for each readable turn among `events`."""
    module = macros(env)
    return [(item.key, str(module.turn(item))) for item in turns(events)]


def render_queue(env: jinja2.Environment, queue: Queue, agent: Agent, csrf: str) -> str:
    return str(macros(env).queue_sections(queue, agent, csrf))


def render_panel(env: jinja2.Environment, panel: Panel, csrf: str) -> str:
    return str(macros(env).panel(panel, csrf))


def install_filters(env: jinja2.Environment) -> None:
    env.filters.setdefault("clock", clock)
    env.filters.setdefault("duration", duration)
    env.globals.setdefault("sparkline", sparkline)
    env.globals.setdefault("ASSIGNED", ASSIGNED)
