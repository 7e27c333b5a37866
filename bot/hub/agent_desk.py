"""The agents' side of a handoff: claim, reply, note, transfer, resolve, and hand back.

Views call `AgentDesk`; it checks who may do what, moves the handoff in the store (one
conditional UPDATE each), reaches the customer through their channel's sender, and keeps
the Rasa conversation whole: agent replies are recorded as bot turns naming the agent,
and handing back resumes the bot and runs it on an external intent whose answer (the CSAT
question, or the callback message) is delivered through the same sender.

A hand-back that fails half-way (Rasa down) stays pending on the handoff; the sweeper
retries it under a lease, so exactly one hub process finishes it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from bot.channel_registry import ChannelRegistry, ChannelSender, DeliveryFailed
from bot.crm.interface import Crm, CrmError
from bot.handoff.agents import Agent, AgentDirectory
from bot.handoff.packet import build_packet
from bot.errors import StoreUnavailable
from bot.handoff.states import ASSIGNED, CALLBACK, OPEN_STATES, RESOLVED, WAITING
from bot.handoff.store import Handoff, HandoffConflict, HandoffNotFound, HandoffStore, NewHandoff
from bot.hub.errors import BadRequest, NotAllowed
from bot.hub.rasa_api import HANDOFF_CALLBACK, HANDOFF_RESOLVED, RasaApi, RasaApiError
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_REPLY = 4000
HANDBACK_LEASE = timedelta(seconds=60)
# How much of the conversation before a handoff the console shows with it (context).
LEAD_IN = timedelta(hours=1)
SWEEP_SECONDS = 2.0


class Senders:
    """One sender per channel, made on first use and closed with the hub."""

    def __init__(self, settings: Settings, channels: ChannelRegistry) -> None:
        self._settings = settings
        self._channels = channels
        self._senders: dict[str, Optional[ChannelSender]] = {}

    def get(self, channel: str) -> ChannelSender:
        if channel not in self._senders:
            try:
                self._senders[channel] = self._channels.sender_for(channel, self._settings)
            except ImportError as error:
                log.warning("no sender for channel %s: %s", channel, error)
                self._senders[channel] = None
        sender = self._senders[channel]
        if sender is None:
            raise DeliveryFailed(f"the hub cannot reach customers on the {channel} channel")
        return sender

    async def close(self) -> None:
        for sender in self._senders.values():
            if sender is not None:
                await sender.close()
        self._senders.clear()


def can_view(agent: Agent, handoff: Handoff) -> bool:
    """Admins and analysts see every handoff; an agent sees the queue and their own."""
    if agent.role in ("admin", "analyst"):
        return True
    return handoff.state in (WAITING, CALLBACK) or handoff.agent_id == agent.id


def can_act(agent: Agent, handoff: Handoff) -> bool:
    """Reply, note, resolve, transfer: the assigned agent (or an admin)."""
    return handoff.state == ASSIGNED and (handoff.agent_id == agent.id or agent.role == "admin")


def window(handoff: Handoff) -> tuple[datetime, Optional[datetime]]:
    """The stretch of the conversation a handoff shows: (start, end; None while open).

    From LEAD_IN before the handoff was created to its close. A closed or callback handoff
    is a record of what happened while it was open, not a window onto the customer's later
    conversations: turns after its close are never shown or streamed.
    """
    start = handoff.created_at - LEAD_IN
    if handoff.state in OPEN_STATES:
        return start, None
    return start, handoff.closed_at or handoff.created_at


def in_window(handoff: Handoff, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events inside the handoff's window (by Rasa's timestamp).

    An event without a usable timestamp is kept only while the handoff is open (a live
    event has just happened); for a closed handoff it could be from any time, so it is not.
    """
    start, end = window(handoff)
    low, high = start.timestamp(), end.timestamp() if end is not None else None
    kept = []
    for event in events:
        try:
            moment = float(event.get("timestamp"))
        except (TypeError, ValueError):
            if high is None:
                kept.append(event)
            continue
        if moment >= low and (high is None or moment <= high):
            kept.append(event)
    return kept


