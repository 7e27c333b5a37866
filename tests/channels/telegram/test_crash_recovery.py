"""kill -9 between receiving an update and replying to it: still exactly one reply.

A separate process runs the real channel with a slow scripted Rasa (crash_harness.py); the
test kills it with SIGKILL at the worst moments and starts it again on the same database.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from bot.database import make_engine
from channels.telegram.store import PENDING
from channels.telegram.tables import outbox
from tests.channels.telegram.conftest import SECRET, settle_database
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import text_update
from tests.support.stack import PROJECT, START_ATTEMPTS, free_port, http

pytestmark = pytest.mark.integration
CHAT = 7301


class Harness:
    def __init__(self, tmp_path: Path, fake: FakeBotApi) -> None:
        self.port = free_port()
        self.db = f"sqlite:///{tmp_path / 'telegram.db'}"
        self.fake = fake
        self.log = tmp_path / "harness.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Harness":
        """Start the harness; on a new port if its port was taken before it could bind it."""
        for _ in range(START_ATTEMPTS):
            if self._start_once():
                return self
            self.port = free_port()
        raise RuntimeError(f"harness found its port taken {START_ATTEMPTS} times:\n"
                           f"{self.log.read_text()}")

    def _start_once(self) -> bool:
        offset = len(self.log.read_text()) if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.channels.telegram.crash_harness",
                 "--port", str(self.port), "--db", self.db, "--api", self.fake.base_url,
                 "--delay", "3"], cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "address already in use" in self.log.read_text()[offset:].lower():
                    return False
                raise AssertionError(self.log.read_text())
            if self._listening():
                return True
            time.sleep(0.2)
        raise RuntimeError(f"harness did not start:\n{self.log.read_text()}")

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def post(self, update: dict) -> int:
        status, _ = http("POST", f"http://127.0.0.1:{self.port}/webhooks/telegram/webhook",
                         update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=5)
        return status

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def postponed(self) -> bool:
        """A pending message carries a later time (a 429's retry_after): the restart must
        honour it."""
        engine = make_engine(self.db)
        try:
            with engine.connect() as db:
                return bool(db.execute(select(outbox.c.id).where(
                    outbox.c.state == PENDING, outbox.c.not_before > 0)).first())
        finally:
            engine.dispose()

    def handled(self) -> list[str]:
        return [line.split()[1] for line in self.log.read_text().splitlines()
                if line.startswith("handling ")]


@pytest.fixture
def harness(tmp_path: Path, fake: FakeBotApi) -> Iterator[Harness]:
    harness = Harness(tmp_path, fake)
    yield harness
    harness.stop()


def test_killed_during_the_turn_it_replies_once_after_restart(harness: Harness,
                                                              fake: FakeBotApi) -> None:
    harness.start()
    update = text_update(1, CHAT, "are you there?")
    assert harness.post(update) == 200
    assert fake.wait_until(lambda: harness.handled() == ["telegram-1"], 10)

    harness.kill()  # mid-turn: stored and claimed, not answered
    assert fake.texts(str(CHAT)) == []
    harness.start()
    assert harness.post(update) == 200  # Telegram may re-send it as well

    settle_database(harness.db)  # every update finished, every message sent: nothing follows
    assert fake.texts(str(CHAT)) == ["echo: are you there?"]
    assert harness.handled() == ["telegram-1", "telegram-1"]  # the turn ran again, once


def test_killed_after_answering_it_delivers_once_after_restart(harness: Harness,
                                                               fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=4)
    harness.start()
    assert harness.post(text_update(2, CHAT, "hello")) == 200
    assert fake.wait_until(harness.postponed, 15)  # the 429 reached the store

    harness.kill()  # answered and queued; delivery waits out the 429
    harness.start()

    settle_database(harness.db)
    assert fake.texts(str(CHAT)) == ["echo: hello"]
    assert harness.handled() == ["telegram-2"]  # Rasa was not asked twice
    sends = fake.calls_of("sendMessage", delivered=False)
    assert [call.status for call in sends] == [429, 200]
    assert sends[1].at - sends[0].at >= 4.0
