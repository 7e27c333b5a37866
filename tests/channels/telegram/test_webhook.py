"""Webhook semantics under Telegram's real delivery: secrets, re-sends, slow turns, order,
oversized and malformed bodies, 429s, poison updates and a store that is down.

The real channel blueprint runs in a real Sanic server; Rasa is a scripted stand-in.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest

from channels.telegram.worker import APOLOGY
from tests.channels.telegram.conftest import (
    FAST, SECRET, ChannelServer, ScriptedBot, telegram_settings,
)
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import text_update
from tests.support.stack import free_port

CHAT = 4201
SLOW_TURN_S = 15


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET[:-1], SECRET[:1], SECRET + "x",
                                    SECRET.upper()])
async def test_a_wrong_missing_or_prefix_secret_is_refused(channel: ChannelServer,
                                                           fake: FakeBotApi, secret: str) -> None:
    status, body = await channel.post(text_update(1, CHAT, "hello"), secret=secret)

    assert (status, body) == (403, {"error": "forbidden"})
    await channel.settled()
    assert fake.messages() == []


async def test_malformed_json_with_a_wrong_secret_is_403_not_500(channel: ChannelServer) -> None:
    assert (await channel.post(b'{"update_id": 1, "message": ', secret="wrong"))[0] == 403
    assert (await channel.post(b"\xff\xfe not even utf-8", secret=None))[0] == 403


@pytest.mark.parametrize("body", [b'{"update_id": 1, "message": ', b"\xff\xfe", b"[]",
                                  b'{"message": {}}', b'{"update_id": "7"}', b'{"update_id": -1}'])
async def test_malformed_body_with_the_right_secret_is_400(channel: ChannelServer,
                                                           body: bytes) -> None:
    status, answer = await channel.post(body)

    assert status == 400, answer
    assert answer["error"].startswith("not a Telegram update")


async def test_a_replayed_update_gets_one_reply(channel: ChannelServer, fake: FakeBotApi,
                                                scripted: ScriptedBot) -> None:
    update = text_update(10, CHAT, "only once")

    first = await channel.post(update)
    again = await asyncio.gather(*(channel.post(update) for _ in range(5)))
    await channel.settled()
    assert fake.texts(str(CHAT)) == ["echo: only once"]
    later = await channel.post(update)  # after it was answered, too
    await channel.settled()

    assert {first[0], later[0], *(status for status, _ in again)} == {200}
    assert fake.texts(str(CHAT)) == ["echo: only once"]
    assert scripted.texts() == ["only once"]


async def test_a_slow_turn_is_answered_at_once_and_replied_to_later(
        channel: ChannelServer, fake: FakeBotApi) -> None:
    started = time.monotonic()
    status, _ = await channel.post(text_update(20, CHAT, f"slow{SLOW_TURN_S} please"))
    answered = time.monotonic() - started
    # meanwhile another chat is not held up
    await channel.post(text_update(21, CHAT + 1, "meanwhile"))
    assert await fake.until(lambda: fake.texts(str(CHAT + 1)) == ["echo: meanwhile"], 10)
    assert fake.texts(str(CHAT)) == []

    await channel.settled()
    replied = time.monotonic() - started

    assert fake.texts(str(CHAT)) == [f"echo: slow{SLOW_TURN_S} please"]
    assert status == 200 and answered < SLOW_TURN_S / 3  # not after the turn: long before
    assert replied >= SLOW_TURN_S
    assert len(fake.calls_of("sendChatAction", str(CHAT))) >= 3  # "typing…" kept up
    assert fake.calls_of("sendChatAction", str(CHAT))[0].params["action"] == "typing"


async def test_ten_updates_of_one_chat_at_once_are_answered_in_order(
        channel: ChannelServer, fake: FakeBotApi, scripted: ScriptedBot) -> None:
    updates = [text_update(100 + n, CHAT, f"message {n}") for n in range(10)]

    statuses = await asyncio.gather(*(channel.post(update) for update in reversed(updates)))

    assert {status for status, _ in statuses} == {200}
    expected = [f"echo: message {n}" for n in range(10)]
    await channel.settled()
    assert fake.texts(str(CHAT)) == expected
    assert scripted.texts() == [f"message {n}" for n in range(10)]


async def test_chats_run_in_parallel_and_never_get_each_others_replies(
        channel: ChannelServer, fake: FakeBotApi) -> None:
    chats = [CHAT + n for n in range(5)]

    async def one_chat(i: int, chat: int) -> None:
        # Telegram delivers one chat's updates in order; different chats at once. Posting a
        # chat's three at once would let the later ones overtake on a busy machine.
        for n in range(3):
            await channel.post(text_update(200 + 10 * i + n, chat, f"{chat} says {n}"))

    await asyncio.gather(*(one_chat(i, chat) for i, chat in enumerate(chats)))

    await channel.settled()
    assert len(fake.texts()) == 15
    for chat in chats:
        assert fake.texts(str(chat)) == [f"echo: {chat} says {n}" for n in range(3)]


@pytest.mark.parametrize("update", [
    {"update_id": 300, "inline_query": {"id": "q1", "from": {"id": 5, "is_bot": False,
                                                             "first_name": "A"},
                                        "query": "lamps", "offset": ""}},
    {"update_id": 301, "my_chat_member": {
        "chat": {"id": CHAT, "type": "private", "first_name": "Ada"},
        "from": {"id": CHAT, "is_bot": False, "first_name": "Ada"}, "date": 1700000000,
        "old_chat_member": {"status": "member", "user": {"id": 7, "is_bot": True,
                                                         "first_name": "R"}},
        "new_chat_member": {"status": "kicked", "until_date": 0,
                            "user": {"id": 7, "is_bot": True, "first_name": "R"}}}},
    {"update_id": 302, "something_new": {"from_a_future": "Bot API"}},
], ids=["inline_query", "my_chat_member", "unknown"])
async def test_an_update_type_we_do_not_handle_is_200_and_nothing_is_sent(
        channel: ChannelServer, fake: FakeBotApi, scripted: ScriptedBot, update: dict) -> None:
    assert (await channel.post(update))[0] == 200
    assert (await channel.post(update))[0] == 200
    await channel.settled()

    assert fake.messages() == [] and scripted.seen == []


async def test_a_one_megabyte_body_is_refused_unread(channel: ChannelServer, fake: FakeBotApi,
                                                     scripted: ScriptedBot) -> None:
    huge = json.dumps(text_update(400, CHAT, "x" * 1_000_000)).encode()

    status, body = await channel.post(huge)
    wrong_secret, _ = await channel.post(huge, secret="nope")
    chunked_status, _ = await channel.post(_chunked(huge))
    await channel.settled()

    assert (status, body) == (413, {"error": "body too large for a Telegram update"})
    assert wrong_secret == 403 and chunked_status == 413
    assert scripted.seen == [] and fake.messages() == []


def _chunked(body: bytes):
    async def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]
    return chunks()


async def test_429_with_retry_after_delivers_once_later(channel: ChannelServer,
                                                        fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=2)

    await channel.post(text_update(500, CHAT, "flood"))
    await channel.settled()

    refused = [call for call in fake.calls if call.method == "sendMessage" and call.status == 429]
    delivered = fake.calls_of("sendMessage", str(CHAT))
    assert len(refused) == 1 and len(delivered) == 1
    assert delivered[0].at - refused[0].at >= 2.0
    assert fake.texts(str(CHAT)) == ["echo: flood"]


async def test_a_poison_update_is_dead_lettered_and_the_chat_moves_on(
        channel: ChannelServer, fake: FakeBotApi, scripted: ScriptedBot) -> None:
    assert (await channel.post(text_update(600, CHAT, "boom")))[0] == 200
    assert (await channel.post(text_update(601, CHAT, "after the poison")))[0] == 200

    await channel.settled()
    assert fake.texts(str(CHAT)) == [APOLOGY, "echo: after the poison"]
    assert scripted.texts() == ["boom"] * 3 + ["after the poison"]  # three attempts
    letters = await channel.channel.runtime.store.dead_letters()
    assert [(letter["update_id"], letter["chat_id"]) for letter in letters] == [(600, str(CHAT))]
    assert "poison update" in letters[0]["error"]
    assert json.loads(letters[0]["payload"])["message"]["text"] == "boom"


async def test_a_locked_store_answers_503_and_the_resent_update_is_answered(
        start_channel, tmp_path: Path, fake: FakeBotApi, scripted: ScriptedBot) -> None:
    channel = await start_channel(telegram_settings(tmp_path, fake), scripted)
    assert (await channel.post(text_update(700, CHAT, "first")))[0] == 200  # creates the tables
    lock = sqlite3.connect(tmp_path / "telegram.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        status, body = await channel.post(text_update(701, CHAT, "while locked"))
        waited = time.monotonic() - started
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    again, _ = await channel.post(text_update(701, CHAT, "while locked"))  # Telegram re-sends

    assert (status, body) == (503, {"error": "store unavailable, please retry"})
    # the lock was held until the answer: the webhook gave up on its own, near its timeout
    assert waited < 5 * FAST.store_timeout_s and again == 200
    await channel.settled()
    assert fake.texts(str(CHAT)) == ["echo: first", "echo: while locked"]


async def test_an_unreachable_store_answers_503(start_channel, tmp_path: Path, fake: FakeBotApi,
                                               scripted: ScriptedBot) -> None:
    down = f"postgresql+psycopg2://rapport:secret@127.0.0.1:{free_port()}/telegram"
    channel = await start_channel(
        telegram_settings(tmp_path, fake, RAPPORT_TELEGRAM_DB_URL=down), scripted)

    status, body = await channel.post(text_update(800, CHAT, "anyone there?"))

    assert (status, body) == (503, {"error": "store unavailable, please retry"})


async def test_without_a_token_the_channel_answers_503(start_channel, tmp_path: Path,
                                                      fake: FakeBotApi, scripted) -> None:
    channel = await start_channel(
        telegram_settings(tmp_path, fake, RAPPORT_TELEGRAM_TOKEN=""), scripted)

    status, body = await channel.post(text_update(900, CHAT, "hello"))

    assert (status, body) == (503, {"error": "telegram not configured"})


async def test_without_a_webhook_secret_every_call_is_refused(start_channel, tmp_path: Path,
                                                             fake: FakeBotApi, scripted) -> None:
    channel = await start_channel(
        telegram_settings(tmp_path, fake, RAPPORT_TELEGRAM_WEBHOOK_SECRET=""), scripted)

    for secret in (None, "", SECRET):
        assert (await channel.post(text_update(901, CHAT, "hello"), secret=secret))[0] == 403


async def test_a_bot_api_outage_delays_updates_but_never_dead_letters_them(
        channel: ChannelServer, fake: FakeBotApi, scripted: ScriptedBot) -> None:
    fake.fail_next("getMe", status=502, retry_after=None, times=6, description="Bad Gateway")

    assert (await channel.post(text_update(1000, CHAT, "still there?")))[0] == 200

    await channel.settled()
    assert fake.texts(str(CHAT)) == ["echo: still there?"]
    assert len(fake.calls_of("getMe", delivered=False)) == 7
    assert await channel.channel.runtime.store.dead_letters() == []
    assert scripted.texts() == ["still there?"]
