"""Live updates for the console: tail Rasa's event table and watch the handoff queue.

Rasa's SQL event broker writes every event to the `events` table (settings.events_db).
The feed polls it a few times a second from where it started, and polls the queue's
fingerprint; subscribers (the console's event streams) get `turn` messages for their
conversation and `queue` messages when the queue changes. Along the way it keeps the
handoff records current: the customer's latest message, a CSAT rating given after a
handoff, and an abandoned handoff when the customer restarts. Every hub process runs its
own feed; those writes are idempotent, so several hubs can share the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Optional

from bot.conversation.feedback import parse_rating
from bot.errors import StoreUnavailable
from bot.handoff.store import HandoffConflict, HandoffStore
from bot.handoff.transcript import is_external

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
QUEUE_POLL_SECONDS = 0.5
BATCH = 500
REPLAY = 1000
SUBSCRIBER_BACKLOG = 200


@dataclass(eq=False)
class Subscription:
    conversation_id: Optional[str]  # None: queue changes only
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_BACKLOG))
    overflowed: bool = False

    def offer(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True  # the stream ends; the browser reconnects and reloads


class EventFeed:
    def __init__(self, events_db: str, store: HandoffStore) -> None:
        self.path = Path(events_db)
        self.store = store
        self.cursor = 0
        self._recent: deque = deque(maxlen=REPLAY)
        self._subscriptions: set[Subscription] = set()
        self._digest: tuple = ()

    # -- subscribers -------------------------------------------------------------------

    def subscribe(self, conversation_id: Optional[str] = None) -> Subscription:
        subscription = Subscription(conversation_id)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def replay(self, conversation_id: str, after: int) -> list[tuple[int, dict[str, Any]]]:
        """Events for a conversation seen since event id `after` (what a page may have missed)."""
        return [(event_id, event) for event_id, sender, event in self._recent
                if sender == conversation_id and event_id > after]

    def close_all(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer({"type": "bye"})

    def _publish(self, message: dict[str, Any]) -> None:
        for subscription in list(self._subscriptions):
            wanted = message.get("conversation_id")
            if message["type"] == "queue" or subscription.conversation_id == wanted:
                subscription.offer(message)

    # -- reading the events table ------------------------------------------------------

    def _read(self, after: int) -> list[tuple[int, str, str]]:
        if not self.path.is_file():
            return []
        try:
            connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=2)
        except sqlite3.Error:
            return []
        try:
            return connection.execute(
                "SELECT id, sender_id, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (after, BATCH)).fetchall()
        except sqlite3.Error:  # not created yet, or busy: next time
            return []
        finally:
            connection.close()

    def _read_max(self) -> int:
        if not self.path.is_file():
            return 0
        try:
            connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=2)
            try:
                return int(connection.execute("SELECT MAX(id) FROM events").fetchone()[0] or 0)
            finally:
                connection.close()
        except sqlite3.Error:
            return 0

    async def start_position(self) -> None:
        self.cursor = await asyncio.to_thread(self._read_max)

    async def poll_once(self) -> int:
        """Read and handle new events; how many there were."""
        rows = await asyncio.to_thread(self._read, self.cursor)
        for event_id, sender, data in rows:
            self.cursor = max(self.cursor, int(event_id))
            try:
                event = json.loads(data)
            except (TypeError, ValueError):
                continue
            if not isinstance(event, dict):
                continue
            self._recent.append((int(event_id), sender, event))
            await self.handle(int(event_id), sender, event)
        return len(rows)

    async def push(self, sender: str, event: dict[str, Any]) -> None:
        """An event from a broker that has no ids (RabbitMQ): numbered here, in arrival order."""
        self.cursor += 1
        self._recent.append((self.cursor, sender, event))
        await self.handle(self.cursor, sender, event)

    async def handle(self, event_id: int, sender: str, event: dict[str, Any]) -> None:
        """One Rasa event: keep the handoffs current and tell subscribers.

        The poll calls it; a broker consumer (RabbitMQ in the scale-out profile) can too.
        """
        kind = event.get("event")
        try:
            if kind == "user" and not is_external(event):
                await self.store.customer_said(sender, str(event.get("text") or ""), event_id,
                                               _moment(event.get("timestamp")))
            elif kind == "slot" and event.get("name") == "rating" and event.get("value"):
                rating = parse_rating(str(event.get("value")))
                if rating is not None:
                    await self.store.record_csat(sender, rating)
            elif kind == "restart":
                handoff = await self.store.open_for(sender)
                if handoff is not None:
                    with contextlib.suppress(HandoffConflict):
                        await self.store.abandon(handoff.id, resume_bot=False)
        except StoreUnavailable as error:
            log.warning("feed could not update handoffs for event %s: %s", event_id, error)
        if kind in ("user", "bot", "pause", "resume", "restart", "session_started"):
            self._publish({"type": "turn", "conversation_id": sender, "event_id": event_id,
                           "event": event})

    async def check_queue(self) -> bool:
        digest = await self.store.digest()
        if digest != self._digest:
            self._digest = digest
            self._publish({"type": "queue"})
            return True
        return False

    async def run(self) -> None:
        """Poll until cancelled."""
        await self.start_position()
        self._digest = await self._safe_digest()
        ticks = 0
        while True:
            try:
                await self.poll_once()
                if ticks % max(1, int(QUEUE_POLL_SECONDS / POLL_SECONDS)) == 0:
                    await self.check_queue()
            except StoreUnavailable as error:
                log.warning("feed: %s", error)
            except Exception:  # noqa: BLE001 (keep the feed alive; say what broke)
                log.exception("feed: unexpected error")
            ticks += 1
            await asyncio.sleep(POLL_SECONDS)

    async def _safe_digest(self) -> tuple:
        try:
            return await self.store.digest()
        except StoreUnavailable:
            return ()


def _moment(timestamp: Any) -> Optional[datetime]:
    try:
        return datetime.fromtimestamp(float(timestamp), timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


async def messages(subscription: Subscription, timeout: float) -> AsyncIterator[Optional[dict]]:
    """The subscription's messages; None every `timeout` seconds of quiet (for keep-alives).

    asyncio.wait, not wait_for: on Python 3.10 wait_for can swallow a cancellation that
    arrives as a message does, and the stream would outlive the server's shutdown.
    """
    while True:
        getter = asyncio.ensure_future(subscription.queue.get())
        try:
            done, _ = await asyncio.wait({getter}, timeout=timeout)
        finally:
            if not getter.done():
                getter.cancel()
        yield getter.result() if getter in done else None
