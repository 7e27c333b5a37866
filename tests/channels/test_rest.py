"""The hardened REST channel, mounted in a real Sanic app the way Rasa mounts it.

A fake agent stands in for Rasa's (it records each UserMessage and echoes it), so every
answer here is the channel's own: what it lets through, what it refuses, and how.
"""

from __future__ import annotations

import secrets
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Optional

import aiohttp
import pytest
import pytest_asyncio

from bot.settings import Settings
from channels.rest import HardenedRestInput
from tests.channels.conversation_memory import ConversationMemory
from tests.support import PROJECT
from tests.support.stack import free_port

APP_TOKEN = secrets.token_urlsafe(24)  # made per run: no secret-looking literal in the tree
SHOP_TOKEN = secrets.token_urlsafe(24)
TOKENS = f"app={APP_TOKEN},shop={SHOP_TOKEN}"
SENDER_RULE = "sender must be a string of 1-128 letters, digits or . _ : @ + - characters"


@dataclass
class FakeAgent:
    """Rasa's Agent as the channel sees it: `handle_message`, answering on the output channel,
    and its tracker store (a real one, which the message guard reads). "buttons" gets two."""

    fail: bool = False
    received: list[Any] = field(default_factory=list)
    memory: ConversationMemory = field(default_factory=ConversationMemory)

    @property
    def tracker_store(self) -> Any:
        return self.memory.tracker_store

    async def handle_message(self, message: Any) -> None:
        self.received.append(message)
        if self.fail:
            raise RuntimeError("the model fell over")
        out = message.output_channel
        if message.text == "buttons":
            await out.send_text_with_buttons(message.sender_id, "Shall I?", [
                {"title": "Yes", "payload": "/affirm"},
                {"title": "Late", "payload": '/inform{"issue_type": "late"}'}])
        else:
            await out.send_text_message(message.sender_id, f"echo: {message.text}")
        await self.memory.record(message)


