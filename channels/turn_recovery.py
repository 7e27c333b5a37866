"""A turn run again after a crash: the replies Rasa already gave, if it finished the turn.

A channel that stores a customer message before running its turn (Telegram's updates, the
web chat's history) runs it again when the process died mid-turn. If Rasa had saved the turn
(the user event with the turn's message id, and the bot's replies after it), running it again
would add a second user event and answer twice; the replies are read back instead.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.shared.core.events import BotUttered, UserUttered

# Rasa response fields a reply may carry besides its text.
BOT_DATA_KEYS = ("buttons", "quick_replies", "image", "attachment", "custom", "elements")


async def replies_in_tracker(tracker_store: Any, conversation_id: str,
                             message_id: str) -> Optional[list[dict[str, Any]]]:
    """The bot's replies to `message_id` (Rasa's message format, without recipient), or None
    if the tracker does not hold that turn (or there is no tracker store to ask)."""
    if tracker_store is None:
        return None
    tracker = await tracker_store.retrieve(conversation_id)
    events = list(tracker.events) if tracker is not None else []
    start = next((index for index, event in enumerate(events)
                  if isinstance(event, UserUttered) and event.message_id == message_id), None)
    if start is None:
        return None
    replies = []
    for event in events[start + 1:]:
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            data = {key: value for key, value in (event.data or {}).items()
                    if key in BOT_DATA_KEYS and value}
            replies.append({**({"text": event.text} if event.text else {}), **data})
    return replies
