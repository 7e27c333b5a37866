"""A polling loop's wake-up call: sleep until woken or until a timeout, always cancellable.

Not `asyncio.wait_for(event.wait(), timeout)`: on Python 3.10 that swallows a cancellation
arriving as the event is set (bpo-42130), and a loop stopped that way runs forever.
"""

from __future__ import annotations

import abc
import asyncio
from typing import Any, Coroutine


class Wakeup:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def sleep(self, timeout: float) -> None:
        """Return when `set` is called or after `timeout` seconds; then reset."""
        waiter = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            waiter.cancel()
        self._event.clear()


class ChatTasks:
    """One task per chat at a time; when one ends the loop is woken (more may have arrived)."""

    def __init__(self, wakeup: Wakeup) -> None:
        self._wakeup = wakeup
        self._tasks: dict[str, asyncio.Task] = {}

    def __contains__(self, chat_id: str) -> bool:
        return chat_id in self._tasks

    def start(self, chat_id: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks[chat_id] = task
        task.add_done_callback(lambda _, c=chat_id: self._finished(c))

    def _finished(self, chat_id: str) -> None:
        self._tasks.pop(chat_id, None)
        self._wakeup.set()

    async def cancel_all(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


class ChatLoop(abc.ABC):
    """Wakes when told or every `poll_s` seconds, and starts one task per chat with work.

    The update worker and the outbox delivery are both this loop; each says in `_tick` how
    it finds chats with work and what it starts for them.
    """

    def __init__(self, poll_s: float) -> None:
        self._poll_s = poll_s
        self._wake = Wakeup()
        self._chats = ChatTasks(self._wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Loop until cancelled; the chats' tasks are cancelled with it."""
        try:
            while True:
                await self._tick()
                await self._wake.sleep(self._poll_s)
        finally:
            await self._chats.cancel_all()

    @abc.abstractmethod
    async def _tick(self) -> None:
        """Find the chats with work and start a task for each one not running yet."""
