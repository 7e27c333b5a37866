"""Web chat fixtures: a store on SQLite or PostgreSQL, and the channel in a real Sanic app.

`store_url` is parametrised over SQLite (a file per test) and PostgreSQL (a uniquely named
database per test, dropped afterwards; skipped only when nothing listens on its port).
`ChannelServer` serves `WebChatInput` the way Rasa does (its CORS set-up, its `register`)
with a scripted agent instead of a model, so channel tests run in milliseconds.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Optional

import aiohttp
import pytest
import pytest_asyncio

from bot.settings import Settings
from channels.webchat.store import WebChatStore
from tests.channels.conversation_memory import ConversationMemory
from tests.support.postgres import DbSchema
from tests.support.stack import listening_socket

from tests.support import PROJECT
SHOP = "http://shop.example"


@pytest.fixture
def store_url(make_db_url: Callable[[DbSchema], str]) -> str:
    """An empty database for the store, on SQLite and on PostgreSQL (the suite's make_db_url)."""
    return make_db_url(DbSchema("rapport_webchat_test", "hub.db"))


@pytest_asyncio.fixture
async def store(store_url: str) -> AsyncIterator[WebChatStore]:
    store = WebChatStore.from_url(store_url)
    yield store
    await store.close()


def make_settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
                              "RAPPORT_WEBCHAT_ORIGINS": SHOP, **env})


@dataclass
class ScriptedAgent:
    """Stands in for Rasa's Agent: records each UserMessage and answers from `reply`."""

    reply: Callable[[Any], Any]
    received: list[Any] = field(default_factory=list)
    memory: ConversationMemory = field(default_factory=ConversationMemory)

    @property
    def tracker_store(self) -> Any:
        """Rasa's tracker store (a real in-memory one): the message guard reads it."""
        return self.memory.tracker_store

    async def handle_message(self, message: Any) -> None:
        self.received.append(message)
        answer = self.reply(message)
        if asyncio.iscoroutine(answer):
            answer = await answer
        for item in answer or []:
            if isinstance(item, str):
                await message.output_channel.send_text_message(message.sender_id, item)
            else:
                await message.output_channel.send_response(message.sender_id, item)
        await self.memory.record(message)


def echo(message: Any) -> list:
    """The default script: buttons for "buttons", an error for "boom", else an echo."""
    if message.text == "buttons":
        return [{"text": "Is that okay?", "buttons": [
            {"title": "Yes, please", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]}]
    if message.text == "boom":
        raise RuntimeError("the model fell over")
    return [f"echo: {message.text}"]


@dataclass
class ChannelServer:
    url: str
    agent: ScriptedAgent
    channel: Any
    http: aiohttp.ClientSession

    async def request(self, method: str, path: str, *, token: Optional[str] = None,
                      origin: Optional[str] = SHOP, json: Any = None, data: Any = None,
                      headers: Optional[dict] = None) -> tuple[int, Any, Any]:
        """(status, parsed JSON body or text, headers)."""
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if origin:
            sent["Origin"] = origin
        async with self.http.request(method, f"{self.url}{path}", json=json, data=data,
                                     headers=sent) as answer:
            text = await answer.text()
            try:
                body = await answer.json(content_type=None)
            except ValueError:
                body = text
            return answer.status, body, answer.headers

    async def new_token(self) -> str:
        status, body, _ = await self.request("POST", "/session")
        assert status == 201, body
        return body["token"]

    async def say(self, token: str, message: Any, **extra: Any) -> tuple[int, Any]:
        status, body, _ = await self.request("POST", "/message", token=token,
                                             json={"message": message, **extra})
        return status, body


@pytest_asyncio.fixture
async def channel_server(tmp_path: Path) -> AsyncIterator[Callable]:
    """A factory: `await channel_server(reply=..., store=..., **settings_env)`."""
    from rasa.core.channels.channel import register
    from rasa.server import configure_cors
    from sanic import Sanic

    from channels.webchat.channel import WebChatInput

    started: list[tuple[Any, Any, WebChatStore]] = []
    # Several apps in one process (as sanic-testing does): Sanic re-touches its methods per app.
    Sanic.test_mode = True
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def start(reply: Callable = echo, store: Optional[WebChatStore] = None,
                    max_wait: float = 20.0, **env: str) -> ChannelServer:
        store = store or WebChatStore.from_url(f"sqlite:///{tmp_path / 'hub.db'}")
        channel = WebChatInput(make_settings(tmp_path, **env), store, max_wait=max_wait,
                               watch_interval=0.2)
        app = Sanic(f"webchat_test_{uuid.uuid4().hex[:12]}", configure_logging=False)
        configure_cors(app, None)  # as rasa.core.run does: sanic-cors on every route
        app.ctx.agent = agent = ScriptedAgent(reply)
        register([channel], app, route="/webhooks/")
        sock = listening_socket()  # the port is ours until the server closes the socket
        port = sock.getsockname()[1]
        server = await app.create_server(sock=sock, return_asyncio_server=True)
        await server.startup()
        await server.before_start()
        await server.after_start()
        started.append((server, channel, store))
        return ChannelServer(f"http://127.0.0.1:{port}/webhooks/webchat", agent, channel, http)

    yield start
    await http.close()
    for server, _channel, store in started:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        await store.close()
