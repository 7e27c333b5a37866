"""A local fake of the Telegram Bot API (aiohttp) that records every call it receives.

It runs in its own thread with its own event loop, so sync tests, async tests and other
processes (the real stack) can all use it. python-telegram-bot reaches it through
`base_url=fake.base_url`. It answers the methods Rapport uses like Telegram does, can be told
to answer 429 with retry_after (or any error) for the next calls of a method, and queues
updates for getUpdates (long polling).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from aiohttp import web

TOKEN = "123456:TEST-token-for-the-fake-bot-api"
BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Rapport",
            "username": "rapport_test_bot", "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False}
# Parameters python-telegram-bot sends JSON-encoded (strings are sent as they are).
JSON_PARAMS = {"reply_markup", "allowed_updates", "entities", "caption_entities", "media",
               "options", "link_preview_options", "reply_parameters"}
MESSAGE_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "sendLocation", "sendVenue",
                   "sendContact", "sendVideo", "sendAnimation", "sendAudio", "sendVoice",
                   "sendSticker", "sendPoll"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    at: float = field(default_factory=time.time)

    @property
    def chat_id(self) -> Optional[str]:
        value = self.params.get("chat_id")
        return None if value is None else str(value)


@dataclass
class _Failure:
    status: int
    retry_after: Optional[int]
    description: str


class FakeBotApi:
    """Start with `start()`, point PTB at `base_url`, inspect `calls`, `stop()` at the end."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] = {"url": "", "secret_token": None}
        self._lock = threading.Lock()
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._updates: list[dict[str, Any]] = []
        self._message_ids = itertools.count(1000)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._thread: Optional[threading.Thread] = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What RAPPORT_TELEGRAM_API_URL / Bot(base_url=...) should be."""
        return f"{self.url}/bot"

    def start(self) -> "FakeBotApi":
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start_server())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-bot-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Bot API did not start")
        return self

    def stop(self) -> None:
        if not self._loop:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    async def _start_server(self) -> None:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    # ------------------------------------------------------------------ configuring

    def fail_next(self, method: str, status: int = 429, retry_after: Optional[int] = 1,
                  times: int = 1, description: str = "") -> None:
        """Answer the next `times` calls of `method` with an error (429 + retry_after)."""
        text = description or ("Too Many Requests: retry after "
                               f"{retry_after}" if status == 429 else "Bad Request")
        with self._lock:
            self._failures.setdefault(method, []).extend(
                [_Failure(status, retry_after if status == 429 else None, text)] * times)

    def delay(self, method: str, seconds: float) -> None:
        with self._lock:
            self._delays[method] = seconds

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        with self._lock:
            self._updates.append(update)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._failures.clear()
            self._delays.clear()
            self._updates.clear()

    # ------------------------------------------------------------------ inspecting

    def calls_of(self, method: str, chat_id: Optional[str] = None,
                 delivered: bool = True) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method
                    and (chat_id is None or call.chat_id == str(chat_id))
                    and (not delivered or call.status == 200)]

    def texts(self, chat_id: Optional[str] = None) -> list[str]:
        """Texts delivered by sendMessage (to one chat), in the order they arrived."""
        return [call.params.get("text", "") for call in self.calls_of("sendMessage", chat_id)]

    def messages(self, chat_id: Optional[str] = None) -> list[Call]:
        """Every delivered message-sending call (sendMessage, sendPhoto...), in order."""
        with self._lock:
            return [call for call in self.calls if call.method in MESSAGE_METHODS
                    and call.status == 200 and (chat_id is None or call.chat_id == str(chat_id))]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block (sync tests) until `condition()` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Await (async tests) until `condition()` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            await asyncio.sleep(0.05)
        return condition()

    # ------------------------------------------------------------------ the API

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if request.match_info["token"] != self.token:
            return self._record(method, params, 401, {"ok": False, "error_code": 401,
                                                      "description": "Unauthorized"})
        with self._lock:
            queued = self._failures.get(method)
            failure = queued.pop(0) if queued else None
            delay = self._delays.get(method, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if failure:
            body: dict[str, Any] = {"ok": False, "error_code": failure.status,
                                    "description": failure.description}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return self._record(method, params, failure.status, body)
        if method == "getUpdates":
            result: Any = await self._get_updates(params)
        else:
            result = self._result(method, params)
        if result is None:
            return self._record(method, params, 404, {"ok": False, "error_code": 404,
                                                      "description": "Not Found"})
        return self._record(method, params, 200, {"ok": True, "result": result})

    def _record(self, method: str, params: dict[str, Any], status: int,
                body: dict[str, Any]) -> web.Response:
        with self._lock:
            self.calls.append(Call(method, params, status))
        return web.json_response(body, status=status)

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            raw.update(await request.json())
            return raw
        if request.can_read_body:
            form = await request.post()
            raw.update({key: value for key, value in form.items() if isinstance(value, str)})
        for key in JSON_PARAMS & set(raw):
            if isinstance(raw[key], str):
                raw[key] = json.loads(raw[key])
        return raw

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("setWebhook", "deleteWebhook"):
            with self._lock:
                self.webhook = ({"url": params.get("url", ""),
                                 "secret_token": params.get("secret_token")}
                                if method == "setWebhook" else {"url": "", "secret_token": None})
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook["url"], "has_custom_certificate": False,
                    "pending_update_count": len(self._updates), "max_connections": 40}
        if method in ("sendChatAction", "answerCallbackQuery", "editMessageReplyMarkup"):
            return True
        if method in MESSAGE_METHODS:
            chat_id = params.get("chat_id")
            message: dict[str, Any] = {
                "message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else 1,
                         "type": "private"},
                "from": BOT_USER}
            if method == "sendMessage":
                message["text"] = params.get("text", "")
            if method == "sendPhoto":
                message["photo"] = [{"file_id": "photo-1", "file_unique_id": "u-1",
                                     "width": 1, "height": 1}]
            return message
        return None

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 5.0)
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                pending = list(self._updates)
            if pending or time.monotonic() >= deadline:
                return pending
            await asyncio.sleep(0.05)
