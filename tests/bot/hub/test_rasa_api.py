"""The hub's Rasa API client against a local server standing in for Rasa's HTTP API.

The stand-in records every request (method, raw path, query, headers, JSON body) and answers
what the test scripts, so each test checks exactly what the client sends and how it reads
(or refuses) the answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Optional

import aiohttp
import jwt
import pytest
import pytest_asyncio
from aiohttp import web

from bot.hub.rasa_api import (
    HANDOFF_CALLBACK, HANDOFF_RESOLVED, HUB_USER, TOKEN_SECONDS, RasaApi, RasaApiError,
    RasaUnavailable, model_loader,
)
from tests.support.stack import free_port

SECRET = "rasa-api-test-secret"


@dataclass
class Seen:
    method: str
    path: str  # raw, as sent (percent-encoding kept)
    query: dict[str, str]
    authorization: str
    body: Any


@dataclass
class StandIn:
    """Rasa's conversation endpoints: record the request, then answer as scripted."""

    seen: list[Seen] = field(default_factory=list)
    status: int = 200
    reply: Any = None  # JSON to answer with; bytes are sent as they are
    release: asyncio.Event = field(default_factory=asyncio.Event)
    hang: bool = False  # wait for `release` before answering (a Rasa that is stuck)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        self.seen.append(Seen(request.method, request.raw_path.split("?")[0],
                              dict(request.query), request.headers.get("Authorization", ""),
                              body))
        if self.hang:
            await self.release.wait()
        if isinstance(self.reply, bytes):
            return web.Response(status=self.status, body=self.reply)
        return web.json_response(self.reply, status=self.status)


@pytest_asyncio.fixture
async def rasa(aiohttp_server) -> AsyncIterator[tuple[StandIn, str]]:
    stand_in = StandIn()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stand_in.handle)
    server = await aiohttp_server(app)
    yield stand_in, str(server.make_url("/"))
    stand_in.release.set()


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def api(session: aiohttp.ClientSession, url: str, secret: Optional[str] = SECRET,
        timeout: float = 15.0) -> RasaApi:
    return RasaApi(session, url, secret, timeout=timeout)


def claims(seen: Seen) -> dict[str, Any]:
    assert seen.authorization.startswith("Bearer ")
    return jwt.decode(seen.authorization.removeprefix("Bearer "), SECRET, algorithms=["HS256"])


# -- what is sent --------------------------------------------------------------------------

async def test_every_call_carries_a_short_lived_admin_token(rasa, session):
    stand_in, url = rasa
    stand_in.reply = {"events": []}
    before = int(time.time())
    await api(session, url).events("c-1")
    token = claims(stand_in.seen[0])
    assert token["user"] == HUB_USER == {"username": "rapport-hub", "role": "admin"}
    assert before <= token["iat"] <= int(time.time())
    assert token["exp"] - token["iat"] == TOKEN_SECONDS == 300


async def test_events_reads_the_tracker_since_the_last_restart(rasa, session):
    stand_in, url = rasa
    events = [{"event": "user", "text": "hi"}, {"event": "bot", "text": "Hello!"}]
    stand_in.reply = {"sender_id": "c-1", "events": events}
    assert await api(session, url + "/").events("c-1") == events
    (seen,) = stand_in.seen
    assert (seen.method, seen.path, seen.query, seen.body) == (
        "GET", "/conversations/c-1/tracker", {"include_events": "AFTER_RESTART"}, None)


@pytest.mark.parametrize("reply", [{"sender_id": "c-1"}, {"events": None}, None])
async def test_a_tracker_without_events_reads_as_none(rasa, session, reply):
    stand_in, url = rasa
    stand_in.reply = reply
    assert await api(session, url).events("c-1") == []


async def test_conversation_ids_are_quoted_whole(rasa, session):
    """A sender id is the customer's (Telegram chat ids, web chat tokens): never a path."""
    stand_in, url = rasa
    stand_in.reply = {"events": []}
    await api(session, url).events("tg:42/../admin ?x")
    # ":" may stay as it is in a path (yarl leaves it); "/", " " and "?" may not.
    assert stand_in.seen[0].path == "/conversations/tg:42%2F..%2Fadmin%20%3Fx/tracker"


async def test_an_agents_reply_is_a_bot_event_naming_the_agent(rasa, session):
    stand_in, url = rasa
    stand_in.reply = {"sender_id": "c-1"}
    before = time.time()
    await api(session, url).record_agent_message("c-1", "Your refund is on its way.", "Sam")
    (seen,) = stand_in.seen
    assert (seen.method, seen.path) == ("POST", "/conversations/c-1/tracker/events")
    (event,) = seen.body
    assert before <= event.pop("timestamp") <= time.time()
    assert event == {"event": "bot", "text": "Your refund is on its way.",
                     "metadata": {"agent": "Sam"}}


async def test_pause_appends_a_pause(rasa, session):
    stand_in, url = rasa
    await api(session, url).pause("c-1")
    (seen,) = stand_in.seen
    assert seen.path == "/conversations/c-1/tracker/events"
    assert [{k: v for k, v in e.items() if k != "timestamp"} for e in seen.body] == [
        {"event": "pause"}]


async def test_resume_hands_back_with_the_bot_listening(rasa, session):
    stand_in, url = rasa
    await api(session, url).resume("c-1")
    (seen,) = stand_in.seen
    resume, listen = seen.body
    assert resume["timestamp"] == listen["timestamp"]
    assert ({k: v for k, v in resume.items() if k != "timestamp"},
            {k: v for k, v in listen.items() if k != "timestamp"}) == (
        {"event": "resume"}, {"event": "action", "name": "action_listen"})


