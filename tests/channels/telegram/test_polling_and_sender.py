"""Polling for development, and the sender the hub uses during a handoff."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channel_registry import ChannelRegistry, DeliveryFailed
from channels.telegram import TelegramSender
from tests.channels.telegram.conftest import telegram_settings
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import callback_update, text_update

CHAT = 6101


async def test_polling_deletes_the_webhook_and_feeds_the_same_worker(
        start_channel, tmp_path: Path, fake: FakeBotApi, scripted) -> None:
    fake.webhook = {"url": "https://old.example.com/hook", "secret_token": "x"}
    settings = telegram_settings(tmp_path, fake, RAPPORT_TELEGRAM_POLLING="1",
                                 RAPPORT_TELEGRAM_WEBHOOK_SECRET="")
    channel = await start_channel(settings, scripted)

    def confirmed(update_id: int) -> bool:
        """The poller asked for what follows `update_id`: it has stored it."""
        return str(update_id + 1) in [call.params.get("offset")
                                      for call in fake.calls_of("getUpdates")]

    fake.push_update(text_update(1, CHAT, "polled hello"))
    fake.push_update(text_update(2, CHAT, "polled again"))
    assert await fake.until(lambda: confirmed(2), 10)
    await channel.settled()
    assert fake.texts(str(CHAT)) == ["echo: polled hello", "echo: polled again"]
    fake.push_update(callback_update(3, CHAT, "a plain payload"))
    assert await fake.until(lambda: confirmed(3), 10)
    await channel.settled()

    assert fake.texts(str(CHAT)) == ["echo: polled hello", "echo: polled again",
                                     "echo: a plain payload"]
    methods = [call.method for call in fake.calls if call.method in ("deleteWebhook",
                                                                     "getUpdates")]
    assert methods[0] == "deleteWebhook" and fake.webhook["url"] == ""
    offsets = [call.params.get("offset") for call in fake.calls_of("getUpdates")]
    assert "3" in offsets and "4" in offsets  # each batch confirmed only after it was stored
    assert fake.calls_of("getUpdates")[0].params["allowed_updates"] == [
        "message", "edited_message", "callback_query"]


@pytest.fixture
async def sender(tmp_path: Path, fake: FakeBotApi):
    sender = TelegramSender.from_settings(telegram_settings(tmp_path, fake))
    sender.backoff_s = 0.05
    yield sender
    await sender.close()


async def test_the_hub_sender_renders_like_replies(sender: TelegramSender,
                                                   fake: FakeBotApi) -> None:
    long_payload = '/inform{"issue_type": "damaged", "note": "longer than sixty-four bytes!!"}'

    await sender.send(str(CHAT), [
        {"text": "Hi, this is Sam from customer care."},
        {"text": "x" * 5000},
        {"text": "Which one?", "buttons": [{"title": "That", "payload": long_payload}]},
        {"image": "https://example.com/label.png"},
    ])

    calls = fake.messages(str(CHAT))
    assert [call.method for call in calls] == ["sendMessage"] * 4 + ["sendPhoto"]
    token = calls[3].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert await sender.store.button_payload(token) == long_payload


async def test_the_hub_sender_waits_out_a_429_and_delivers_once(sender: TelegramSender,
                                                                fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=1)

    await sender.send(f"tg-{CHAT}", [{"text": "Sorry for the wait."}])

    assert fake.texts(str(CHAT)) == ["Sorry for the wait."]
    assert [call.status for call in fake.calls_of("sendMessage", delivered=False)] == [429, 200]


async def test_the_hub_sender_reports_what_it_cannot_deliver(sender: TelegramSender,
                                                             fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", status=403, description="Forbidden: bot was blocked by the user")

    with pytest.raises(DeliveryFailed, match="blocked by the user"):
        await sender.send(str(CHAT), [{"text": "Are you there?"}])

    fake.fail_next("sendMessage", status=502, times=5, description="Bad Gateway")
    with pytest.raises(DeliveryFailed, match=r"0 of 1 messages delivered"):
        await sender.send(str(CHAT), [{"text": "Hello?"}])
    assert len(fake.calls_of("sendMessage", delivered=False)) == 1 + 3  # three attempts


async def test_the_hub_sender_without_a_token(tmp_path: Path, fake: FakeBotApi) -> None:
    settings = telegram_settings(tmp_path, fake, RAPPORT_TELEGRAM_TOKEN="")
    sender = ChannelRegistry.installed().sender_for("telegram", settings)

    with pytest.raises(DeliveryFailed, match="not configured"):
        await sender.send(str(CHAT), [{"text": "Hi"}])
    await sender.close()
