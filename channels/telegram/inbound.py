"""What a Telegram update asks of the bot: a Rasa turn, a fixed reply, or nothing.

Pure decisions on python-telegram-bot's `Update`; `turns.py` carries them out.
- `/start` greets (Rasa gets `/greet`); `/start PAYLOAD` (a t.me deep link) gives Rasa the
  payload as words ("order-RP-100001" → "order RP-100001") and in `telegram_start_payload`.
- A button press is its payload, guarded like typed text; long payloads arrive as tokens.
- An edited message is handled as a new message (`telegram_edited`): people edit to fix a
  typo, say in an e-mail address, and the correction is what they meant.
- Photos, stickers, voice, video, files, locations and polls get a fixed, honest reply (a
  caption is passed to Rasa as text); the customer's own contact passes its number to Rasa
  (`telegram_contact_phone`), anyone else's contact is politely not used.
- In groups the bot answers only when addressed: a mention, a reply to one of its messages,
  or a command (for this bot).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import telegram
from telegram.constants import MessageEntityType

from channels.telegram.rendering import BUTTON_TOKEN_PREFIX

# Telegram sends us only these; everything else is stored as ignored.
HANDLED_UPDATES = ("message", "edited_message", "callback_query")
GREETING = "/greet"  # what /start means to Rasa (an intent the bot itself sends)
_DEEP_LINK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOPIC_AND_VALUE = re.compile(r"^([A-Za-z]+)[-_](.+)$")

MEDIA_REPLIES = {
    "photo": "I can't look at photos yet. Could you describe what you see in a few words?",
    "video": "I can't watch videos yet. Could you describe what you need in a few words?",
    "voice": "I can't listen to voice messages yet. Could you type your question?",
    "document": "I can't open files yet. Could you tell me in a few words what you need?",
    "sticker": "Nice one! I understand words best: tell me what you need and I'll help.",
    "location": "Thanks, but I can't use locations. If it's about a delivery, "
                "send me your order number.",
    "poll": "I can't take part in polls, but I'm happy to answer a question.",
}
MEDIA_KINDS = (  # message attribute → which reply (animation before document: both are set)
    ("photo", "photo"), ("video", "video"), ("video_note", "video"), ("animation", "sticker"),
    ("voice", "voice"), ("audio", "voice"), ("document", "document"), ("sticker", "sticker"),
    ("dice", "sticker"), ("venue", "location"), ("location", "location"), ("poll", "poll"),
)
OTHER_CONTACT = ("Thanks! I can only use your own phone number, shared from your own account, "
                 "so I haven't kept that contact.")
BUTTON_EXPIRED = "That button has expired. Could you type your answer instead?"


@dataclass(frozen=True)
class BotIdentity:
    id: int
    username: str


@dataclass(frozen=True)
class RasaTurn:
    """Hand `text` to Rasa; `trusted` text is ours (e.g. /start's greeting intent), not the
    customer's, so it skips the message guard. A `button_token` stands for a long payload."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    trusted: bool = False
    callback_query_id: Optional[str] = None
    keyboard_message_id: Optional[int] = None
    button_token: Optional[str] = None


@dataclass(frozen=True)
class Reply:
    """Answer with this text; Rasa does not see the message."""

    text: str
    callback_query_id: Optional[str] = None


@dataclass(frozen=True)
class Ignore:
    reason: str
    callback_query_id: Optional[str] = None


Inbound = Union[RasaTurn, Reply, Ignore]


CONVERSATION_PREFIX = "tg-"


def conversation_id_for(chat_id: Any) -> str:
    """Rasa's conversation id for a chat: namespaced, so no other channel's sender id (a REST
    client's, say) can ever name a Telegram customer's conversation."""
    return f"{CONVERSATION_PREFIX}{chat_id}"


def chat_id_of(conversation_id: str) -> str:
    """The chat id of a Telegram conversation id (`tg-<chat id>`; a bare chat id is a
    conversation from before ids were namespaced). ValueError for anything else."""
    chat = conversation_id[len(CONVERSATION_PREFIX):] if conversation_id.startswith(
        CONVERSATION_PREFIX) else conversation_id
    if not re.fullmatch(r"-?[0-9]{1,20}", chat):
        raise ValueError(f"not a Telegram conversation: {conversation_id[:80]!r}")
    return chat


def chat_of(update: telegram.Update) -> Optional[str]:
    """The chat an update we handle belongs to (the Rasa sender id), else None."""
    if not any(getattr(update, kind) is not None for kind in HANDLED_UPDATES):
        return None
    chat = update.effective_chat
    return str(chat.id) if chat is not None else None


def is_group(update: telegram.Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type in (telegram.Chat.GROUP, telegram.Chat.SUPERGROUP)


def read_update(update: telegram.Update, bot: Optional[BotIdentity]) -> Inbound:
    if update.callback_query is not None:
        return _button(update.callback_query)
    message = update.message or update.edited_message
    if message is None:
        return Ignore("update type not handled")
    sender = message.from_user
    if sender is None or sender.is_bot:
        return Ignore("message from a bot or an anonymous admin")
    group = message.chat.type in (telegram.Chat.GROUP, telegram.Chat.SUPERGROUP)
    if group and not _addressed(message, bot):
        return Ignore("group message not addressed to the bot")
    metadata = {"telegram_update_id": update.update_id,
                "telegram_chat_type": str(message.chat.type), "telegram_user_id": sender.id,
                "telegram_message_id": message.message_id}
    if update.edited_message is not None:
        metadata["telegram_edited"] = True
    if message.text is not None:
        command, argument = _command(message.text, bot)
        if command == "start":
            return _start(argument, metadata)
        text = _without_mentions(message.text, bot) if group else message.text
        return RasaTurn(text, metadata) if text.strip() else RasaTurn(GREETING, metadata, trusted=True)
    if message.contact is not None:
        return _contact(message.contact, sender.id, metadata)
    for attribute, kind in MEDIA_KINDS:
        if getattr(message, attribute, None):
            if message.caption:
                caption = _without_mentions(message.caption, bot) if group else message.caption
                return RasaTurn(caption, {**metadata, "telegram_attachment": attribute})
            return Reply(MEDIA_REPLIES[kind])
    return Ignore("service message")


def _button(query: telegram.CallbackQuery) -> Inbound:
    message = query.message
    if message is None or query.data is None:
        return Ignore("button without a chat message or data", callback_query_id=query.id)
    metadata = {"telegram_chat_type": str(message.chat.type),
                "telegram_user_id": query.from_user.id, "telegram_button": True}
    token = query.data if query.data.startswith(BUTTON_TOKEN_PREFIX) else None
    return RasaTurn("" if token else query.data, metadata, callback_query_id=query.id,
                keyboard_message_id=message.message_id, button_token=token)


def _start(argument: str, metadata: dict[str, Any]) -> RasaTurn:
    """/start greets; /start PAYLOAD (a deep link, t.me/bot?start=PAYLOAD) asks about it."""
    payload = argument.strip()
    if not payload or not _DEEP_LINK.match(payload):
        return RasaTurn(GREETING, metadata, trusted=True)
    metadata = {**metadata, "telegram_start_payload": payload}
    match = _TOPIC_AND_VALUE.match(payload)  # order-RP-100001 → "order RP-100001"
    text = f"{match.group(1)} {match.group(2)}" if match else payload.replace("_", " ")
    return RasaTurn(text, metadata)


def _contact(contact: telegram.Contact, sender_id: int, metadata: dict[str, Any]) -> Inbound:
    if contact.user_id is None or contact.user_id != sender_id:
        return Reply(OTHER_CONTACT)
    phone = international_phone(contact.phone_number)
    return RasaTurn(phone, {**metadata, "telegram_contact_phone": phone})


def international_phone(number: str) -> str:
    """Telegram gives international numbers, sometimes without the leading +."""
    digits = re.sub(r"[^\d+]", "", number)
    return digits if digits.startswith("+") else f"+{digits}"


def _command(text: str, bot: Optional[BotIdentity]) -> tuple[Optional[str], str]:
    """("start", "payload") for "/start payload" or "/start@ourbot payload"."""
    match = re.match(r"^/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", text, re.DOTALL)
    if not match:
        return None, ""
    if match.group(2) and (bot is None or match.group(2).lower() != bot.username.lower()):
        return None, ""
    return match.group(1).lower(), match.group(3) or ""


def _addressed(message: telegram.Message, bot: Optional[BotIdentity]) -> bool:
    if bot is None:
        return False
    reply_to = message.reply_to_message
    if reply_to is not None and reply_to.from_user is not None and reply_to.from_user.id == bot.id:
        return True
    text = message.text or message.caption or ""
    entities = message.entities if message.text is not None else message.caption_entities
    handle = f"@{bot.username.lower()}"
    for entity in entities or ():
        piece = _entity_text(text, entity).lower()
        if entity.type == MessageEntityType.MENTION and piece == handle:
            return True
        if (entity.type == MessageEntityType.TEXT_MENTION and entity.user
                and entity.user.id == bot.id):
            return True
        if entity.type == MessageEntityType.BOT_COMMAND and entity.offset == 0 and (
                "@" not in piece or piece.endswith(handle)):
            return True
    return False


def _entity_text(text: str, entity: telegram.MessageEntity) -> str:
    """The entity's text (Telegram counts offsets in UTF-16 code units)."""
    encoded = text.encode("utf-16-le")
    return encoded[2 * entity.offset: 2 * (entity.offset + entity.length)].decode(
        "utf-16-le", errors="replace")


def _without_mentions(text: str, bot: Optional[BotIdentity]) -> str:
    if bot is not None:
        text = re.sub(rf"@{re.escape(bot.username)}\b", "", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
