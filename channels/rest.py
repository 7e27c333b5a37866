"""The REST channel, hardened: Rasa's own, with input checked before Rasa sees it.

Same URL and JSON as Rasa's `rest` channel (POST /webhooks/rest/webhook with `sender` and
`message`), but a malformed body gets a JSON 4xx instead of a 500 or an HTML page, a missing
sender is refused (Rasa would put it in one shared "default" conversation), the client cannot
choose the input channel, and only the bot's own button commands are read as `/intents`.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.message_guard import (
    MessageRejected, button_intents, check_metadata, check_sender, check_text,
)
from bot.settings import Settings

logger = logging.getLogger(__name__)


def _error(reason: str, status: int) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


def parse_json_body(request: Request) -> Dict[str, Any]:
    """The body as a JSON object, or MessageRejected (bad UTF-8, bad JSON, not an object)."""
    try:
        body = json.loads(request.body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MessageRejected("body is not valid UTF-8") from error
    except json.JSONDecodeError as error:
        raise MessageRejected(f"body is not valid JSON ({error.msg})") from error
    if not isinstance(body, dict):
        raise MessageRejected("body must be a JSON object")
    return body


class HardenedRestInput(RestInput):
    """Rasa's REST channel with Rapport's input checks."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def __init__(self, settings: Optional[Settings] = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    def check(self, body: Dict[str, Any]) -> tuple[str, str, Optional[dict]]:
        sender = check_sender(body.get("sender"))
        allowed = button_intents(self.settings.home / "domain.yml")
        text = check_text(body.get("message"), self.settings.max_message_chars, allowed)
        return sender, text, check_metadata(body.get("metadata"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("rapport_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata = self.check(parse_json_body(request))
            except MessageRejected as rejected:
                return _error(str(rejected), rejected.status)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender,
                                                 input_channel=self.name(), metadata=metadata))
            except Exception:  # noqa: BLE001 (the boundary: log and say so, never a bare 500)
                logger.exception("REST message from %s failed", sender)
                return _error("the assistant could not process this message; try again", 503)
            return response.json(collector.messages)

        return webhook