@dataclass
class AgentDesk:
    settings: Settings
    store: HandoffStore
    agents: AgentDirectory
    rasa: RasaApi
    senders: Senders
    crm: Optional[Crm] = None

    async def visible(self, agent: Agent, handoff_id: str) -> Handoff:
        """The handoff if this agent may see it; otherwise it doesn't exist for them."""
        handoff = await self.store.get(handoff_id)
        if not can_view(agent, handoff):
            raise HandoffNotFound(handoff_id)
        return handoff

    async def transcript(self, handoff: Handoff) -> list[dict[str, Any]]:
        """The conversation's events within the handoff's window (RasaApiError if Rasa is down)."""
        return in_window(handoff, await self.rasa.events(handoff.conversation_id))

    async def _own(self, agent: Agent, handoff_id: str) -> Handoff:
        handoff = await self.visible(agent, handoff_id)
        if not can_act(agent, handoff):
            if handoff.state != ASSIGNED:
                raise HandoffConflict("change", handoff.state, handoff.agent_name)
            raise NotAllowed(f"this conversation is assigned to {handoff.agent_name}")
        return handoff

    @staticmethod
    def _handler(agent: Agent) -> None:
        if not agent.handles_handoffs:
            raise NotAllowed("analysts can read conversations but not take them")

    # -- agent moves -------------------------------------------------------------------

    async def claim(self, agent: Agent, handoff_id: str) -> Handoff:
        self._handler(agent)
        # No visibility check: only a waiting handoff (which every agent sees) can be
        # claimed, and whoever lost a race to claim it learns who won.
        return await self.store.claim(handoff_id, agent.id)

    async def reply(self, agent: Agent, handoff_id: str, text: str) -> None:
        """Send the agent's words to the customer's app, then record them on the conversation."""
        handoff = await self._own(agent, handoff_id)
        text = (text or "").strip()
        if not text or len(text) > MAX_REPLY:
            raise BadRequest(f"a reply needs 1 to {MAX_REPLY} characters")
        sender = self.senders.get(handoff.channel)
        # Customers (and Rasa's transcript, which other channels may replay) see the display
        # name, never the login name.
        shown = agent.shown_name
        await sender.send(handoff.conversation_id, [{"text": text, "agent": shown}])
        try:
            await self.rasa.record_agent_message(handoff.conversation_id, text, shown)
        except RasaApiError as error:  # delivered, but the log misses it: say so on the handoff
            log.warning("reply on %s delivered but not recorded: %s", handoff_id, error)
            await self.store.add_note(handoff_id, None, f"not recorded on the conversation "
                                      f"(Rasa unavailable): {shown}: {text}", "system")

    async def note(self, agent: Agent, handoff_id: str, text: str) -> None:
        self._handler(agent)
        handoff = await self.visible(agent, handoff_id)
        if not (can_act(agent, handoff) or handoff.state == WAITING):
            raise NotAllowed("only the assigned agent adds notes")
        if not (text or "").strip():
            raise BadRequest("a note needs some text")
        await self.store.add_note(handoff_id, agent.name, text)

    async def transfer(self, agent: Agent, handoff_id: str, to_name: str) -> Handoff:
        handoff = await self._own(agent, handoff_id)
        target = next((a for a in await self.agents.list()
                       if a.name.lower() == (to_name or "").strip().lower()), None)
        if target is None or not target.active or not target.handles_handoffs:
            raise BadRequest("transfer to an active agent")
        if target.id == handoff.agent_id:
            raise BadRequest(f"it is already assigned to {target.name}")
        owner = None if agent.role == "admin" else agent.id
        return await self.store.transfer(handoff_id, target.id, owner, agent.name, target.name)

    async def release(self, agent: Agent, handoff_id: str) -> Handoff:
        await self._own(agent, handoff_id)
        owner = None if agent.role == "admin" else agent.id
        handoff = await self.store.release(handoff_id, owner)
        await self.store.add_note(handoff_id, agent.name, "returned to the queue", "transfer")
        return handoff

    async def resolve(self, agent: Agent, handoff_id: str, note: str) -> Handoff:
        """Close it with the agent's note (also on the CRM case) and hand back to the bot."""
        await self._own(agent, handoff_id)
        note = (note or "").strip()
        if not note:
            raise BadRequest("say briefly how it was resolved (it goes on the case)")
        owner = None if agent.role == "admin" else agent.id
        handoff = await self.store.resolve(handoff_id, owner, note)
        await self._note_on_case(handoff, agent, note)
        await self.hand_back(handoff_id)
        return handoff

    async def close(self, agent: Agent, handoff_id: str) -> Handoff:
        """The customer has gone: close without a CSAT question; the bot resumes quietly."""
        await self._own(agent, handoff_id)
        handoff = await self.store.abandon(handoff_id)
        await self.store.add_note(handoff_id, agent.name, "closed: the customer left", "system")
        await self.hand_back(handoff_id)
        return handoff

    async def takeover(self, agent: Agent, conversation_id: str,
                       reason: str = "an agent took over from the console") -> Handoff:
        """Take a conversation from the bot without a handoff from it (pauses the bot)."""
        self._handler(agent)
        conversation_id = (conversation_id or "").strip()
        if not conversation_id or len(conversation_id) > 255:
            raise BadRequest("which conversation?")
        existing = await self.store.open_for(conversation_id)
        if existing is not None:
            if existing.agent_id == agent.id:
                return existing  # already yours: nothing to do twice
            raise HandoffConflict("take over", existing.state, existing.agent_name)
        events = await self.rasa.events(conversation_id)
        channel = next((e.get("input_channel") for e in reversed(events)
                        if e.get("event") == "user" and e.get("input_channel")), None)
        if channel is None:
            raise BadRequest("that conversation has no customer messages")
        packet = build_packet(events, {}, reason)
        handoff = await self.store.create(NewHandoff(
            conversation_id=conversation_id, channel=channel, reason=reason, packet=packet,
            state=ASSIGNED, agent_id=agent.id))
        if handoff.agent_id != agent.id:
            raise HandoffConflict("take over", handoff.state, handoff.agent_name)
        await self.rasa.pause(conversation_id)
        return handoff

    async def follow_up(self, agent: Agent, handoff_id: str) -> Handoff:
        """Pick up a callback: a new handoff on the same conversation, assigned to you."""
        self._handler(agent)
        previous = await self.visible(agent, handoff_id)
        if previous.state != CALLBACK:
            raise HandoffConflict("follow up", previous.state, previous.agent_name)
        return await self.takeover(agent, previous.conversation_id,
                                   f"follow-up of callback {previous.id}: {previous.reason}")

    async def _note_on_case(self, handoff: Handoff, agent: Agent, note: str) -> None:
        if self.crm is None or not handoff.case_id:
            return
        try:
            await self.crm.update_case(handoff.case_id, status="resolved",
                                       resolution=f"{note} ({agent.name})")
            if handoff.customer_id:
                await self.crm.add_interaction(handoff.customer_id, handoff.channel, "handoff",
                                               f"Resolved by {agent.name}: {note}"[:500])
        except CrmError as error:
            log.warning("resolution of %s not stored on case %s: %s", handoff.id,
                        handoff.case_id, type(error).__name__)
            await self.store.add_note(handoff.id, None, "the CRM case could not be updated; "
                                      "copy the resolution to it by hand", "system")

    # -- hand-back to the bot ----------------------------------------------------------

    async def hand_back(self, handoff_id: str) -> bool:
        """Resume the bot for a closed handoff and deliver what it says. True when done."""
        handoff = await self.store.lease_handback(handoff_id, HANDBACK_LEASE)
        if handoff is None:
            return False
        try:
            await self.rasa.resume(handoff.conversation_id)
            messages: list[dict[str, Any]] = []
            if handoff.handback == RESOLVED:
                messages = await self.rasa.trigger(handoff.conversation_id, HANDOFF_RESOLVED)
            elif handoff.handback == CALLBACK:
                messages = await self.rasa.trigger(handoff.conversation_id, HANDOFF_CALLBACK)
        except RasaApiError as error:
            log.warning("hand-back of %s to the bot failed, will retry: %s", handoff_id, error)
            return False
        await self.store.handback_done(handoff_id)
        await self._deliver_bot(handoff, messages)
        return True

    async def _deliver_bot(self, handoff: Handoff, messages: list[dict[str, Any]]) -> None:
        payloads = [{k: v for k, v in m.items() if k != "recipient_id"} for m in messages]
        if not payloads:
            return
        try:
            await self.senders.get(handoff.channel).send(handoff.conversation_id, payloads)
        except DeliveryFailed as error:
            log.warning("the bot's hand-back message for %s was not delivered: %s",
                        handoff.id, error)
            await self.store.add_note(handoff.id, None, f"the bot's message after the "
                                      f"hand-back could not be delivered: {error}", "system")

    async def sweep(self) -> None:
        """Callbacks for handoffs nobody took in time, and hand-backs still to do."""
        max_wait = timedelta(seconds=self.settings.handoff_max_wait)
        for handoff_id in await self.store.overdue(max_wait):
            try:
                await self.store.callback(handoff_id)
            except (HandoffConflict, HandoffNotFound):
                continue  # claimed (or handled by another hub) in the meantime
            log.info("handoff %s waited over %s: callback", handoff_id, max_wait)
            await self.hand_back(handoff_id)
        for handoff_id in await self.store.pending_handbacks():
            await self.hand_back(handoff_id)

    async def run_sweeper(self) -> None:
        while True:
            try:
                await self.sweep()
            except StoreUnavailable as error:
                log.warning("sweeper: %s", error)
            except Exception:  # noqa: BLE001 (keep sweeping; say what broke)
                log.exception("sweeper: unexpected error")
            await asyncio.sleep(SWEEP_SECONDS)