@dataclass
class RestServer:
    url: str
    agent: FakeAgent
    http: aiohttp.ClientSession

    async def post(self, body: Any = None, *, raw: Optional[bytes] = None,
                   token: Optional[str] = APP_TOKEN) -> tuple[int, Any]:
        """(status, JSON body) of a POST to the webhook, as integration "app" by default."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(f"{self.url}/webhook", json=None if raw is not None else body,
                                  data=raw, headers=headers) as answer:
            return answer.status, await answer.json(content_type=None)


@pytest_asyncio.fixture
async def rest_server(tmp_path) -> AsyncIterator[Callable]:
    """A factory: `await rest_server(agent=..., **settings_env)` serves the channel on a port."""
    from rasa.core.channels.channel import register
    from sanic import Sanic

    started = []
    Sanic.test_mode = True  # several apps in one process
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def start(agent: Optional[FakeAgent] = None, **env: str) -> RestServer:
        settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_REST_TOKENS": TOKENS,
                                      "RAPPORT_VAR_DIR": str(tmp_path), **env})
        app = Sanic(f"rest_test_{uuid.uuid4().hex[:12]}", configure_logging=False)
        app.ctx.agent = agent = agent or FakeAgent()
        register([HardenedRestInput(settings)], app, route="/webhooks/")  # as Rasa does
        port = free_port()
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                         access_log=False)
        await server.startup()
        await server.before_start()
        await server.after_start()
        started.append(server)
        return RestServer(f"http://127.0.0.1:{port}/webhooks/rest", agent, http)

    yield start
    await http.close()
    for server in started:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


async def test_health(rest_server):
    server = await rest_server()
    async with server.http.get(f"{server.url}/") as answer:
        assert (answer.status, await answer.json()) == (200, {"status": "ok"})


async def test_a_message_reaches_rasa_and_the_answer_comes_back(rest_server):
    server = await rest_server()
    status, body = await server.post({"sender": "ada-1", "message": "where is my order?",
                                      "metadata": {"page": "/orders"}})
    assert (status, body) == (200, [{"recipient_id": "ada-1", "text": "echo: where is my order?"}])
    (message,) = server.agent.received
    assert (message.sender_id, message.text, message.input_channel, message.metadata) == (
        "rest-app-ada-1", "where is my order?", "rest", {"page": "/orders",
                                                         "rapport_client": "app"})


@pytest.mark.parametrize("sender", ["tg-5301", "5301", "wc-0123456789abcdef01234567"])
async def test_a_rest_client_cannot_reach_another_channels_conversation(rest_server, sender):
    """Telegram's conversations are `tg-<chat id>` (before: the bare chat id) and web chat's
    `wc-<hash>`: whatever sender a REST client names, it lands in a REST conversation."""
    server = await rest_server()
    await server.agent.memory.offer("tg-5301", "/affirm")  # a Telegram customer's buttons
    status, body = await server.post({"sender": sender, "message": "/affirm"})
    assert status == 200 and body[0]["recipient_id"] == sender
    (message,) = server.agent.received
    assert (message.sender_id, message.text) == (f"rest-app-{sender}", "affirm")


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", f"Basic {APP_TOKEN}", f"Bearer {APP_TOKEN}x",
    f"Bearer {APP_TOKEN[:-1]}", "Bearer app", f"Bearer app={APP_TOKEN}",
])
async def test_a_client_without_a_valid_token_is_refused(rest_server, authorization):
    server = await rest_server()
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with server.http.post(f"{server.url}/webhook", json={"sender": "ada", "message": "hi"},
                                headers=headers) as answer:
        assert answer.status == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert await answer.json() == {"error": "a valid bearer token is required"}
    assert server.agent.received == []


async def test_without_configured_integrations_every_client_is_refused(rest_server):
    server = await rest_server(RAPPORT_REST_TOKENS="")
    assert (await server.post({"sender": "ada", "message": "hi"}))[0] == 401
    assert server.agent.received == []


async def test_an_integration_reaches_only_its_own_conversations(rest_server):
    server = await rest_server()
    await server.post({"sender": "ada", "message": "buttons"}, token=SHOP_TOKEN)
    status, body = await server.post({"sender": "ada", "message": "/affirm"})  # as "app"
    assert status == 200 and body[0]["recipient_id"] == "ada"
    assert [(m.sender_id, m.text, m.metadata["rapport_client"])
            for m in server.agent.received] == [("rest-shop-ada", "buttons", "shop"),
                                                ("rest-app-ada", "affirm", "app")]


async def test_a_client_cannot_claim_to_be_another_client(rest_server):
    server = await rest_server()
    status, body = await server.post({"sender": "ada", "message": "hi",
                                      "metadata": {"rapport_client": "shop"}})
    assert status == 400 and "rapport_client" in body["error"]


async def test_the_client_cannot_choose_its_input_channel(rest_server):
    """Rasa's own REST channel takes `input_channel` from the body: a client could pass as
    another channel (identities are remembered per channel and sender)."""
    server = await rest_server()
    status, _ = await server.post({"sender": "ada", "message": "hi", "input_channel": "telegram"})
    assert status == 200
    assert [m.input_channel for m in server.agent.received] == ["rest"]


@pytest.mark.parametrize("raw, reason", [
    (b"\xff\xfe{}", "body is not valid UTF-8"),
    (b'{"sender": "ada", "message": "hi"', "body is not valid JSON "
                                          "(Expecting ',' delimiter)"),
    (b"", "body is not valid JSON (Expecting value)"),
    (b'["ada", "hi"]', "body must be a JSON object"),
    (b'"hi"', "body must be a JSON object"),
])
async def test_a_malformed_body_gets_a_json_400(rest_server, raw, reason):
    server = await rest_server()
    assert await server.post(raw=raw) == (400, {"error": reason})
    assert server.agent.received == []


@pytest.mark.parametrize("body, status, reason", [
    ({"message": "hi"}, 400, SENDER_RULE),
    ({"sender": "", "message": "hi"}, 400, SENDER_RULE),
    ({"sender": 42, "message": "hi"}, 400, SENDER_RULE),
    ({"sender": "../admin", "message": "hi"}, 400, SENDER_RULE),
    ({"sender": "ada"}, 400, "message must be a string"),
    ({"sender": "ada", "message": ["hi"]}, 400, "message must be a string"),
    ({"sender": "ada", "message": ""}, 400, "message is empty"),
    ({"sender": "ada", "message": " \n\t\x00 "}, 400, "message is empty"),
    ({"sender": "ada", "message": "x" * 41}, 413, "message is too long (at most 40 characters)"),
    ({"sender": "ada", "message": "hi", "metadata": ["page"]}, 400,
     "metadata must be an object"),
])
async def test_a_message_that_cannot_be_accepted_is_refused_with_the_reason(rest_server, body,
                                                                            status, reason):
    server = await rest_server(RAPPORT_MAX_MESSAGE_CHARS="40")
    assert await server.post(body) == (status, {"error": reason})
    assert server.agent.received == []


async def test_a_message_at_the_limit_is_accepted(rest_server):
    server = await rest_server(RAPPORT_MAX_MESSAGE_CHARS="40")
    status, _ = await server.post({"sender": "ada", "message": "x" * 40})
    assert status == 200
    assert [m.text for m in server.agent.received] == ["x" * 40]


HOSTILE_COMMANDS = [  # (typed, what Rasa gets): each spelling Rasa 3.6 reads as a command
    ("/ EXTERNAL_handoff_callback", "EXTERNAL_handoff_callback"),
    ("/\trestart", "restart"),
    ('/ request_human{"priority": 99}', 'request_human{"priority": 99}'),
    ("\u00a0/restart", "restart"),  # NBSP: str.strip() removes it, so Rasa does too
    ("\u3000/ restart\u00a0", "restart"),
    ("/EXTERNAL_handoff_resolved", "EXTERNAL_handoff_resolved"),
    ("//restart", "restart"),
    ("/affirm@0.99", "affirm@0.99"),
    ("/affirm", "affirm"),  # a button of the bot's, but not one it offered here
    ('/inform{"order_number": "RP-100001"}', 'inform{"order_number": "RP-100001"}'),
]


@pytest.mark.parametrize("sent, seen", HOSTILE_COMMANDS)
async def test_a_command_the_bot_did_not_offer_is_plain_words(rest_server, sent, seen):
    server = await rest_server()
    status, _ = await server.post({"sender": "ada", "message": sent})
    assert status == 200
    assert [m.text for m in server.agent.received] == [seen]


async def test_a_button_the_bot_just_offered_is_a_command(rest_server):
    server = await rest_server()
    await server.post({"sender": "ada", "message": "buttons"})
    await server.post({"sender": "ada", "message": '/inform{"issue_type": "late"}'})
    await server.post({"sender": "ada", "message": "/affirm"})  # offered one turn ago: words
    await server.post({"sender": "ada", "message": "buttons"})
    await server.post({"sender": "eve", "message": "/affirm"})  # offered to ada, not to eve
    await server.post({"sender": "ada", "message": "/affirm"})
    assert [(m.sender_id, m.text) for m in server.agent.received] == [
        ("rest-app-ada", "buttons"), ("rest-app-ada", '/inform{"issue_type": "late"}'),
        ("rest-app-ada", "affirm"), ("rest-app-ada", "buttons"), ("rest-app-eve", "affirm"),
        ("rest-app-ada", "/affirm")]


async def test_internal_intents_never_come_from_a_customer_even_as_a_button(rest_server):
    server = await rest_server()
    await server.agent.memory.offer("rest-app-ada", "/EXTERNAL_handoff_callback", "/restart")
    await server.post({"sender": "ada", "message": "/EXTERNAL_handoff_callback"})
    await server.post({"sender": "ada", "message": "/restart"})
    assert [m.text for m in server.agent.received] == ["EXTERNAL_handoff_callback", "restart"]


async def test_plain_text_is_cleaned(rest_server):
    server = await rest_server()
    await server.post({"sender": "ada", "message": "  hello\x00 there\x07  "})
    assert [m.text for m in server.agent.received] == ["hello there"]


async def test_a_body_over_64_kb_is_refused_with_413(rest_server):
    server = await rest_server(RAPPORT_MAX_MESSAGE_CHARS="100000")
    big = json.dumps({"sender": "ada", "message": "x" * (64 * 1024)}).encode()
    assert await server.post(raw=big) == (413, {"error": "the request is too large (at most "
                                                          "64 KB)"})
    status, _ = await server.post({"sender": "ada", "message": "x" * (60 * 1024)})
    assert status == 200
    assert [len(m.text) for m in server.agent.received] == [60 * 1024]


@pytest.mark.parametrize("metadata, status, reason", [
    ({"telegram_contact_phone": "+31612345678"}, 400,
     "metadata keys not accepted: telegram_contact_phone (allowed: page, locale, timezone, "
     "app_version, reference)"),
    ({"page": {"nested": 1}}, 400, "metadata page must be a string, number or boolean"),
    ({"page": ["a"]}, 400, "metadata page must be a string, number or boolean"),
    ({"page": "p" * 201}, 413, "metadata page is too long (at most 200 characters)"),
])
async def test_metadata_is_allow_listed_and_small(rest_server, metadata, status, reason):
    server = await rest_server()
    assert await server.post({"sender": "ada", "message": "hi", "metadata": metadata}) == (
        status, {"error": reason})
    assert server.agent.received == []


async def test_allowed_metadata_reaches_rasa(rest_server):
    server = await rest_server()
    metadata = {"page": "/orders", "locale": "nl-NL", "timezone": "Europe/Amsterdam",
                "app_version": 3, "reference": None}
    status, _ = await server.post({"sender": "ada", "message": "hi", "metadata": metadata})
    assert status == 200
    assert server.agent.received[0].metadata == {**metadata, "rapport_client": "app"}


async def test_a_failure_in_rasa_is_a_json_503_and_logged(rest_server, caplog):
    server = await rest_server(FakeAgent(fail=True))
    with caplog.at_level(logging.ERROR, logger="channels.rest"):
        status, body = await server.post({"sender": "ada", "message": "hi"})
    assert (status, body) == (503, {"error": "the assistant could not process this message; "
                                              "try again"})
    (record,) = [r for r in caplog.records if r.name == "channels.rest"]
    assert record.getMessage() == "REST message from rest-app-ada failed"
    assert "the model fell over" in str(record.exc_info[1])


def test_the_channel_is_rasas_rest_channel():
    assert HardenedRestInput.name() == "rest"
    assert HardenedRestInput().url_prefix() == "rest"


def test_without_settings_the_channel_reads_the_environment(monkeypatch):
    monkeypatch.setenv("RAPPORT_HOME", str(PROJECT))
    monkeypatch.setenv("RAPPORT_MAX_MESSAGE_CHARS", "77")
    channel = HardenedRestInput()
    assert channel.settings.max_message_chars == 77
    assert channel.settings is channel.settings  # read once


@pytest.mark.parametrize("raw, reason", [
    ("app", "each entry is name=token"),
    ("App=" + APP_TOKEN, "each entry is name=token"),
    ("app=short", "the token of app must have at least 24 characters"),
    (f"app={APP_TOKEN},app={SHOP_TOKEN}", "an integration is named twice"),
])
def test_integration_tokens_are_checked_at_start(raw, reason):
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match=reason):
        Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_REST_TOKENS": raw})


def test_integration_tokens_reach_the_services_and_are_secrets():
    from bot.log_redaction import secrets_of

    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_REST_TOKENS": TOKENS})
    assert settings.rest_tokens == (("app", APP_TOKEN), ("shop", SHOP_TOKEN))
    assert Settings.from_env(settings.child_env()).rest_tokens == settings.rest_tokens
    assert APP_TOKEN not in repr(settings)
    assert {APP_TOKEN, SHOP_TOKEN} <= set(secrets_of(settings))


async def test_a_flooding_sender_gets_a_429_and_others_are_not_slowed(rest_server):
    """Issue 10, finding 9: one sender's burst passes, the rest of the flood is refused with a
    clear 429 before Rasa sees it; another conversation is unaffected."""
    from channels.rate_limit import FLOOD_REPLY

    server = await rest_server(RAPPORT_FLOOD_BURST="3", RAPPORT_FLOOD_PER_MINUTE="1")
    answers = [await server.post({"sender": "flood", "message": f"hi {n}"}) for n in range(6)]
    assert [status for status, _ in answers] == [200, 200, 200, 429, 429, 429]
    assert answers[3][1] == {"error": FLOOD_REPLY}
    assert len(server.agent.received) == 3
    assert (await server.post({"sender": "calm", "message": "hello"}))[0] == 200
    async with server.http.post(f"{server.url}/webhook", json={"sender": "flood", "message": "x"},
                                headers={"Authorization": f"Bearer {APP_TOKEN}"}) as answer:
        assert answer.status == 429 and int(answer.headers["Retry-After"]) >= 1
