"""A hung or absent action server: Rasa's own RemoteAction, bounded and answered honestly."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.ops import action_guard
from tests.support import PROJECT

DOMAIN = Domain.load(str(PROJECT / "domain.yml"))
TIMEOUT_S = 1.0


@pytest.fixture(autouse=True)
def guarded():
    original = RemoteAction.run
    action_guard.install(TIMEOUT_S)
    action_guard.install(TIMEOUT_S)  # twice: still one wrapper
    yield
    RemoteAction.run = original


@pytest.fixture
async def action_server(aiohttp_server):
    """An action server that answers, hangs or fails, as the test says."""
    behaviour = {"mode": "answer"}

    async def webhook(request: web.Request) -> web.Response:
        if behaviour["mode"] == "hang":
            await asyncio.sleep(60)
        if behaviour["mode"] == "fail":
            return web.json_response({"error": "boom"}, status=500)
        if behaviour["mode"] == "reject":
            return web.json_response({"action_name": "validate_verify_form",
                                      "error": "not this slot"}, status=400)
        return web.json_response({"events": [], "responses": [{"text": "Your order is on its way."}]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = await aiohttp_server(app)
    return behaviour, f"http://127.0.0.1:{server.port}/webhook"


async def run_action(url: str) -> tuple[list, float]:
    action = RemoteAction("action_check_order_status", EndpointConfig(url))
    tracker = DialogueStateTracker.from_events("tg-42", [], slots=DOMAIN.slots)
    started = time.monotonic()
    events = await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(
        DOMAIN.responses), tracker, DOMAIN)
    return events, time.monotonic() - started


def apology_of(events: list) -> BotUttered:
    assert len(events) == 1 and isinstance(events[0], BotUttered), events
    return events[0]


async def test_a_hung_action_server_gets_an_apology_within_the_bound(action_server, caplog):
    behaviour, url = action_server
    behaviour["mode"] = "hang"
    events, took = await run_action(url)
    assert took < TIMEOUT_S + 2  # not Rasa's 300 s
    apology = apology_of(events)
    assert "something went wrong on my side" in apology.text and "person" in apology.text
    assert apology.metadata["utter_action"] == "utter_service_trouble"
    assert apology.metadata["rapport_trouble"] == "timed out"
    assert "action_check_order_status timed out for conversation tg-42" in caplog.text


@pytest.mark.parametrize("mode", ["fail", "down"])
async def test_a_failing_or_absent_action_server_gets_an_apology(action_server, mode,
                                                                 unused_tcp_port):
    behaviour, url = action_server
    behaviour["mode"] = mode
    if mode == "down":
        url = f"http://127.0.0.1:{unused_tcp_port}/webhook"
    apology = apology_of((await run_action(url))[0])
    assert apology.metadata["rapport_trouble"] == "RasaException"


async def test_it_works_again_as_soon_as_the_server_answers(action_server):
    behaviour, url = action_server
    behaviour["mode"] = "hang"
    await run_action(url)
    behaviour["mode"] = "answer"
    events, _ = await run_action(url)
    assert [event.text for event in events] == ["Your order is on its way."]


async def test_a_rejection_is_rasas_normal_flow_and_passes_through(action_server):
    behaviour, url = action_server
    behaviour["mode"] = "reject"
    with pytest.raises(ActionExecutionRejection):
        await run_action(url)


def test_a_bound_of_zero_is_refused():
    with pytest.raises(ValueError, match="RAPPORT_ACTION_TIMEOUT_S"):
        action_guard.install(0)


async def test_one_apology_per_customer_message_however_many_actions_fail(unused_tcp_port):
    """A form validates and then asks, two remote actions in one turn: both fail, one apology;
    the customer's next message may get one again."""
    url = f"http://127.0.0.1:{unused_tcp_port}/webhook"
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    tracker = DialogueStateTracker.from_events(
        "tg-43", [UserUttered("where is my order RP-100001")], slots=DOMAIN.slots)
    said = []
    for name in ("validate_verify_form", "action_ask_order_contact"):
        events = await RemoteAction(name, EndpointConfig(url)).run(
            CollectingOutputChannel(), nlg, tracker, DOMAIN)
        said += events
        for event in events:
            tracker.update(event)
    assert len(said) == 1 and isinstance(said[0], BotUttered)

    tracker.update(UserUttered("hello?"))
    again = await RemoteAction("action_check_order_status", EndpointConfig(url)).run(
        CollectingOutputChannel(), nlg, tracker, DOMAIN)
    assert apology_of(again).metadata["rapport_trouble"] == "RasaException"
