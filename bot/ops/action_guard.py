"""Custom actions get a bounded wait and, when they cannot run, an honest answer.

Rasa 3.6 waits up to 300 s for the action server (a hard-coded timeout), far longer than the
60 s lifetime of a conversation's lock, so a hung action lets the customer's next message
run beside it; and when the call fails Rasa logs "the actions events are lost" and says
nothing to the customer. `install(timeout_s)`, called as the Rasa server starts, wraps
Rasa's `RemoteAction.run` (every custom action and form validation goes through it):

- each call is cancelled after `timeout_s` (RAPPORT_ACTION_TIMEOUT_S, well under the lock's
  lifetime);
- a call that times out or fails (connection refused, a 5xx) is answered with
  `utter_service_trouble` (an apology, and how to reach a person), marked in the message's
  metadata (`rapport_trouble`) so the exchange log and the console can find such turns, and
  logged as an error naming the action and the conversation;
- one apology per customer message, however many actions of that turn fail (a form
  validates and asks through two);
- the next message tries the action server again, so the bot works as soon as it is back.

A rejection (`ActionExecutionRejection`: a form validation saying "not this slot") is Rasa's
normal flow and passes through untouched.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)

TROUBLE_RESPONSE = "utter_service_trouble"
TROUBLE_FLAG = "rapport_trouble"
_FALLBACK_TEXT = ("Sorry, something went wrong on my side and I couldn't do that just now. "
                  "Please try again in a minute, or ask for a person.")


def install(timeout_s: float) -> None:
    """Bound and guard Rasa's remote action calls (idempotent: installs once)."""
    if not timeout_s > 0:
        raise ValueError(f"RAPPORT_ACTION_TIMEOUT_S must be more than 0 seconds, got {timeout_s}")
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction

    current = RemoteAction.run
    original = getattr(current, "__wrapped__", current)

    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any,
                  domain: Any) -> list:
        try:
            return await asyncio.wait_for(
                original(self, output_channel, nlg, tracker, domain), timeout_s)
        except ActionExecutionRejection:
            raise
        except Exception as error:  # noqa: BLE001 (any failure: answer honestly instead)
            reason = "timed out" if isinstance(error, asyncio.TimeoutError) \
                else type(error).__name__
            if already_apologised(tracker):
                logger.error("custom action %s %s for conversation %s (apology already given)",
                             self.name(), reason, tracker.sender_id)
                return []
            logger.error("custom action %s %s for conversation %s: answered with an apology",
                         self.name(), reason, tracker.sender_id)
            return [await trouble_message(nlg, tracker, output_channel, reason)]

    run.__wrapped__ = original  # type: ignore[attr-defined]
    RemoteAction.run = run


def already_apologised(tracker: Any) -> bool:
    """The customer got the apology since their last message: a form validates and asks
    through two actions in one turn, and one apology is enough."""
    from rasa.shared.core.events import BotUttered, UserUttered

    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and TROUBLE_FLAG in (event.metadata or {}):
            return True
    return False


async def trouble_message(nlg: Any, tracker: Any, output_channel: Any, reason: str) -> Any:
    """The apology, from the domain's response if it has one."""
    from rasa.core.actions.action import create_bot_utterance

    message = None
    try:
        message = await nlg.generate(TROUBLE_RESPONSE, tracker, output_channel.name())
    except Exception:  # noqa: BLE001 (a broken response must not hide the apology)
        logger.exception("could not render %s", TROUBLE_RESPONSE)
    message = dict(message or {"text": _FALLBACK_TEXT})
    message["utter_action"] = TROUBLE_RESPONSE
    utterance = create_bot_utterance(message)
    utterance.metadata = {**(utterance.metadata or {}), TROUBLE_FLAG: reason}
    return utterance
