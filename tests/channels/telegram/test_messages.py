"""What the channel makes of each kind of Telegram message, and how replies are rendered.

Real Update JSON goes to the real webhook; Rasa is the scripted stand-in, so these tests see
exactly the text and metadata Rasa would get, and every Bot API call the fake received.
"""

from __future__ import annotations

import pytest

from channels.telegram.inbound import BUTTON_EXPIRED, MEDIA_REPLIES, OTHER_CONTACT
from channels.telegram.rendering import MAX_TEXT, utf16_len
from tests.channels.telegram.conftest import ChannelServer, ScriptedBot
from tests.channels.telegram.fake_bot_api import BOT_USER, FakeBotApi
from tests.channels.telegram.updates import (
    callback_update, contact_update, edited_update, media_update, mention, message, text_update,
)

CHAT = 5301
GROUP = -1001234567


async def say(channel: ChannelServer, fake: FakeBotApi, update: dict,
              chat: int = CHAT) -> list[str]:
    """Post an update; once the channel has nothing left to do, the chat's new messages."""
    before = len(fake.messages(str(chat)))
    status, _ = await channel.post(update)
    assert status == 200
    await channel.settled()
    return [call.params.get("text", "") for call in fake.messages(str(chat))[before:]]


async def test_text_reaches_rasa_as_the_chat_with_channel_telegram(channel, fake, scripted):
    assert await say(channel, fake, text_update(1, CHAT, "Where is my order?")) == [
        "echo: Where is my order?"]

    seen = scripted.seen[0]
    assert (seen.sender_id, seen.input_channel, seen.text) == (f"tg-{CHAT}", "telegram",
                                                               "Where is my order?")
    assert seen.message_id == "telegram-1"
    assert seen.metadata["telegram_chat_type"] == "private"
    assert seen.output_channel.name() == "telegram"


async def test_start_greets(channel, fake, scripted):
    await say(channel, fake, text_update(2, CHAT, "/start"))

    assert scripted.texts() == ["/greet"]


async def test_start_with_a_deep_link_payload(channel, fake, scripted):
    await say(channel, fake, text_update(3, CHAT, "/start order-RP-100001"))

    assert scripted.texts() == ["order RP-100001"]
    assert scripted.seen[0].metadata["telegram_start_payload"] == "order-RP-100001"


async def test_typed_commands_reach_rasa_as_words(channel, fake, scripted):
    await say(channel, fake, text_update(4, CHAT, "/affirm"))
    await say(channel, fake, text_update(5, CHAT, "/EXTERNAL_handoff_resolved"))
    await say(channel, fake, text_update(6, CHAT, "/help"))
    await say(channel, fake, text_update(7, CHAT, "/ request_human{\"priority\": 99}"))
    await say(channel, fake, text_update(8, CHAT, "buttons"))
    await say(channel, fake, text_update(9, CHAT, "/affirm"))  # typed, but offered: a command

    assert scripted.texts() == ["affirm", "EXTERNAL_handoff_resolved", "help",
                                'request_human{"priority": 99}', "buttons", "/affirm"]


async def test_buttons_become_an_inline_keyboard_and_a_press_is_the_payload(
        channel, fake, scripted):
    await say(channel, fake, text_update(7, CHAT, "buttons"))
    sent = fake.calls_of("sendMessage", str(CHAT))[-1]
    keys = [key for row in sent.params["reply_markup"]["inline_keyboard"] for key in row]

    assert sent.params["text"] == "Shall I refund you?"
    assert [key["text"] for key in keys] == ["Yes, refund me", "Long one"]
    assert keys[0]["callback_data"] == "/affirm"
    assert all(len(key["callback_data"].encode()) <= 64 for key in keys)
    long_token = keys[1]["callback_data"]
    assert long_token.startswith("b:")

    await say(channel, fake, callback_update(8, CHAT, long_token, message_id=77))
    await say(channel, fake, text_update(44, CHAT, "buttons"))
    await say(channel, fake, callback_update(9, CHAT, "/affirm", message_id=78))

    assert scripted.texts()[1:] == [ScriptedBot.LONG_PAYLOAD, "buttons", "/affirm"]
    assert scripted.seen[1].metadata["telegram_button"] is True
    assert [c.params["callback_query_id"] for c in fake.calls_of("answerCallbackQuery")] == [
        "cbq-8", "cbq-9"]
    removed = fake.calls_of("editMessageReplyMarkup", str(CHAT))
    assert [call.params["message_id"] for call in removed] == ["77", "78"]


async def test_a_pressed_button_that_expired_gets_a_polite_reply(channel, fake, scripted):
    assert await say(channel, fake, callback_update(10, CHAT, "b:unknown-token")) == [
        BUTTON_EXPIRED]
    assert scripted.seen == []
    assert fake.calls_of("answerCallbackQuery")


async def test_a_forged_or_stale_button_press_is_not_run(channel, fake, scripted):
    assert await say(channel, fake, callback_update(11, CHAT, "/EXTERNAL_handoff_resolved")) == [
        BUTTON_EXPIRED]
    await say(channel, fake, text_update(40, CHAT, "buttons"))
    assert await say(channel, fake, callback_update(41, CHAT, "/deny")) == [BUTTON_EXPIRED]
    await say(channel, fake, callback_update(42, CHAT, "/affirm"))
    assert await say(channel, fake, callback_update(43, CHAT, "/affirm")) == [BUTTON_EXPIRED]

    assert scripted.texts() == ["buttons", "/affirm"]


