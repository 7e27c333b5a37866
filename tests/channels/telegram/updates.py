"""Real Telegram Update JSON, as the Bot API sends it, for the tests to post."""

from __future__ import annotations

import itertools
import time
from typing import Any, Optional

from tests.channels.telegram.fake_bot_api import BOT_USER

_message_ids = itertools.count(1)


def user(user_id: int, first_name: str = "Ada") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


def chat(chat_id: int, kind: str = "private") -> dict[str, Any]:
    if kind == "private":
        return {"id": chat_id, "type": "private", "first_name": "Ada"}
    return {"id": chat_id, "type": kind, "title": "Lumen & Oak fans"}


def message(chat_id: int, text: Optional[str] = None, *, user_id: Optional[int] = None,
            kind: str = "private", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": next(_message_ids), "date": int(time.time()),
        "chat": chat(chat_id, kind), "from": user(user_id or abs(chat_id)),
    }
    if text is not None:
        body["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    body.update(extra)
    return body


def text_update(update_id: int, chat_id: int, text: str, **extra: Any) -> dict[str, Any]:
    return {"update_id": update_id, "message": message(chat_id, text, **extra)}


def edited_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    edited = message(chat_id, text)
    edited["edit_date"] = int(time.time())
    return {"update_id": update_id, "edited_message": edited}


def media_update(update_id: int, chat_id: int, media_kind: str, caption: Optional[str] = None,
                 **extra: Any) -> dict[str, Any]:
    media = {
        "photo": [{"file_id": "p1", "file_unique_id": "up1", "width": 90, "height": 90}],
        "sticker": {"file_id": "s1", "file_unique_id": "us1", "width": 512, "height": 512,
                    "is_animated": False, "is_video": False, "type": "regular"},
        "voice": {"file_id": "v1", "file_unique_id": "uv1", "duration": 3},
        "location": {"latitude": 52.37, "longitude": 4.89},
        "document": {"file_id": "d1", "file_unique_id": "ud1", "file_name": "receipt.pdf"},
    }[media_kind]
    body = message(chat_id, **extra)
    body[media_kind] = media
    if caption:
        body["caption"] = caption
    return {"update_id": update_id, "message": body}


def contact_update(update_id: int, chat_id: int, phone: str,
                   contact_user_id: Optional[int]) -> dict[str, Any]:
    body = message(chat_id)
    body["contact"] = {"phone_number": phone, "first_name": "Ada"}
    if contact_user_id is not None:
        body["contact"]["user_id"] = contact_user_id
    return {"update_id": update_id, "message": body}


def callback_update(update_id: int, chat_id: int, data: str,
                    message_id: int = 999) -> dict[str, Any]:
    bot_message = {"message_id": message_id, "date": int(time.time()),
                   "chat": chat(chat_id), "from": BOT_USER, "text": "Shall I do that?"}
    return {"update_id": update_id, "callback_query": {
        "id": f"cbq-{update_id}", "from": user(abs(chat_id)), "chat_instance": "ci-1",
        "message": bot_message, "data": data}}


def mention(update_id: int, chat_id: int, text: str, username: str = BOT_USER["username"],
            **extra: Any) -> dict[str, Any]:
    """A group message mentioning @username somewhere in `text`."""
    update = text_update(update_id, chat_id, text, kind="supergroup", **extra)
    at = f"@{username}"
    if at in text:
        offset = len(text[:text.index(at)].encode("utf-16-le")) // 2
        update["message"]["entities"] = [{"type": "mention", "offset": offset,
                                          "length": len(at)}]
    return update
