"""The three real channels, as a customer's app reaches them: REST, web chat, Telegram.

Each `open_*` starts a fresh conversation and returns a `ChannelConversation` whose `say`
sends one customer message the way that channel's client does and returns what the customer
got back (status, replies with their buttons) and Rasa's conversation id for the tracker.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

from channels.webchat.store import hash_token, sender_id_for
from tests.channels.telegram.conftest import SECRET as TELEGRAM_SECRET
from tests.channels.telegram.conftest import settle_database
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import text_update
from tests.support.stack import REST_AUTH, Stack, http, rest_conversation

TELEGRAM_SETTLE_S = 60.0
_telegram_chats = itertools.count(7_100_001)
_telegram_updates = itertools.count(500_000)
_webchat_clients = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    """One bot message as the customer sees it."""

    text: str
    buttons: tuple[str, ...] = ()

    def shown(self) -> str:
        return " ".join([self.text, *self.buttons])


@dataclass(frozen=True)
class Answer:
    """The channel's answer to one customer message."""

    status: int
    replies: tuple[Reply, ...]
    error: str = ""  # the body of an error answer


@dataclass
class ChannelConversation:
    channel: str
    conversation_id: str  # Rasa's sender id, for the tracker and the hub's handoffs
    send: Callable[[str], Answer] = field(repr=False)

    def say(self, text: str) -> Answer:
        return self.send(text)


def open_rest(stack: Stack, name: str) -> ChannelConversation:
    """A conversation of the tests' REST integration, sender `name` plus a fresh suffix."""
    sender = f"{name[:90]}-{secrets.token_hex(4)}"
    url = f"{stack.rasa_url}/webhooks/rest/webhook"

    def send(text: str) -> Answer:
        status, body = http("POST", url, {"sender": sender, "message": text}, headers=REST_AUTH)
        if status != 200 or not isinstance(body, list):
            return Answer(status, (), str(body)[:300])
        return Answer(status, tuple(Reply(str(m.get("text") or ""), tuple(
            str(b.get("title", "")) for b in m.get("buttons") or [])) for m in body))

    return ChannelConversation("rest", rest_conversation(sender), send)


def open_webchat(stack: Stack) -> ChannelConversation:
    """A web chat session from an address of its own (the stack trusts 127.0.0.1 as a proxy),
    so each conversation is a different visitor, as in real use."""
    number = next(_webchat_clients)
    forwarded = {"X-Forwarded-For": f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"}
    status, body = http("POST", f"{stack.rasa_url}/webhooks/webchat/session", {},
                        headers=forwarded)
    if status != 201 or not isinstance(body, dict) or "token" not in body:
        raise RuntimeError(f"the web chat refused a new session: {status} {body}")
    token = body["token"]
    headers = {"Authorization": f"Bearer {token}", **forwarded}

    def send(text: str) -> Answer:
        status, answer = http("POST", f"{stack.rasa_url}/webhooks/webchat/message",
                              {"message": text}, headers=headers)
        if status != 200 or not isinstance(answer, dict):
            return Answer(status, (), str(answer)[:300])
        return Answer(status, tuple(
            Reply(str(m.get("text") or ""), tuple(str(b.get("title", ""))
                                                  for b in m.get("buttons") or []))
            for m in answer.get("messages", []) if m.get("role") == "bot"))

    return ChannelConversation("webchat", sender_id_for(hash_token(token)), send)


def open_telegram(stack: Stack, fake: FakeBotApi) -> ChannelConversation:
    """A private chat of a Telegram user of its own: real Update JSON to the real webhook, the
    replies as the (fake) Bot API received them once the channel has nothing left to do."""
    chat_id = next(_telegram_chats)
    url = f"{stack.rasa_url}/webhooks/telegram/webhook"

    def send(text: str) -> Answer:
        before = len(fake.messages(str(chat_id)))
        status, body = http("POST", url, text_update(next(_telegram_updates), chat_id, text),
                            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
        if status != 200:
            return Answer(status, (), str(body)[:300])
        settle_database(stack.env["RAPPORT_TELEGRAM_DB_URL"], timeout=TELEGRAM_SETTLE_S)
        failed = [call for call in fake.calls if call.chat_id == str(chat_id)
                  and call.status != 200]
        if failed:
            return Answer(failed[-1].status, (), f"Bot API {failed[-1].method} failed")
        return Answer(status, tuple(Reply(str(call.params.get("text") or ""),
                                          _keyboard(call.params))
                                    for call in fake.messages(str(chat_id))[before:]))

    return ChannelConversation("telegram", f"tg-{chat_id}", send)


def _keyboard(params: dict[str, Any]) -> tuple[str, ...]:
    rows = (params.get("reply_markup") or {}).get("inline_keyboard") or []
    return tuple(str(key.get("text", "")) for row in rows for key in row)
