"""The Rasa input channel for Telegram: POST /webhooks/telegram/webhook.

The webhook checks Telegram's secret header before it reads the body, reads at most
`max_body_bytes`, stores the update and answers 200 at once; the runtime's background tasks
run the Rasa turn and deliver the replies. It answers 503 when the store is down (Telegram
re-sends), 403 to a wrong or missing secret, 413/400 to bodies that are no update. Without a
token the channel loads but answers 503 "telegram not configured".
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import Settings
from channels.http_body import BodyTooLarge, cap_request_size, read_body
from channels.telegram.output import OutboxOutputChannel
from channels.telegram.runtime import TelegramRuntime, Tuning
from channels.telegram.store import StoreUnavailable

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _error(reason: str, status: int) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


def parse_update(body: bytes) -> dict[str, Any]:
    """The update as JSON; ValueError if it is not an object with an integer update_id."""
    try:
        data = json.loads(body.decode("utf-8"))
    except RecursionError as error:
        raise ValueError("nested too deeply") from error
    if not isinstance(data, dict):
        raise ValueError("an update is a JSON object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or \
            not 0 <= update_id < 2**62:
        raise ValueError("update_id must be a non-negative integer")
    return data


class TelegramInput(InputChannel):
    """Telegram, built for at-least-once webhook delivery (the package docstring has the map)."""

    _warned: set[str] = set()

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        # Nothing secret lives in credentials.yml: token and secret come from bot.settings.
        return cls()

    def __init__(self, settings: Optional[Settings] = None,
                 tuning: Optional[Tuning] = None) -> None:
        self._settings = settings
        self.tuning = tuning or Tuning()
        self.runtime: Optional[TelegramRuntime] = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(text)

    def _secret_ok(self, presented: Optional[str]) -> bool:
        expected = self.settings.telegram_webhook_secret
        if not expected:
            self._warn_once("secret", "telegram: RAPPORT_TELEGRAM_WEBHOOK_SECRET is not set, so "
                            "the webhook refuses every call; run `rapport telegram set-webhook`")
            return False
        return hmac.compare_digest((presented or "").encode("utf-8"), expected.encode("utf-8"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("rapport_telegram_webhook", __name__)
        if self.settings.telegram_token:
            self.runtime = TelegramRuntime(self.settings, on_new_message, self.tuning)
        else:
            self._warn_once("token", "telegram: RAPPORT_TELEGRAM_TOKEN is not set; the Telegram "
                            "channel answers 503 until it is")

        @webhook.listener("before_server_start")
        async def cap_requests(app: Any, _loop: Any) -> None:
            cap_request_size(app)

        @webhook.listener("after_server_start")
        async def start(app: Any, _loop: Any) -> None:
            if self.runtime:
                await self.runtime.start(app)

        @webhook.listener("before_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            if self.runtime:
                await self.runtime.stop()

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if self.runtime is None:
                return _error("telegram not configured", 503)
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request)

        return webhook

    async def _receive(self, request: Request) -> HTTPResponse:
        runtime = self.runtime
        if runtime is None:
            return _error("telegram not configured", 503)
        if not self._secret_ok(request.headers.get(SECRET_HEADER)):
            return _error("forbidden", 403)
        try:
            data = parse_update(await read_body(request, self.tuning.max_body_bytes))
        except BodyTooLarge:
            return _error("body too large for a Telegram update", 413)
        except ValueError as error:  # bad UTF-8 or JSON included
            return _error(f"not a Telegram update: {error}", 400)
        if not runtime.started:  # mounted in an app that was already running
            await runtime.start(request.app)
        try:
            await asyncio.wait_for(runtime.receive(data), self.tuning.store_timeout_s)
        except (StoreUnavailable, asyncio.TimeoutError) as error:
            logger.error("telegram: update %s not stored, Telegram will re-send it: %s",
                         data["update_id"], error or "timed out")
            return _error("store unavailable, please retry", 503)
        return response.json({"ok": True})

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For Rasa's API (`output_channel=telegram|latest`): messages go to the outbox."""
        if self.runtime is None:
            return None
        return OutboxOutputChannel(self.runtime.enqueue)
