"""Fixtures for the Telegram channel: the fake Bot API, and the real channel blueprint in a
real Sanic server whose Rasa is a scripted `on_new_message`."""

from __future__ import annotations

import contextlib
import asyncio
import itertools
import json
import re
import time
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Optional

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.settings import Settings
from channels.telegram.channel import SECRET_HEADER, TelegramInput
from channels.telegram.delivery import OutboxTuning
from channels.telegram.runtime import Tuning
from channels.telegram.store import TelegramStore
from channels.telegram.worker import WorkerTuning
from tests.channels.conversation_memory import ConversationMemory
from tests.channels.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.support.postgres import DbSchema, PgDatabases
from tests.support.stack import PROJECT, listening_socket

SECRET = "test-webhook-secret_0123456789"
FAST = Tuning(
    worker=WorkerTuning(lease_s=5.0, poll_s=0.1, retry_delays_s=(0.1, 0.2), settle_s=0.3),
    outbox=OutboxTuning(lease_s=5.0, poll_s=0.1, backoff_s=0.1),
    store_timeout_s=2.0, poll_timeout_s=1,
)
_app_numbers = itertools.count(1)
SETTLE_TIMEOUT_S = 30.0
# Nothing left to do: every stored update finished, every queued message sent (or failed).
SETTLED = {"updates waiting": 0, "messages waiting": 0}


def is_settled(counts: dict[str, int]) -> bool:
    return all(counts[name] == value for name, value in SETTLED.items())


async def settle(store: TelegramStore, timeout: float = SETTLE_TIMEOUT_S) -> dict[str, int]:
    """Wait until the store has nothing left to do, so no message can still follow."""
    deadline = time.monotonic() + timeout
    while True:
        counts = await store.counts()
        if is_settled(counts):
            return counts
        assert time.monotonic() < deadline, f"the channel still has work after {timeout} s: {counts}"
        await asyncio.sleep(0.05)


def settle_database(url: str, timeout: float = SETTLE_TIMEOUT_S) -> dict[str, int]:
    """`settle` for the store of another process (a stack, the crash harness), from sync code."""

    async def settled() -> dict[str, int]:
        store = TelegramStore(url)
        try:
            return await settle(store, timeout)
        finally:
            await store.close()

    return asyncio.run(settled())


def telegram_settings(tmp_path: Path, fake: FakeBotApi, **overrides: str) -> Settings:
    env = {
        "RAPPORT_HOME": str(PROJECT),
        "RAPPORT_VAR_DIR": str(tmp_path / "var"),
        "RAPPORT_TELEGRAM_TOKEN": TOKEN,
        "RAPPORT_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "RAPPORT_TELEGRAM_API_URL": fake.base_url,
        "RAPPORT_TELEGRAM_DB_URL": f"sqlite:///{tmp_path / 'telegram.db'}",
    }
    env.update(overrides)
    return Settings.from_env({key: value for key, value in env.items() if value})


class ScriptedBot:
    """Stands in for Rasa: answers "echo: <text>", and a few texts with other replies."""

    LONG_PAYLOAD = '/inform{"issue_type": "damaged", "note": "longer than sixty-four bytes"}'
    LONG = "\n\n".join((f"Paragraph {n}. " + "All work and no play. " * 40).strip()
                       for n in range(12))

    def __init__(self) -> None:
        self.seen: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message)
        text, out, to = message.text or "", message.output_channel, message.sender_id
        slow = re.match(r"^slow(\d+(?:\.\d+)?)", text)
        if slow:
            await asyncio.sleep(float(slow.group(1)))
        if text.startswith("boom"):
            raise RuntimeError("poison update: the scripted bot cannot handle it")
        if text == "buttons":
            await out.send_text_with_buttons(to, "Shall I refund you?", [
                {"title": "Yes, refund me", "payload": "/affirm"},
                {"title": "Long one", "payload": self.LONG_PAYLOAD},
            ])
        elif text == "image":
            await out.send_image_url(to, "https://example.com/parcel.png")
        elif text == "custom location":
            await out.send_custom_json(to, {"latitude": 52.37, "longitude": 4.89})
        elif text == "custom web":
            await out.send_custom_json(to, {"handoff": {"queue": "web"}})
        elif text == "long":
            await out.send_text_message(to, self.LONG)
        else:
            await out.send_text_message(to, f"echo: {text}")

    def texts(self) -> list[str]:
        return [message.text or "" for message in self.seen]