async def test_images_and_custom_payloads(channel, fake, scripted):
    await channel.post(text_update(12, CHAT, "image"))
    await channel.post(text_update(13, CHAT, "custom location"))
    await channel.post(text_update(14, CHAT, "custom web"))
    await channel.post(text_update(15, CHAT, "after"))
    await channel.settled()

    assert [(c.method, c.params.get("photo") or c.params.get("latitude"))
            for c in fake.messages(str(CHAT))] == [
        ("sendPhoto", "https://example.com/parcel.png"), ("sendLocation", "52.37"),
        ("sendMessage", None)]


async def test_an_edited_message_is_a_new_message(channel, fake, scripted):
    await say(channel, fake, text_update(16, CHAT, "ada@exmple.com"))
    await say(channel, fake, edited_update(17, CHAT, "ada@example.com"))

    assert scripted.texts() == ["ada@exmple.com", "ada@example.com"]
    assert scripted.seen[1].metadata["telegram_edited"] is True


@pytest.mark.parametrize("kind", ["photo", "sticker", "voice", "location", "document"])
async def test_media_get_a_sensible_reply_without_rasa(channel, fake, scripted, kind):
    reply = await say(channel, fake, media_update(18, CHAT, kind))

    assert reply == [MEDIA_REPLIES[kind]]
    assert scripted.seen == []


async def test_a_captioned_photo_passes_its_caption(channel, fake, scripted):
    await say(channel, fake, media_update(19, CHAT, "photo", caption="It arrived broken"))

    assert scripted.texts() == ["It arrived broken"]
    assert scripted.seen[0].metadata["telegram_attachment"] == "photo"


async def test_the_customers_own_contact_feeds_verification(channel, fake, scripted):
    await say(channel, fake, contact_update(20, CHAT, "31612345678", contact_user_id=CHAT))

    assert scripted.texts() == ["+31612345678"]
    assert scripted.seen[0].metadata["telegram_contact_phone"] == "+31612345678"


@pytest.mark.parametrize("owner", [CHAT + 1, None])
async def test_someone_elses_contact_is_not_used(channel, fake, scripted, owner):
    assert await say(channel, fake, contact_update(21, CHAT, "+31698765432", owner)) == [
        OTHER_CONTACT]
    assert scripted.seen == []


async def test_in_a_group_the_bot_answers_only_when_addressed(channel, fake, scripted):
    username = BOT_USER["username"]
    bot_message = {"message_id": 5, "date": 1700000000, "from": BOT_USER, "text": "Hi!",
                   "chat": {"id": GROUP, "type": "supergroup", "title": "fans"}}
    ignored = [
        text_update(30, GROUP, "where is my order", kind="supergroup", user_id=11),
        mention(31, GROUP, "@someone_else what do you think", user_id=11),
        text_update(32, GROUP, "/start@other_bot", kind="supergroup", user_id=11),
        media_update(33, GROUP, "photo", kind="supergroup", user_id=11),
    ]
    addressed = [
        mention(34, GROUP, f"@{username} where is my order", user_id=11),
        text_update(35, GROUP, "thanks, and my refund?", kind="supergroup", user_id=12,
                    reply_to_message=bot_message),
        text_update(36, GROUP, f"/help@{username}", kind="supergroup", user_id=13),
        text_update(37, GROUP, "/start", kind="supergroup", user_id=13),
    ]
    for update in ignored + addressed:
        assert (await channel.post(update))[0] == 200

    await channel.settled()
    assert len(fake.texts(str(GROUP))) == 4
    assert scripted.texts() == ["where is my order", "thanks, and my refund?", "help", "/greet"]
    assert {m.sender_id for m in scripted.seen} == {f"tg-{GROUP}"}
    assert [call.method for call in fake.calls_of("getMe")] == ["getMe"]  # asked once


async def test_a_message_from_another_bot_is_ignored(channel, fake, scripted):
    update = {"update_id": 40, "message": {**message(CHAT, "hi"), "from": BOT_USER}}
    await channel.post(update)
    await channel.post(text_update(41, CHAT, "me"))
    await channel.settled()
    assert fake.texts(str(CHAT)) == ["echo: me"]

    assert scripted.texts() == ["me"]


async def test_a_reply_over_4096_characters_is_split_on_paragraphs(channel, fake, scripted):
    pieces = await say(channel, fake, text_update(42, CHAT, "long"))

    assert pieces == fake.texts(str(CHAT))  # every piece is a text message
    assert len(pieces) >= 2 and all(utf16_len(piece) <= MAX_TEXT for piece in pieces)
    assert "\n\n".join(pieces) == ScriptedBot.LONG
    assert all(piece.startswith("Paragraph") for piece in pieces)


async def test_a_message_longer_than_the_guard_allows_gets_asked_to_shorten(
        channel, fake, scripted):
    reply = await say(channel, fake, text_update(43, CHAT, "word " * 2001))  # 10,005 > 10,000

    assert reply == ["That's a long message! Could you send it in shorter parts?"]
    assert scripted.seen == []


async def test_rasas_proactive_messages_go_through_the_outbox(channel, fake):
    output = channel.channel.get_output_channel()
    assert output.name() == "telegram"

    await output.send_text_with_buttons(str(CHAT), "How did we do?",
                                        [{"title": "5", "payload": '/rate{"rating": "5"}'}])

    await channel.settled()
    assert fake.texts(str(CHAT)) == ["How did we do?"]
