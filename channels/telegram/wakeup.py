"""A polling loop's wake-up call: sleep until woken or until a timeout, always cancellable.

Not `asyncio.wait_for(event.wait(), timeout)`: on Python 3.10 that swallows a cancellation
arriving as the event is set (bpo-42130), and a loop stopped that way runs forever.
"""

from __future__ import annotations

import asyncio


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
