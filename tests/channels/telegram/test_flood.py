"""A Telegram chat flooding the bot (issue 10, finding 9): its burst is answered, then it is
told once that it is too fast, and the rest of the flood never reaches Rasa."""

from __future__ import annotations

from channels.rate_limit import FLOOD_REPLY
from tests.channels.telegram.conftest import telegram_settings
from tests.channels.telegram.updates import text_update

CHAT, OTHER = 5301, 5302


async def test_a_flooding_chat_is_told_once_and_not_run(tmp_path, fake, scripted,
                                                        start_channel):
    settings = telegram_settings(tmp_path, fake, RAPPORT_FLOOD_BURST="2",
                                 RAPPORT_FLOOD_PER_MINUTE="1")
    channel = await start_channel(settings, scripted)
    for update_id in range(1, 7):
        status, _ = await channel.post(text_update(update_id, CHAT, f"spam {update_id}"))
        assert status == 200
    status, _ = await channel.post(text_update(7, OTHER, "hello"))
    assert status == 200
    await channel.settled()

    replies = [call.params.get("text") for call in fake.messages(str(CHAT))]
    assert sorted(replies) == sorted(["echo: spam 1", "echo: spam 2", FLOOD_REPLY])
    assert len([m for m in scripted.seen if m.sender_id == f"tg-{CHAT}"]) == 2
    assert [call.params.get("text") for call in fake.messages(str(OTHER))] == ["echo: hello"]
