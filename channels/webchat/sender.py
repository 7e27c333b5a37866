"""`WebChatSender`: how the hub reaches a web chat customer while an agent handles them.

It appends the agent's messages (and the bot's, after a hand-back) to the conversation in the
web chat's store, and the widget picks them up on its next poll. A REST conversation cannot
be reached (Rasa's REST channel only answers requests), so its agent messages are queued in
the same table under its conversation id (`rest-<sender>`), for an integration to collect.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Optional

from bot.errors import StoreUnavailable
from bot.settings import Settings
from channels.message_guard import MessageRejected, check_conversation_id
from bot.channel_registry import DeliveryFailed
from channels.webchat.store import SENDER_PREFIX, WebChatStore, clean_payload
from channels.webchat.tables import MAX_AGENT_NAME

logger = logging.getLogger(__name__)

MAX_PAYLOAD_CHARS = 20_000

class WebChatSender:
    """The `ChannelSender` for web chat (and REST, queued): the hub's messages into history.

    A message with an `"agent"` key ({"text": ..., "agent": "Sam"}) is an agent's, shown with
    that name; one without is the bot's, relayed by the hub (e.g. its question after a
    hand-back, from Rasa's trigger_intent).
    """

    def __init__(self, store: WebChatStore, *, owns_store: bool = False) -> None:
        self._store = store
        self._owns_store = owns_store

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebChatSender":
        return cls(WebChatStore.from_url(settings.hub_db_url), owns_store=True)

    async def send(self, recipient_id: str, messages: list[dict[str, Any]]) -> None:
        """Append `messages` (Rasa response format) to the conversation, in order."""
        try:
            check_conversation_id(recipient_id)
        except MessageRejected as error:
            raise DeliveryFailed(f"not a conversation id: {error}") from error
        batches: list[tuple[str, Optional[str], list[dict[str, Any]]]] = []
        for message in messages:
            payload = clean_payload(message)
            if not payload or len(json.dumps(payload)) > MAX_PAYLOAD_CHARS:
                raise DeliveryFailed("a message must have text, buttons or an image, "
                                     f"and at most {MAX_PAYLOAD_CHARS} characters")
            agent = str(message.get("agent") or "").strip()[:MAX_AGENT_NAME] or None
            role = "agent" if "agent" in message else "bot"
            if batches and batches[-1][:2] == (role, agent):
                batches[-1][2].append(payload)
            else:
                batches.append((role, agent, [payload]))
        try:
            if recipient_id.startswith(SENDER_PREFIX) and not await self._store.has_session(
                    recipient_id):
                raise DeliveryFailed(f"no web chat session {recipient_id}")
            for role, agent, payloads in batches:
                await self._store.append(recipient_id, role, payloads, agent_name=agent)
        except StoreUnavailable as error:
            logger.warning("web chat outbox unavailable for %s: %s", recipient_id,
                           type(error.__cause__).__name__)
            raise DeliveryFailed("the web chat store is unavailable") from error

    async def close(self) -> None:
        if self._owns_store:
            await self._store.close()
