"""The hub's background tasks (feeds, sweepers, consumers): started with the app, stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Iterable


async def stop_tasks(tasks: Iterable[asyncio.Task]) -> None:
    """Cancel every task, then wait for each to finish its clean-up."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