async def test_append_sends_the_events_as_given(rasa, session):
    stand_in, url = rasa
    events = [{"event": "slot", "name": "handoff_id", "value": None}]
    assert await api(session, url).append("c-1", events) is None
    assert stand_in.seen[0].body == events


async def test_trigger_runs_an_external_intent_and_returns_its_messages(rasa, session):
    stand_in, url = rasa
    messages = [{"recipient_id": "c-1", "text": "You're back with Ollie now."}]
    stand_in.reply = {"tracker": {}, "messages": messages}
    assert await api(session, url).trigger("c-1", HANDOFF_RESOLVED) == messages
    assert await api(session, url).trigger("c-1", HANDOFF_CALLBACK, {"case_id": "K-1"}) == messages
    assert [(s.method, s.path, s.body) for s in stand_in.seen] == [
        ("POST", "/conversations/c-1/trigger_intent",
         {"name": "EXTERNAL_handoff_resolved", "entities": {}}),
        ("POST", "/conversations/c-1/trigger_intent",
         {"name": "EXTERNAL_handoff_callback", "entities": {"case_id": "K-1"}}),
    ]


async def test_trigger_without_messages_returns_none(rasa, session):
    stand_in, url = rasa
    stand_in.reply = {"tracker": {}}
    assert await api(session, url).trigger("c-1", HANDOFF_RESOLVED) == []


async def test_an_empty_success_is_fine(rasa, session):
    stand_in, url = rasa
    stand_in.status, stand_in.reply = 204, b""
    assert await api(session, url).append("c-1", []) is None


# -- how errors are named ------------------------------------------------------------------

async def test_without_a_secret_the_api_is_off_and_nothing_is_sent(rasa, session):
    stand_in, url = rasa
    for secret in (None, ""):
        with pytest.raises(RasaApiError) as raised:
            await api(session, url, secret=secret).events("c-1")
        assert str(raised.value) == "Rasa's API is off (no RAPPORT_RASA_JWT_SECRET)"
        assert not isinstance(raised.value, RasaUnavailable)
    assert stand_in.seen == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500, 503])
async def test_an_error_status_is_a_rasa_api_error_with_what_rasa_said(rasa, session, status):
    stand_in, url = rasa
    stand_in.status, stand_in.reply = status, {"status": "failure", "reason": "NotAuthorized"}
    with pytest.raises(RasaApiError) as raised:
        await api(session, url).events("c-1")
    assert type(raised.value) is RasaApiError
    assert str(raised.value) == (f'Rasa answered {status}: '
                                 f'{{"status": "failure", "reason": "NotAuthorized"}}')


async def test_a_long_error_body_is_cut_to_300_characters(rasa, session):
    stand_in, url = rasa
    stand_in.status, stand_in.reply = 500, b"x" * 5000
    with pytest.raises(RasaApiError) as raised:
        await api(session, url).pause("c-1")
    assert str(raised.value) == "Rasa answered 500: " + "x" * 300


async def test_a_success_that_is_not_json_is_a_rasa_api_error(rasa, session):
    """Something else on Rasa's port (or a proxy's page) is named, not a JSONDecodeError."""
    stand_in, url = rasa
    stand_in.reply = b"<html>It works!</html>"
    with pytest.raises(RasaApiError) as raised:
        await api(session, url).events("c-1")
    assert type(raised.value) is RasaApiError
    assert str(raised.value) == "Rasa answered 200 with a body that is not JSON"


async def test_nobody_listening_is_rasa_unavailable(session):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RasaUnavailable) as raised:
        await api(session, url).events("c-1")
    assert str(raised.value) == "Rasa is unreachable (ClientConnectorError)"


async def test_a_rasa_that_does_not_answer_in_time_is_rasa_unavailable(rasa, session):
    stand_in, url = rasa
    stand_in.hang = True
    with pytest.raises(RasaUnavailable) as raised:
        await api(session, url, timeout=0.3).trigger("c-1", HANDOFF_RESOLVED)
    assert str(raised.value) == "Rasa is unreachable (TimeoutError)"
    assert isinstance(raised.value.__cause__, asyncio.TimeoutError)
    assert len(stand_in.seen) == 1  # it was asked, once


# -- a retrained model, into every Rasa server ---------------------------------------------

@pytest_asyncio.fixture
async def two_rasas(aiohttp_server) -> AsyncIterator[list[tuple[StandIn, str]]]:
    found = []
    for _ in range(2):
        stand_in = StandIn()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", stand_in.handle)
        server = await aiohttp_server(app)
        found.append((stand_in, str(server.make_url("/")).rstrip("/")))
    yield found


async def test_a_model_is_loaded_into_every_rasa_server(two_rasas, session, tmp_path):
    model = tmp_path / "rapport-abc.tar.gz"
    load = model_loader(session, [url for _, url in two_rasas], SECRET)
    await load(model)
    for stand_in, _ in two_rasas:
        (seen,) = stand_in.seen
        assert (seen.method, seen.path, seen.body) == ("PUT", "/model",
                                                       {"model_file": str(model)})
        assert claims(seen)["user"] == HUB_USER


async def test_a_server_that_fails_is_named_and_the_others_still_load(two_rasas, session,
                                                                      tmp_path):
    (good, good_url), (bad, bad_url) = two_rasas
    bad.status, bad.reply = 500, {"message": "could not load"}
    load = model_loader(session, [good_url, bad_url], SECRET)
    with pytest.raises(RasaApiError, match="loaded into 1 of 2 Rasa servers") as failure:
        await load(tmp_path / "rapport-abc.tar.gz")
    assert bad_url in str(failure.value) and good_url not in str(failure.value)
    assert len(good.seen) == len(bad.seen) == 1