class ChannelServer:
    """The real TelegramInput blueprint, mounted in a real Sanic app on a free port."""

    def __init__(self, settings: Settings, handler: Callable[[UserMessage], Awaitable[Any]],
                 tuning: Tuning = FAST) -> None:
        self.settings = settings
        self.handler = handler
        self.memory = ConversationMemory()  # Rasa's tracker store, as the guard reads it
        self.channel = TelegramInput(settings, tuning)
        self._socket = listening_socket()
        self.port = self._socket.getsockname()[1]
        self._server: Any = None
        self._session: Optional[aiohttp.ClientSession] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/telegram/webhook"

    async def start(self) -> "ChannelServer":
        Sanic.test_mode = True  # several apps in one process (Sanic's TouchUp needs this)
        app = Sanic(f"telegram-test-{next(_app_numbers)}", configure_logging=False)
        app.ctx.agent = self.memory
        app.blueprint(self.channel.blueprint(self._remembered), url_prefix="/webhooks/telegram")
        self._server = await app.create_server(sock=self._socket, return_asyncio_server=True,
                                               access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()
        self._session = aiohttp.ClientSession()
        return self

    async def _remembered(self, message: UserMessage) -> Any:
        """The handler's turn, then stored in the tracker store as Rasa stores it."""
        result = await self.handler(message)
        await self.memory.record(message)
        return result

    async def stop(self) -> None:
        if self._session:
            await self._session.close()
        if self._server:
            await asyncio.wait_for(self._server.before_stop(), 30)  # the runtime stops here
            self._server.close()
            # a client's keep-alive connection must not hold up the test run
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            await self._server.after_stop()
            self._server = None
        self._socket.close()

    async def settled(self, timeout: float = SETTLE_TIMEOUT_S) -> dict[str, int]:
        """Wait until this channel's store has nothing left to do (see `settle`)."""
        assert self.channel.runtime is not None, "the channel has no token, so no store"
        return await settle(self.channel.runtime.store, timeout)

    async def post(self, update: Any, secret: Optional[str] = SECRET,
                   headers: Optional[dict] = None) -> tuple[int, Any]:
        body = json.dumps(update).encode() if isinstance(update, dict) else update
        sent = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            sent[SECRET_HEADER] = secret
        assert self._session is not None
        async with self._session.post(self.url, data=body, headers=sent) as answer:
            try:
                return answer.status, await answer.json(content_type=None)
            except ValueError:
                return answer.status, await answer.text()


@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_api: FakeBotApi) -> FakeBotApi:
    """The session's fake Bot API, cleared for this test."""
    fake_api.reset()
    return fake_api


@pytest.fixture
def settings(tmp_path: Path, fake: FakeBotApi) -> Settings:
    return telegram_settings(tmp_path, fake)


@pytest.fixture
def scripted() -> ScriptedBot:
    return ScriptedBot()


@pytest_asyncio.fixture
async def start_channel() -> AsyncIterator[Callable[..., Awaitable[ChannelServer]]]:
    """Start channel servers for this test; all are stopped afterwards."""
    servers: list[ChannelServer] = []

    async def start(settings: Settings, handler: Callable[[UserMessage], Awaitable[Any]],
                    tuning: Tuning = FAST) -> ChannelServer:
        server = await ChannelServer(settings, handler, tuning).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest_asyncio.fixture
async def channel(start_channel: Callable[..., Awaitable[ChannelServer]], settings: Settings,
                  scripted: ScriptedBot) -> ChannelServer:
    return await start_channel(settings, scripted)


@pytest.fixture(scope="session")
def pg_telegram_url(pg_databases: PgDatabases) -> str:
    """A fresh PostgreSQL database for the session, dropped at the end."""
    return pg_databases.url(DbSchema("rapport_telegram_test", "telegram.db"))
