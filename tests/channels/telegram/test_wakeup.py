"""channels.telegram.wakeup: a polling loop sleeps until woken and always stops when cancelled.

Every wait here is on an event; the long timeouts are never meant to run out, and `_bounded`
only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, TypeVar

import pytest

from channels.telegram.wakeup import ChatLoop, ChatTasks, Wakeup

NEVER = 3600.0  # a sleep timeout no test waits out
T = TypeVar("T")


async def _bounded(awaitable: Awaitable[T]) -> T:
    """Fail instead of hanging when something that should happen never does."""
    return await asyncio.wait_for(awaitable, 30)


async def _let_others_run(times: int = 5) -> None:
    for _ in range(times):
        await asyncio.sleep(0)


async def test_sleep_returns_when_set() -> None:
    wakeup = Wakeup()
    sleeper = asyncio.create_task(wakeup.sleep(NEVER))
    await _let_others_run()
    assert not sleeper.done()
    wakeup.set()
    await _bounded(sleeper)


async def test_a_set_before_sleeping_is_not_lost() -> None:
    wakeup = Wakeup()
    wakeup.set()
    await _bounded(wakeup.sleep(NEVER))


async def test_sleep_resets_so_the_next_sleep_waits_again() -> None:
    wakeup = Wakeup()
    wakeup.set()
    await _bounded(wakeup.sleep(NEVER))
    sleeper = asyncio.create_task(wakeup.sleep(NEVER))
    await _let_others_run()
    assert not sleeper.done()
    wakeup.set()
    await _bounded(sleeper)


async def test_sleep_returns_after_its_timeout_without_a_set() -> None:
    await _bounded(Wakeup().sleep(0))


async def test_a_cancel_arriving_with_the_set_is_not_swallowed() -> None:
    """The bpo-42130 case: the event is set and the sleeper cancelled in the same step."""
    wakeup = Wakeup()
    sleeper = asyncio.create_task(wakeup.sleep(NEVER))
    await _let_others_run()
    wakeup.set()
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await _bounded(sleeper)


async def test_chat_tasks_hold_a_chat_while_its_task_runs_and_wake_when_it_ends() -> None:
    wakeup = Wakeup()
    chats = ChatTasks(wakeup)
    release = asyncio.Event()
    done: list[str] = []

    async def work(chat_id: str) -> None:
        await release.wait()
        done.append(chat_id)

    chats.start("42", work("42"))
    await _let_others_run()
    assert "42" in chats
    assert "43" not in chats
    sleeper = asyncio.create_task(wakeup.sleep(NEVER))
    await _let_others_run()
    assert not sleeper.done()
    release.set()
    await _bounded(sleeper)  # the task's end woke the loop
    assert done == ["42"]
    assert "42" not in chats


async def test_a_failing_task_also_frees_its_chat_and_wakes() -> None:
    wakeup = Wakeup()
    chats = ChatTasks(wakeup)

    async def work() -> None:
        raise RuntimeError("delivery failed")

    chats.start("42", work())
    await _bounded(wakeup.sleep(NEVER))
    assert "42" not in chats


async def test_cancel_all_cancels_every_running_task() -> None:
    chats = ChatTasks(Wakeup())
    started = {"1": asyncio.Event(), "2": asyncio.Event()}
    cancelled: list[str] = []

    async def work(chat_id: str) -> None:
        started[chat_id].set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(chat_id)
            raise

    for chat_id in started:
        chats.start(chat_id, work(chat_id))
    for event in started.values():
        await _bounded(event.wait())
    await _bounded(chats.cancel_all())
    assert sorted(cancelled) == ["1", "2"]
    await _let_others_run()
    assert "1" not in chats and "2" not in chats


class _Loop(ChatLoop):
    """A ChatLoop whose every tick is recorded, and whose first tick starts one chat's task."""

    def __init__(self) -> None:
        super().__init__(poll_s=NEVER)
        self.ticks = 0
        self.ticked = asyncio.Event()
        self.chat_cancelled = asyncio.Event()
        self.chat_started = asyncio.Event()

    async def _tick(self) -> None:
        self.ticks += 1
        if self.ticks == 1:
            self._chats.start("42", self._chat())
        self.ticked.set()

    async def _chat(self) -> None:
        self.chat_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.chat_cancelled.set()
            raise


async def test_chat_loop_ticks_when_woken_and_stops_cleanly_on_cancel() -> None:
    loop = _Loop()
    runner = asyncio.create_task(loop.run())
    await _bounded(loop.ticked.wait())
    await _bounded(loop.chat_started.wait())
    assert loop.ticks == 1
    loop.ticked.clear()
    loop.wake()
    await _bounded(loop.ticked.wait())
    assert loop.ticks == 2
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await _bounded(runner)
    assert loop.chat_cancelled.is_set()  # the chats' tasks stop with the loop


async def test_chat_loop_without_a_tick_says_so() -> None:
    with pytest.raises(TypeError, match="_tick"):
        ChatLoop(poll_s=NEVER)  # a loop must say how it finds chats with work
