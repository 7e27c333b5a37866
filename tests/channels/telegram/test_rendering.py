"""Rasa messages → Bot API calls: splitting, keyboards, long payloads, custom payloads."""

from __future__ import annotations

import logging

from channels.telegram.rendering import (
    MAX_TEXT, ApiCall, custom_call, keyboard, render, split_text, utf16_len,
)


def test_short_text_is_one_message() -> None:
    assert render([{"text": "Hello!"}]).calls == [ApiCall("send_message", {"text": "Hello!"})]


def test_splits_prefer_paragraphs_then_sentences_then_words() -> None:
    paragraphs = "\n\n".join(["a" * 3000, "b" * 3000])
    sentences = ("This is a sentence. " * 300).strip()
    words = ("word " * 1000).strip()

    assert split_text(paragraphs) == ["a" * 3000, "b" * 3000]
    assert all(piece.endswith(".") for piece in split_text(sentences))
    assert " ".join(split_text(sentences)) == sentences
    assert all(not piece.endswith(" ") and utf16_len(piece) <= MAX_TEXT
               for piece in split_text(words))
    assert " ".join(split_text(words)) == words


def test_a_text_without_breaks_is_cut_hard_and_keeps_every_character() -> None:
    text = "x" * 10000

    assert split_text(text) == ["x" * 4096, "x" * 4096, "x" * 1808]


def test_emoji_count_as_two_units_and_are_never_cut_in_half() -> None:
    text = "😀" * 3000  # 6,000 UTF-16 units

    pieces = split_text(text)

    assert [utf16_len(piece) for piece in pieces] == [4096, 1904]
    assert "".join(pieces) == text


def test_buttons_go_on_the_last_piece() -> None:
    yes = [{"title": "Yes", "payload": "/affirm"}]
    calls = render([{"text": "z" * 5000, "buttons": yes}]).calls

    assert [call.method for call in calls] == ["send_message", "send_message"]
    assert "reply_markup" not in calls[0].params
    assert calls[1].params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Yes", "callback_data": "/affirm"}]]}


def test_few_short_buttons_share_a_row_others_get_one_each() -> None:
    short, _ = keyboard([{"title": str(n), "payload": f"/rate{n}"} for n in range(1, 6)])
    titles = ["It's late", "Damaged", "Wrong item", "Missing"]
    long, _ = keyboard([{"title": title, "payload": f"/p{n}"} for n, title in enumerate(titles)])

    assert len(short["inline_keyboard"]) == 1
    assert [len(row) for row in long["inline_keyboard"]] == [1, 1, 1, 1]


def test_long_and_prefixed_payloads_are_replaced_by_tokens() -> None:
    long_payload = '/inform{"issue_type": "damaged", "order_number": "RP-100003", "x": 1}'
    markup, tokens = keyboard([{"title": "A", "payload": long_payload},
                               {"title": "B", "payload": "b:looks-like-a-token"},
                               {"title": "Ünïcödé", "payload": "é" * 33},
                               {"title": "Site", "url": "https://example.com"}])
    keys = [key for row in markup["inline_keyboard"] for key in row]

    assert set(tokens.values()) == {long_payload, "b:looks-like-a-token", "é" * 33}
    assert all(len(key["callback_data"].encode()) <= 64 for key in keys[:3])
    assert keys[3] == {"text": "Site", "url": "https://example.com"}


def test_custom_payloads_that_look_like_telegram_pass_through() -> None:
    assert custom_call({"latitude": 1.5, "longitude": 2.5}) == ApiCall(
        "send_location", {"latitude": 1.5, "longitude": 2.5})
    assert custom_call({"method": "sendVenue", "latitude": 1, "longitude": 2, "title": "Shop",
                        "address": "Main St 1"}).method == "send_venue"
    assert custom_call({"photo": "https://x/y.png", "caption": "Look"}) == ApiCall(
        "send_photo", {"photo": "https://x/y.png", "caption": "Look"})


def test_custom_payloads_cannot_choose_the_chat_or_other_methods(caplog) -> None:
    caplog.set_level(logging.INFO)

    redirected = custom_call({"text": "hi", "chat_id": 666, "colour": "red"})

    assert redirected == ApiCall("send_message", {"text": "hi"})
    assert custom_call({"method": "banChatMember", "user_id": 1}) is None
    assert custom_call({"handoff": {"queue": "web"}}) is None
    assert custom_call(["not", "an", "object"]) is None
    assert "not a Telegram message" in caplog.text


def test_images_and_attachments() -> None:
    assert render([{"image": "https://example.com/a.png"},
                   {"attachment": "https://example.com/manual.pdf"},
                   {"attachment": {"type": "file"}}]).calls == [
        ApiCall("send_photo", {"photo": "https://example.com/a.png"}),
        ApiCall("send_document", {"document": "https://example.com/manual.pdf"})]
