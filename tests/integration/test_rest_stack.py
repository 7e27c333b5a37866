"""The real stack (`rapport run`: Rasa, actions, hub as processes, SQLite) over REST.

A multi-turn conversation, a restart that keeps it (tracker store), hostile inputs that never
cause a 500 or a dead server, and Rasa's API closed without a JWT.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.stack import (
    PROJECT, REST_AUTH, Stack, http, rasa_api_headers, rest_conversation, stack_env, texts,
)

pytestmark = pytest.mark.integration


def responses(name: str) -> list[str]:
    """The texts the domain gives response `name` (the bot picks one at random)."""
    domain = yaml.safe_load((PROJECT / "domain.yml").read_text())
    return [variant["text"] for variant in domain["responses"][name]]


@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory):
    db_dir = tmp_path_factory.mktemp("rest-stack")
    with Stack(stack_env(trained_model, db_dir), log_path=db_dir / "rapport-run.log") as stack:
        yield stack


def test_all_three_services_are_up(stack: Stack):
    assert http("GET", f"{stack.rasa_url}/")[0] == 200
    assert http("GET", f"{stack.actions_url}/health")[1] == {"status": "ok"}
    status, body = http("GET", f"{stack.hub_url}/api/status")
    assert status == 200 and all(service["up"] for service in body["services"])


def test_a_conversation_continues_after_a_restart(stack: Stack):
    assert "Ollie" in texts(stack.say("restart-1", "hi"))[0]
    assert "order number" in " ".join(texts(stack.say("restart-1", "where is my order?")))
    assert "e-mail" in " ".join(texts(stack.say("restart-1", "RP-100001")))
    answer = " ".join(texts(stack.say("restart-1", "ada@example.com")))
    assert "Ada" in answer and "RP-100001" in answer and "DPD" in answer

    assert stack.stop() == 0
    assert "stopped rasa" in stack.log()
    stack.start()

    # Still verified (the tracker store kept the slots): no second request for the e-mail.
    answer = " ".join(texts(stack.say("restart-1", "and where is RP-100002?")))
    assert "RP-100002" in answer and "late" in answer
    status, tracker = http("GET", f"{stack.rasa_url}/conversations/{rest_conversation('restart-1')}/tracker",
                           headers=rasa_api_headers())
    assert status == 200
    users = [e for e in tracker["events"] if e["event"] == "user"]
    assert [e["text"] for e in users][:4] == ["hi", "where is my order?", "RP-100001",
                                             "ada@example.com"]
    # Every parsed message carries its sentiment into the tracker.
    assert [e["parse_data"]["sentiment"]["label"] for e in users][:4] == ["neutral"] * 4


def test_rapport_chat_talks_to_the_running_bot(stack: Stack):
    result = subprocess.run(
        [sys.executable, "-m", "bot.ops.cli", "chat", "--sender", "terminal-test"],
        input="hi\nwhat payment methods do you take?\n", capture_output=True, text=True,
        timeout=120, cwd=PROJECT, env={**os.environ, **stack.env},
    )
    assert result.returncode == 0, result.stderr
    said = re.findall(r"bot> (.*)", result.stdout)
    assert len(said) == 2 and said[0] in responses("utter_greet"), said
    assert said[1] == responses("utter_faq/payment_methods")[0]


def test_rasa_api_needs_a_jwt(stack: Stack):
    assert http("GET", f"{stack.rasa_url}/status")[0] == 401
    assert http("GET", f"{stack.rasa_url}/conversations/restart-1/tracker")[0] == 401
    forged = rasa_api_headers("not-the-secret")
    assert http("GET", f"{stack.rasa_url}/status", headers=forged)[0] == 401
    assert http("GET", f"{stack.rasa_url}/status", headers=rasa_api_headers())[0] == 200


def test_a_rest_client_without_its_token_is_refused(stack: Stack):
    body = {"sender": "no-token", "message": "hi"}
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    assert http("POST", url, body)[0] == 401
    wrong = {"Authorization": "Bearer not-the-token-of-any-integration"}
    assert http("POST", url, body, headers=wrong)[0] == 401


@pytest.mark.parametrize("name, body, expected", [
    ("empty message", json.dumps({"sender": "bad-1", "message": ""}).encode(), {400}),
    ("100 KB message", json.dumps({"sender": "bad-1", "message": "a" * 100_000}).encode(), {413}),
    ("invalid JSON", b'{"sender": "bad-1", "message": ', {400}),
    ("invalid UTF-8", b'{"sender": "bad-1", "message": "\xff\xfe"}', {400}),
    ("not an object", b"[1, 2]", {400}),
    ("no sender", json.dumps({"message": "hi"}).encode(), {400}),
    ("emoji only", json.dumps({"sender": "bad-1", "message": "😀🙈🎉"}).encode(), {200}),
])
def test_hostile_input_gets_a_reply_or_a_4xx_never_a_500(stack: Stack, name, body, expected):
    status, reply = http("POST", f"{stack.rasa_url}/webhooks/rest/webhook", raw=body,
                         headers=REST_AUTH)
    assert status in expected, (name, status, reply)
    if status == 200:
        assert len(reply) == 1 and reply[0]["text"] in responses("utter_fallback_rephrase"), reply
    else:
        assert "error" in reply, name
    # ...and the server is alive afterwards.
    greeting = texts(stack.say("bad-alive", "hi"))
    assert len(greeting) == 1 and greeting[0] in responses("utter_greet"), greeting


@pytest.mark.parametrize("typed", [
    "/ EXTERNAL_handoff_callback", "/\trestart", '/ request_human{"priority": 99}',
    "\u00a0/restart", "/EXTERNAL_handoff_resolved", "/affirm",
])
def test_typed_commands_do_not_run_as_intents(stack: Stack, typed):
    """Confirmed on a running stack before the fix: each ran at confidence 1.0."""
    sender = f"typed-{abs(hash(typed))}"
    stack.say(sender, "hi")
    stack.say(sender, typed)
    status, tracker = http("GET", f"{stack.rasa_url}/conversations/{rest_conversation(sender)}"
                           "/tracker", headers=rasa_api_headers())
    assert status == 200
    (latest,) = [e for e in tracker["events"] if e["event"] == "user"][-1:]
    intent = latest["parse_data"]["intent"]
    assert not intent["name"].startswith("EXTERNAL_") and intent["name"] != "restart"
    assert not latest["text"].strip().startswith("/"), (typed, latest["text"], intent)


def test_a_button_the_bot_offered_runs_as_its_intent(stack: Stack):
    sender = "button-press"
    stack.say(sender, "where is my order")
    stack.say(sender, "RP-100002")
    replies = stack.say(sender, "ada@example.com")  # late: the bot offers a complaint
    payloads = [b["payload"] for r in replies for b in r.get("buttons") or []]
    assert "/affirm" in payloads, replies
    stack.say(sender, "/affirm")
    status, tracker = http("GET", f"{stack.rasa_url}/conversations/{rest_conversation(sender)}"
                           "/tracker", headers=rasa_api_headers())
    latest = [e for e in tracker["events"] if e["event"] == "user"][-1]
    assert (latest["text"], latest["parse_data"]["intent"]) == (
        "/affirm", {"name": "affirm", "confidence": 1.0})
