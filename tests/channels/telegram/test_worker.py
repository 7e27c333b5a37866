"""Scale-out and restarts: processes sharing one store, leases, and turns Rasa already ran."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.settings import Settings
from channels.telegram.api import BotApi
from channels.leases import lease_is_free, new_owner, owner_is_gone
from channels.telegram.store import StoredUpdate, TelegramStore
from channels.telegram.turns import TurnRunner
from channels.telegram.wakeup import Wakeup
from tests.channels.telegram.conftest import ScriptedBot, telegram_settings
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import text_update


@pytest.mark.parametrize("database", [
    "sqlite", pytest.param("postgresql", marks=pytest.mark.scaleout)])
async def test_two_processes_on_one_store_answer_each_update_once_in_order(
        start_channel, request, tmp_path: Path, fake: FakeBotApi, database: str) -> None:
    url = (request.getfixturevalue("pg_telegram_url") if database == "postgresql"
           else f"sqlite:///{tmp_path / 'shared.db'}")
    settings = telegram_settings(tmp_path, fake, RAPPORT_TELEGRAM_DB_URL=url)
    first, second = ScriptedBot(), ScriptedBot()
    servers = [await start_channel(settings, first), await start_channel(settings, second)]
    chats = [8101, 8102, 8103]
    statuses = set()
    for n in range(4):
        # Telegram sends a chat's next update once the previous one is acknowledged; the chats
        # of one round, and each update's re-send, arrive at once. A load balancer spreads the
        # calls, so a re-send may hit the other process.
        posts = []
        for i, chat in enumerate(chats):
            update = text_update(1000 + 10 * n + i, chat, f"{chat}-{n}")
            posts += [servers[(n + i) % 2].post(update), servers[(n + i + 1) % 2].post(update)]
        statuses |= {status for status, _ in await asyncio.gather(*posts)}

    assert statuses == {200}

    await servers[0].settled()  # one store: nothing left to do for either process
    assert len(fake.texts()) == 12
    for chat in chats:
        assert fake.texts(str(chat)) == [f"echo: {chat}-{n}" for n in range(4)]
    assert sorted(first.texts() + second.texts()) == sorted(
        f"{chat}-{n}" for chat in chats for n in range(4))


def test_a_lease_is_free_when_expired_or_its_owner_is_certainly_gone() -> None:
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                            capture_output=True, text=True, check=True)
    dead_pid = int(exited.stdout)
    alive = new_owner()
    host, namespace, _, token = alive.split("|")
    dead = "|".join((host, namespace, str(dead_pid), token))
    elsewhere = "|".join(("another-host", namespace, str(dead_pid), token))

    assert owner_is_gone(dead) and owner_is_gone(None)
    assert not owner_is_gone(alive)  # this very process
    assert not owner_is_gone(elsewhere) and not owner_is_gone("garbage")
    assert lease_is_free(alive, lease_until=99.0, now=100.0)
    assert not lease_is_free(elsewhere, lease_until=200.0, now=100.0)
    assert lease_is_free(dead, lease_until=200.0, now=100.0)


class _TrackerStore:
    def __init__(self, tracker: DialogueStateTracker) -> None:
        self.tracker = tracker

    async def retrieve(self, sender_id: str) -> DialogueStateTracker:
        return self.tracker


async def test_a_turn_rasa_finished_before_a_crash_is_not_run_again(
        tmp_path: Path, settings: Settings, fake: FakeBotApi) -> None:
    chat = "8201"
    tracker = DialogueStateTracker.from_events(chat, [
        ActionExecuted("action_listen"),
        UserUttered("hi", message_id="telegram-41"),
        BotUttered("Hello!", metadata={"utter_action": "utter_greet"}),
        BotUttered("Shall I?", data={"buttons": [{"title": "Yes", "payload": "/affirm"}]}),
        ActionExecuted("action_listen"),
        UserUttered("later", message_id="telegram-42"),
        BotUttered("Not this one"),
    ])
    store = TelegramStore(settings.telegram_db_url)
    api = BotApi(settings.telegram_token, settings.telegram_api_url)
    rasa = ScriptedBot()
    runner = TurnRunner(settings, store, api, rasa, tracker_store=lambda: _TrackerStore(tracker))
    payload = json.dumps(text_update(41, int(chat), "hi"))

    try:
        retried = await runner.run(StoredUpdate(41, chat, payload, 2, 0.0, 0.0))
        first_try = await runner.run(StoredUpdate(41, chat, payload, 1, 0.0, 0.0))
        unknown = await runner.run(StoredUpdate(43, chat, json.dumps(
            text_update(43, int(chat), "new")), 2, 0.0, 0.0))
    finally:
        await api.close()
        await store.close()

    assert retried == [{"text": "Hello!"}, {"text": "Shall I?", "buttons": [
        {"title": "Yes", "payload": "/affirm"}]}]
    assert first_try == [{"text": "echo: hi"}]  # a first attempt always asks Rasa
    assert unknown == [{"text": "echo: new"}]  # not in the tracker: Rasa never saw it
    assert rasa.texts() == ["hi", "new"]


async def test_a_loop_stops_even_when_woken_as_it_is_cancelled() -> None:
    wakeup = Wakeup()

    async def loop() -> None:
        while True:
            await wakeup.sleep(10)

    for _ in range(20):
        task = asyncio.create_task(loop())
        await asyncio.sleep(0.01)
        wakeup.set()  # the wake-up and the cancellation arrive together
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert done and task.cancelled()
