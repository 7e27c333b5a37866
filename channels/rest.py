"""The REST channel, hardened: Rasa's own, with input checked before Rasa sees it.

Same URL and JSON as Rasa's `rest` channel (POST /webhooks/rest/webhook with `sender`,
`message` and optional `metadata`), but:
- each integration (the brand's app, `rapport chat`) authenticates with its own bearer token
  (`Authorization: Bearer …`, RAPPORT_REST_TOKENS as `name=token,…`), checked before the body
  is read; no token, no conversation (401);
- the body is read only up to 64 KB (413 past that), and a malformed one gets a JSON 4xx
  instead of a 500 or an HTML page;
- a missing sender is refused (Rasa would put it in one shared "default" conversation), the
  client cannot choose the input channel, and its `sender` names the conversation
  `rest-<integration>-<sender>`: an integration reaches its own conversations only (Telegram's
  are `tg-<chat id>`, web chat's `wc-<hash>`); answers still carry the client's `recipient_id`;
- `metadata` may hold only the keys in `METADATA_KEYS`, each a short scalar: it is stored on
  every event and sent to the action server on every turn, and actions trust some keys
  (`telegram_contact_phone` verifies a customer) that only a channel may set;
- a message Rasa would read as a command (`/intent{...}`) runs only if it is a button the bot
  just offered in this conversation (`channels.message_guard`); otherwise it is plain words;
- one conversation sending faster than RAPPORT_FLOOD_PER_MINUTE (after a burst of
  RAPPORT_FLOOD_BURST) gets a 429 with Retry-After (`channels.rate_limit`).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import Settings
from channels.http_body import BodyTooLarge, cap_request_size, parse_json_object, read_body
from channels.message_guard import MessageRejected, check_command, check_sender, check_text
from channels.rate_limit import FLOOD_REPLY, RateLimiter, flood_limiter

logger = logging.getLogger(__name__)

CONVERSATION_PREFIX = "rest-"
CLIENT_KEY = "rapport_client"  # metadata the channel sets: the integration's name
MAX_BODY_BYTES = 64 * 1024
METADATA_KEYS = ("page", "locale", "timezone", "app_version", "reference")
MAX_METADATA_VALUE_CHARS = 200


def _error(reason: str, status: int) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


def parse_json_body(request: Request) -> Dict[str, Any]:
    """A (non-streamed) request's body as a JSON object, or MessageRejected."""
    return parse_json_object(request.body or b"")


def allowed_metadata(metadata: Any) -> Optional[dict]:
    """The client's metadata if every key is allowed and every value a short scalar."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise MessageRejected("metadata must be an object")
    unknown = sorted(str(key)[:40] for key in metadata if key not in METADATA_KEYS)
    if unknown:
        raise MessageRejected(f"metadata keys not accepted: {', '.join(unknown[:5])} "
                              f"(allowed: {', '.join(METADATA_KEYS)})")
    for key, value in metadata.items():
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise MessageRejected(f"metadata {key} must be a string, number or boolean")
        if isinstance(value, str) and len(value) > MAX_METADATA_VALUE_CHARS:
            raise MessageRejected(f"metadata {key} is too long "
                                  f"(at most {MAX_METADATA_VALUE_CHARS} characters)", 413)
    return metadata or None


def rest_conversation_id(integration: str, sender: str) -> str:
    """Rasa's conversation id for an integration's `sender`: namespaced, so a client reaches
    only its own integration's conversations (never a Telegram `tg-…` or web chat `wc-…`
    one, nor another integration's)."""
    return f"{CONVERSATION_PREFIX}{integration}-{sender}"


class HardenedRestInput(RestInput):
    """Rasa's REST channel with Rapport's input checks."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def __init__(self, settings: Optional[Settings] = None) -> None:
        self._settings = settings
        self._flood: Optional[RateLimiter] = None

    @property
    def flood(self) -> RateLimiter:
        if self._flood is None:
            self._flood = flood_limiter(self.settings)
        return self._flood

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    def integration_of(self, authorization: str) -> Optional[str]:
        """The integration whose bearer token this is, or None (compared in constant time)."""
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        given = presented.strip().encode("utf-8")
        found = None
        for name, token in self.settings.rest_tokens:  # every one compared: no timing hint
            if hmac.compare_digest(given, token.encode("utf-8")):
                found = name
        return found

    def check(self, body: Dict[str, Any]) -> tuple[str, str, Optional[dict]]:
        sender = check_sender(body.get("sender"))
        text = check_text(body.get("message"), self.settings.max_message_chars)
        return sender, text, allowed_metadata(body.get("metadata"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("rapport_rest_webhook", __name__)

        @webhook.listener("before_server_start")
        async def cap_requests(app: Any, _loop: Any) -> None:
            cap_request_size(app)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            integration = self.integration_of(request.headers.get("authorization", ""))
            if integration is None:  # before a byte of the body is read
                return response.json({"error": "a valid bearer token is required"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
            try:
                body = parse_json_object(await read_body(request, MAX_BODY_BYTES))
                sender, text, metadata = self.check(body)
            except BodyTooLarge:
                return _error(f"the request is too large (at most {MAX_BODY_BYTES // 1024} KB)",
                              413)
            except MessageRejected as rejected:
                return _error(str(rejected), rejected.status)
            conversation_id = rest_conversation_id(integration, sender)
            verdict = self.flood.take(conversation_id)
            if not verdict.allowed:
                return response.json({"error": FLOOD_REPLY}, status=429,
                                     headers={"Retry-After": str(verdict.retry_after)})
            # Server-side, after the allow-list: who is asking (verification counts failures
            # per client), which no client can claim.
            metadata = {**(metadata or {}), CLIENT_KEY: integration}
            collector = CollectingOutputChannel()
            try:
                agent = getattr(request.app.ctx, "agent", None)
                text = await check_command(text, conversation_id,
                                           getattr(agent, "tracker_store", None))
                await on_new_message(UserMessage(text, collector, conversation_id,
                                                 input_channel=self.name(), metadata=metadata))
            except Exception:  # noqa: BLE001 (the boundary: log and say so, never a bare 500)
                logger.exception("REST message from %s failed", conversation_id)
                return _error("the assistant could not process this message; try again", 503)
            return response.json([{**message, "recipient_id": sender}
                                  for message in collector.messages])

        return webhook
