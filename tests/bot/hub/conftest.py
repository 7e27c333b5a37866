"""Hub fixtures: the real hub app on test settings, a fake Rasa API, a recording sender.

The fake Rasa checks the hub's JWT exactly as Rasa does (HS256, role admin) and records
what the hub appends and triggers. The recording sender stands in for a channel.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import jwt
import pytest
from aiohttp import web

from bot.handoff.priority import Factors
from bot.handoff.store import Handoff, NewHandoff
from bot.hub import keys
from bot.channel_registry import ChannelPlugin, ChannelRegistry
from bot.hub.app import create_app
from bot.settings import Settings
from bot.channel_registry import DeliveryFailed
from tests.conftest import PROJECT
from tests.support.console_sign_in import csrf_token, login_form
from tests.support.passwords import fast_password_hashing  # noqa: F401 (autouse)

JWT_SECRET = "test-jwt-secret-not-used-anywhere-else"
PASSWORD = "correct horse battery"
CSAT_QUESTION = "How would you rate this conversation, from 1 (poor) to 5 (excellent)?"


class FakeRasa:
    """Rasa's conversation API as far as the hub uses it."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict]] = defaultdict(list)
        self.appended: list[tuple[str, list[dict]]] = []
        self.triggered: list[tuple[str, str]] = []
        self.failures = 0  # answer 500 this many times

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/conversations/{cid}/tracker", self.tracker)
        app.router.add_post("/conversations/{cid}/tracker/events", self.append)
        app.router.add_post("/conversations/{cid}/trigger_intent", self.trigger)
        return app

    def _check(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        try:
            payload = jwt.decode(header.removeprefix("Bearer "), JWT_SECRET, algorithms=["HS256"])
        except jwt.PyJWTError as error:
            raise web.HTTPUnauthorized() from error
        if payload.get("user", {}).get("role") != "admin":
            raise web.HTTPForbidden()
        if self.failures:
            self.failures -= 1
            raise web.HTTPInternalServerError()

    async def tracker(self, request: web.Request) -> web.Response:
        self._check(request)
        cid = request.match_info["cid"]
        return web.json_response({"sender_id": cid, "events": self.events[cid]})

    async def append(self, request: web.Request) -> web.Response:
        self._check(request)
        cid, body = request.match_info["cid"], await request.json()
        body = body if isinstance(body, list) else [body]
        self.appended.append((cid, body))
        self.events[cid].extend(body)
        return web.json_response({"sender_id": cid})

    async def trigger(self, request: web.Request) -> web.Response:
        self._check(request)
        cid, body = request.match_info["cid"], await request.json()
        self.triggered.append((cid, body["name"]))
        if body["name"] == "EXTERNAL_handoff_resolved":
            messages = [{"recipient_id": cid, "text": "You're back with Ollie now."},
                        {"recipient_id": cid, "text": CSAT_QUESTION,
                         "buttons": [{"title": "5", "payload": "/rate"}]}]
        else:
            messages = [{"recipient_id": cid, "text": "None of my colleagues could get to you."}]
        return web.json_response({"tracker": {}, "messages": messages})

    def kinds(self, cid: str) -> list[str]:
        return [event["event"] for _, events in self.appended if _ == cid for event in events]


@dataclass
class RecordingSender:
    sent: list[tuple[str, list[dict]]] = field(default_factory=list)
    fail: bool = False

    async def send(self, recipient_id: str, messages: list[dict[str, Any]]) -> None:
        if self.fail:
            raise DeliveryFailed("the customer's app is unreachable")
        self.sent.append((recipient_id, messages))

    async def close(self) -> None:
        """Nothing to release: the fake sender holds no connections."""


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
async def rasa_port(aiohttp_server, fake_rasa) -> int:
    return (await aiohttp_server(fake_rasa.app())).port


@pytest.fixture
def hub_settings(tmp_path: Path, seeded_crm_url: str, rasa_port: int) -> Settings:
    return Settings.from_env({
        "RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
        "RAPPORT_HUB_DB_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "RAPPORT_EVENTS_DB": str(tmp_path / "events.db"), "RAPPORT_CRM_URL": seeded_crm_url,
        "RAPPORT_RASA_PORT": str(rasa_port), "RAPPORT_RASA_JWT_SECRET": JWT_SECRET,
        "RAPPORT_HUB_SECRET": "test-hub-secret", "RAPPORT_HANDOFF_MAX_WAIT": "300",
    })


@pytest.fixture
async def hub(aiohttp_client, hub_settings, sender):
    """A test client on the real hub app (started: database, feed and sweeper running)."""
    # The recording sender stands in for every channel the hub can reach.
    recording = ChannelPlugin("recording", reaches=("webchat", "rest", "telegram"),
                              make_sender=lambda settings: sender)
    return await aiohttp_client(create_app(hub_settings, channels=ChannelRegistry([recording])))


@pytest.fixture
def desk(hub):
    return hub.server.app[keys.HANDOFFS]


@pytest.fixture
def crm_for_hub(desk):
    """The hub's own CRM (the seeded copy in hub_settings)."""
    return desk.crm


class Console:
    """One signed-in browser: its own cookies and CSRF token."""

    def __init__(self, client, name: str) -> None:
        self.client = client
        self.name = name
        self.csrf = ""

    async def sign_in(self, password: str = PASSWORD, headers: Optional[dict] = None) -> int:
        page = await self.client.get("/login")
        answer = await self.client.post("/login", data=login_form(await page.text(), self.name,
                                                                  password),
                                        allow_redirects=False, headers=headers)
        if answer.status == 303:
            queue = await self.client.get("/console")
            self.csrf = csrf_token(await queue.text())
        return answer.status

    async def post(self, path: str, **form: str):
        return await self.client.post(path, data={"csrf_token": self.csrf, **form},
                                      headers={"Accept": "application/json"},
                                      allow_redirects=False)


@pytest.fixture
def console(hub, aiohttp_client):
    """`await console("sam", role="agent")`: a new account signed in from its own browser."""
    made = []

    async def make(name: str, role: str = "agent") -> Console:
        await hub.server.app[keys.AGENTS].add(name, role, PASSWORD)
        client = hub if not made else await aiohttp_client(hub.server)
        browser = Console(client, name)
        made.append(browser)
        assert await browser.sign_in() == 303
        return browser
    return make


async def waiting_handoff(desk, conversation: str = "c-1", channel: str = "webchat",
                          **changes: Any) -> Handoff:
    values = dict(conversation_id=conversation, channel=channel,
                  reason="customer asked for a person",
                  factors=Factors(severity="medium"),
                  packet={"summary": ["Handed over because: customer asked for a person."],
                          "verified": False, "sentiment": {"scores": [-0.2], "trend": "unknown"}})
    values.update(changes)
    return await desk.store.create(NewHandoff(**values))


def events_table(path: str) -> sqlite3.Connection:
    """Rasa's SQL event broker table, for feeding the hub events."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, "
                       "sender_id VARCHAR(255), data TEXT)")
    connection.commit()
    return connection


def publish(connection: sqlite3.Connection, sender: str, event: dict,
            rasa: Optional[FakeRasa] = None) -> None:
    connection.execute("INSERT INTO events (sender_id, data) VALUES (?, ?)",
                        (sender, json.dumps({"sender_id": sender, **event})))
    connection.commit()
    if rasa is not None:
        rasa.events[sender].append(event)
