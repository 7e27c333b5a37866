"""Rasa's bot messages as Telegram Bot API calls: text split to fit, buttons, images, custom.

Pure functions: no network, no database. A rendered call names a `telegram.Bot` method and
its JSON-serialisable keyword arguments without `chat_id`, which the sender adds from the
outbox row, so no message (not even a custom payload) can choose another chat.
"""

from __future__ import annotations

import inspect
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import telegram

logger = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram's limit, counted in UTF-16 code units
MAX_CALLBACK_BYTES = 64
BUTTON_TOKEN_PREFIX = "b:"
ONE_ROW_BUTTONS, ONE_ROW_TITLE_CHARS = 5, 30
NO_TEXT = "Please choose:"

# A custom payload is passed through when it has the keys of one of these Bot API methods.
CUSTOM_METHODS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("latitude", "longitude", "title", "address"), "send_venue"),
    (("latitude", "longitude"), "send_location"),
    (("phone_number", "first_name"), "send_contact"),
    (("question", "options"), "send_poll"),
    (("photo",), "send_photo"),
    (("document",), "send_document"),
    (("video",), "send_video"),
    (("animation",), "send_animation"),
    (("audio",), "send_audio"),
    (("voice",), "send_voice"),
    (("sticker",), "send_sticker"),
    (("media",), "send_media_group"),
    (("text",), "send_message"),
)
ALLOWED_METHODS = frozenset(method for _, method in CUSTOM_METHODS)
_NOT_PARAMS = {"self", "chat_id", "read_timeout", "write_timeout", "connect_timeout",
               "pool_timeout", "api_kwargs"}


@dataclass(frozen=True)
class ApiCall:
    """One Bot API call: a `telegram.Bot` method name and its keyword arguments."""

    method: str
    params: dict[str, Any]


@dataclass
class Rendered:
    """Calls to make, in order, and the long button payloads they refer to by token."""

    calls: list[ApiCall] = field(default_factory=list)
    buttons: dict[str, str] = field(default_factory=dict)

    def extend(self, other: "Rendered") -> "Rendered":
        self.calls.extend(other.calls)
        self.buttons.update(other.buttons)
        return self


def render(messages: Iterable[dict[str, Any]]) -> Rendered:
    """All of Rasa's messages for one turn, in order."""
    rendered = Rendered()
    for message in messages:
        rendered.extend(render_message(message))
    return rendered


def render_message(message: dict[str, Any]) -> Rendered:
    """One message in Rasa's format: text, buttons/quick_replies, image, attachment, custom."""
    rendered = Rendered()
    text = str(message.get("text") or "").strip()
    choices = message.get("buttons") or message.get("quick_replies") or []
    if choices:
        markup, tokens = keyboard(choices)
        parts = split_text(text or NO_TEXT)
        rendered.calls += [ApiCall("send_message", {"text": part}) for part in parts[:-1]]
        rendered.calls.append(ApiCall("send_message", {"text": parts[-1], "reply_markup": markup}))
        rendered.buttons.update(tokens)
    elif text:
        rendered.calls += [ApiCall("send_message", {"text": part}) for part in split_text(text)]
    if message.get("custom") is not None:
        call = custom_call(message["custom"])
        if call:
            rendered.calls.append(call)
    if message.get("image"):
        rendered.calls.append(ApiCall("send_photo", {"photo": str(message["image"])}))
    attachment = message.get("attachment")
    if isinstance(attachment, str) and attachment.startswith(("https://", "http://")):
        rendered.calls.append(ApiCall("send_document", {"document": attachment}))
    elif attachment:
        logger.info("telegram: ignoring an attachment that is not a URL")
    return rendered


# --------------------------------------------------------------------------- text

def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…])\s+"),
           re.compile(r"\s+"))


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` UTF-16 units, cut at a paragraph, line, sentence or word."""
    pieces: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        window = _fitting_prefix(rest, limit)
        cut = _last_break(window)
        if cut is None:
            head, rest = window, rest[len(window):]
        else:
            head, rest = window[:cut[0]], rest[cut[1]:]
        pieces.append(head.rstrip())
        rest = rest.lstrip()
    if rest:
        pieces.append(rest)
    return pieces or [""]


def _fitting_prefix(text: str, limit: int) -> str:
    cut = min(len(text), limit)
    while utf16_len(text[:cut]) > limit:
        cut -= 1
    if cut and "\ud800" <= text[cut - 1] <= "\udbff":  # never split a surrogate pair
        cut -= 1
    return text[:cut]


def _last_break(window: str) -> Optional[tuple[int, int]]:
    """(end of the head, start of the rest) at the best break in the window's second half."""
    for pattern in _BREAKS:
        matches = [m for m in pattern.finditer(window) if m.start() > len(window) // 2]
        if matches:
            return matches[-1].start(), matches[-1].end()
    return None


# --------------------------------------------------------------------------- buttons

def keyboard(choices: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    """An inline keyboard (as Bot API JSON) and the tokens standing in for long payloads."""
    tokens: dict[str, str] = {}
    keys = []
    for choice in choices:
        title = str(choice.get("title") or choice.get("payload") or "?")[:64]
        if choice.get("url"):
            keys.append({"text": title, "url": str(choice["url"])})
            continue
        payload = str(choice.get("payload") or title)
        keys.append({"text": title, "callback_data": callback_data(payload, tokens)})
    short = (len(keys) <= ONE_ROW_BUTTONS
             and sum(len(key["text"]) for key in keys) <= ONE_ROW_TITLE_CHARS)
    rows = [keys] if short else [[key] for key in keys]
    return {"inline_keyboard": rows}, tokens


def callback_data(payload: str, tokens: dict[str, str]) -> str:
    """The payload itself when it fits in 64 bytes, else a short token mapped to it."""
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(
            BUTTON_TOKEN_PREFIX):
        return payload
    token = BUTTON_TOKEN_PREFIX + secrets.token_urlsafe(12)
    tokens[token] = payload
    return token


# --------------------------------------------------------------------------- custom payloads

def custom_call(custom: Any) -> Optional[ApiCall]:
    """A custom payload that looks like a Bot API method's parameters, else None (logged)."""
    if not isinstance(custom, dict):
        logger.info("telegram: ignoring a custom payload that is not an object")
        return None
    params = dict(custom)
    method = _method_name(params.pop("method", None))
    if method is None:
        method = next((name for keys, name in CUSTOM_METHODS
                       if all(params.get(key) is not None for key in keys)), None)
    if method not in ALLOWED_METHODS:
        logger.info("telegram: ignoring a custom payload with keys %s (not a Telegram message)",
                    sorted(custom)[:10])
        return None
    accepted = _parameters(method)
    unknown = sorted(set(params) - accepted)
    if unknown:
        logger.info("telegram: dropping custom payload keys %s not accepted by %s",
                    unknown[:10], method)
    return ApiCall(method, {key: value for key, value in params.items() if key in accepted})


def _method_name(name: Any) -> Optional[str]:
    if not isinstance(name, str) or not name:
        return None
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()  # sendLocation → send_location


def _parameters(method: str) -> set[str]:
    signature = inspect.signature(getattr(telegram.Bot, method))
    return {name for name in signature.parameters if name not in _NOT_PARAMS}
