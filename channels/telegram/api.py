"""The Bot API through python-telegram-bot: one `telegram.Bot`, and what its errors mean.

`BotApi.call` makes one rendered call. `classify_error` sorts the errors the outbox and the hub's
sender must tell apart: Telegram asking us to wait (429 retry_after), a failure worth trying
again (network, timeout), and a refusal that will not change (bad request, bot blocked).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import warnings
from dataclasses import dataclass
from typing import Any, Optional

import telegram
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.settings import Settings
from channels.telegram.rendering import ApiCall

logger = logging.getLogger(__name__)

LATER, TRANSIENT, PERMANENT = "later", "transient", "permanent"


class NotConfigured(RuntimeError):
    """No bot token: Telegram is off."""


@dataclass(frozen=True)
class Failure:
    kind: str  # LATER, TRANSIENT or PERMANENT
    wait: float  # seconds Telegram asked us to wait (LATER)
    reason: str


def classify_error(error: TelegramError) -> Failure:
    if isinstance(error, RetryAfter):
        return Failure(LATER, retry_after_seconds(error), str(error))
    # BadRequest is a NetworkError subclass: test the permanent ones first
    if isinstance(error, (BadRequest, Forbidden, ChatMigrated)):
        return Failure(PERMANENT, 0.0, f"{type(error).__name__}: {error}")
    return Failure(TRANSIENT, 0.0, f"{type(error).__name__}: {error}")


def retry_delay(failure: Failure, attempt: int, backoff_s: float,
                max_backoff_s: float = float("inf")) -> Optional[float]:
    """Seconds to wait before trying a failed call again, or None to give up.

    The one back-off rule for every caller: a 429 waits what Telegram asked for (it is not
    a failed attempt), a transient error waits `backoff_s` doubled per earlier attempt (at
    most `max_backoff_s`), a permanent error is not retried.
    """
    if failure.kind == LATER:
        return failure.wait
    if failure.kind == PERMANENT:
        return None
    return min(max_backoff_s, backoff_s * 2 ** max(0, attempt - 1))


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    seconds = value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)
    return max(0.0, seconds)


def _markup(value: Any) -> Any:
    """reply_markup JSON as the python-telegram-bot object the method expects."""
    if not isinstance(value, dict):
        return value
    if "inline_keyboard" in value:
        return telegram.InlineKeyboardMarkup.de_json(value, None)
    if "keyboard" in value:
        return telegram.ReplyKeyboardMarkup.de_json(value, None)
    if value.get("remove_keyboard"):
        return telegram.ReplyKeyboardRemove(selective=value.get("selective"))
    if value.get("force_reply"):
        return telegram.ForceReply(selective=value.get("selective"),
                                   input_field_placeholder=value.get("input_field_placeholder"))
    return value


def chat_ref(chat_id: str) -> Any:
    """Telegram chat ids are integers; a public channel may be an @username."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


class BotApi:
    """The bot's connection to the Bot API (base URL from settings, so tests use a fake)."""

    def __init__(self, token: str, base_url: str) -> None:
        self._requests = (HTTPXRequest(connection_pool_size=64, read_timeout=15.0,
                                       write_timeout=15.0, pool_timeout=5.0),
                          HTTPXRequest(connection_pool_size=1, read_timeout=10.0))
        self.bot = telegram.Bot(token, base_url=base_url, request=self._requests[0],
                                get_updates_request=self._requests[1])
        self._me: Optional[telegram.User] = None
        self._me_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "BotApi":
        if not settings.telegram_token:
            raise NotConfigured("RAPPORT_TELEGRAM_TOKEN is not set")
        return cls(settings.telegram_token, settings.telegram_api_url)

    async def me(self) -> telegram.User:
        """The bot's own user (getMe, asked once)."""
        async with self._me_lock:
            if self._me is None:
                self._me = await self.bot.get_me()
        return self._me

    async def call(self, chat_id: str, call: ApiCall) -> Any:
        params = dict(call.params)
        if "reply_markup" in params:
            params["reply_markup"] = _markup(params["reply_markup"])
        method = getattr(self.bot, call.method)
        return await method(chat_id=chat_ref(chat_id), **params)

    async def typing(self, chat_id: str) -> None:
        """Show "typing…" for about five seconds; a failure only costs the indicator."""
        try:
            await self.bot.send_chat_action(chat_ref(chat_id), telegram.constants.ChatAction.TYPING)
        except TelegramError as error:
            logger.debug("telegram: typing indicator for %s failed: %s", chat_id, error)

    async def answer_callback(self, query_id: str) -> None:
        """Stop the button's spinner; Telegram forgets unanswered queries anyway."""
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as error:
            logger.debug("telegram: answering callback query failed: %s", error)

    async def remove_keyboard(self, chat_id: str, message_id: int) -> None:
        """Take the buttons off a message once one was pressed (no stale presses later)."""
        try:
            await self.bot.edit_message_reply_markup(chat_ref(chat_id), message_id,
                                                     reply_markup=None)
        except TelegramError as error:
            logger.debug("telegram: removing a keyboard failed: %s", error)

    async def close(self) -> None:
        for request in self._requests:
            await request.shutdown()
