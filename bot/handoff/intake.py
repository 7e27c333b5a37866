"""Handing a conversation over: packet, priority, queue or callback, and the expected wait.

`HandoffIntake.hand_over` is what every handoff trigger ends in (through `actions/handoff.py`): it
builds the agent's packet (CRM data only for a verified customer), scores the priority,
and either queues the handoff (someone is online) or, with nobody online, arranges a
callback: a CRM case for a verified customer, a follow-up in the chat for anyone else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Union

from bot.crm.interface import Case, Crm, CrmError, NewCase
from bot.crm.serialise import to_json
from bot.handoff.agents import AgentDirectory
from bot.handoff.packet import build_packet
from bot.handoff.priority import Factors, describe_wait, expected_wait_seconds
from bot.database import utcnow
from bot.handoff.tables import Database, open_database
from bot.handoff.states import CALLBACK, WAITING
from bot.handoff.store import Handoff, HandoffStore, NewHandoff
from bot.handoff.transcript import customer_sentiments, is_external

log = logging.getLogger(__name__)

CALLBACK_CATEGORY = "callback"


@dataclass(frozen=True)
class HandoffRequest:
    """Everything the bot knows when it hands over (from the tracker)."""

    conversation_id: str
    channel: str
    reason: str
    events: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    case_id: Optional[str] = None
    severity: Optional[str] = None
    public_risk: bool = False
    # Names the customer message this handoff answers (`NewCase.request_key`): the turn run
    # again after a crash finds the callback case it opened instead of opening another.
    request_key: Optional[str] = None

    @property
    def customer_id(self) -> Optional[str]:
        """The CRM customer, only once verified."""
        if self.slots.get("customer_verified") and self.slots.get("customer_id"):
            return str(self.slots["customer_id"])
        return None


@dataclass(frozen=True)
class Queued:
    """A person will come: the conversation pauses until they hand it back."""

    handoff: Handoff
    wait_seconds: int
    position: int
    max_wait: timedelta

    @property
    def wait_text(self) -> str:
        return describe_wait(min(self.wait_seconds, self.max_wait.total_seconds()))


@dataclass(frozen=True)
class NoAgent:
    """Nobody is online: a callback is arranged and the bot carries on."""

    handoff: Handoff
    case: Optional[Case]


class HandoffIntake:
    """The handoff queue as the bot sees it."""

    def __init__(self, db: Database, presence: timedelta, max_wait: timedelta) -> None:
        self.db = db
        self.store = HandoffStore(db)
        self.agents = AgentDirectory(db)
        self.presence = presence
        self.max_wait = max_wait

    @classmethod
    def from_settings(cls, settings: Any) -> "HandoffIntake":
        return cls(open_database(settings.hub_db_url),
                   presence=timedelta(seconds=settings.handoff_presence),
                   max_wait=timedelta(seconds=settings.handoff_max_wait))

    async def close(self) -> None:
        await self.db.close()

    async def agents_online(self) -> int:
        return len(await self.agents.online(self.presence))

    async def expected_wait(self, handoff: Handoff, online: Optional[int] = None
                            ) -> tuple[int, int]:
        """(seconds, position in the queue) for a waiting handoff."""
        waiting = [h for h in await self.store.open_handoffs() if h.state == WAITING]
        ids = [h.id for h in waiting]
        position = ids.index(handoff.id) + 1 if handoff.id in ids else len(ids) + 1
        online = await self.agents_online() if online is None else online
        seconds = expected_wait_seconds(position, online, await self.store.pickup_times())
        return seconds, position

    async def hand_over(self, request: HandoffRequest, crm: Optional[Crm]
                        ) -> Union[Queued, NoAgent]:
        card, case, note = await _crm_context(request, crm)
        factors = Factors(
            severity=request.severity or (case.severity if case else None),
            tier=card.customer.tier if card else None,
            public_risk=request.public_risk,
            sentiment=min(customer_sentiments(request.events) or [0.0]),
            complaints_90_days=card.complaints_last_90_days if card else 0,
        )
        packet = build_packet(request.events, request.slots, request.reason,
                              card=to_json(card) if card else None,
                              case=to_json(case) if case else None, crm_note=note)
        online = await self.agents_online()
        new = NewHandoff(
            conversation_id=request.conversation_id, channel=request.channel,
            reason=request.reason, factors=factors, customer_id=request.customer_id,
            customer_name=card.customer.name if card else None,
            case_id=case.id if case else request.case_id, packet=packet,
            state=WAITING if online else CALLBACK,
            **_latest_customer_message(request.events),
        )
        if not online:
            callback_case = await arrange_callback(crm, request, case)
            if callback_case:
                new = replace(new, case_id=callback_case.id)
            handoff = await self.store.create(new)
            log.info("handoff %s for %s: nobody online, callback (case %s)", handoff.id,
                     request.conversation_id, callback_case.id if callback_case else None)
            return NoAgent(handoff, callback_case)
        handoff = await self.store.create(new)
        seconds, position = await self.expected_wait(handoff, online)
        log.info("handoff %s for %s queued at %d (%s)", handoff.id, request.conversation_id,
                 position, request.reason)
        return Queued(handoff, seconds, position, self.max_wait)

    async def callback_case(self, handoff_id: Optional[str], request: HandoffRequest,
                            crm: Optional[Crm]) -> Optional[Case]:
        """After a timeout: the callback case for the handoff the hub closed."""
        case = None
        if crm is not None and request.case_id and request.customer_id:
            try:
                case = await crm.get_case(request.case_id)
            except CrmError:
                case = None
        callback = await arrange_callback(crm, request, case)
        if callback and handoff_id:
            await self.store.set_case(handoff_id, callback.id)
            await self.store.add_note(handoff_id, None,
                                      f"no agent in time: callback case {callback.id}", "system")
        return callback


def _latest_customer_message(events: list[dict[str, Any]]) -> dict[str, Any]:
    for event in reversed(events):
        if event.get("event") == "user" and not is_external(event):
            try:
                at = datetime.fromtimestamp(float(event["timestamp"]), timezone.utc)
            except (KeyError, TypeError, ValueError, OverflowError, OSError):
                at = None
            return {"last_customer_text": str(event.get("text") or "")[:300],
                    "last_customer_at": at}
    return {}


async def _crm_context(request: HandoffRequest, crm: Optional[Crm]):
    """(card, case, note) for a verified customer; nothing at all for anyone else."""
    if crm is None or request.customer_id is None:
        return None, None, None
    try:
        card = await crm.customer_card(request.customer_id)
        case = await crm.get_case(request.case_id) if request.case_id else None
    except CrmError as error:
        log.warning("CRM unavailable building the packet for %s: %s", request.conversation_id,
                    type(error).__name__)
        return None, None, "The CRM could not be reached when the bot handed over."
    if case is not None and case.customer_id != request.customer_id:
        case = None
    return card, case, None


async def arrange_callback(crm: Optional[Crm], request: HandoffRequest,
                           case: Optional[Case]) -> Optional[Case]:
    """Mark the complaint case for a callback, or open one; None for unverified customers."""
    customer_id = request.customer_id
    if crm is None or customer_id is None:
        return None
    try:
        if case is not None:
            updated = await crm.update_case(case.id, status="callback")
        else:
            updated = await crm.open_case(NewCase(
                customer_id=customer_id, order_number=None, category=CALLBACK_CATEGORY,
                severity=request.severity or "medium", severity_score=0.0,
                severity_reasons=(f"handoff: {request.reason}",),
                description=(f"Asked for a person ({request.reason}) on {request.channel} "
                             f"at {utcnow():%Y-%m-%d %H:%M} UTC; nobody was available. "
                             f"Call back."),
                status="callback", request_key=request.request_key,
            ))
        await crm.add_interaction(customer_id, request.channel, "handoff",
                                  f"No agent available: callback on case {updated.id}")
        return updated
    except CrmError as error:
        log.warning("could not arrange a callback for %s: %s", request.conversation_id,
                    type(error).__name__)
        return None
